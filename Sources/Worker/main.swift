// The `worker` command: hosts one pipeline stage of the transformer for a coordinator.
import Foundation
import Model
import Wire

// Same OpenBLAS kernels as the coordinator and every other worker: same bytes (may re-execute once).
BLASRuntime.pinKernels()
signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.contains("--help") || arguments.contains("-h") {
    print(WorkerSettings.usage)
    exit(arguments.isEmpty ? 2 : 0)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("worker: \(message)\n".utf8))
    exit(1)
}

let settings: WorkerSettings
let token: ClusterToken
let root: ModelRoot
do {
    settings = try WorkerSettings(arguments: arguments)
    token = try ClusterToken.load(from: settings.tokenFile)
    root = try ModelRoot(settings.modelRoot)
} catch {
    FileHandle.standardError.write(Data("worker: \(error)\n".utf8))
    exit(2)
}
if let threads = settings.threads { Compute.setThreadCount(threads) }

var serverOptions = ServerOptions(connection: ConnectionOptions(role: .worker, name: settings.name, token: token))
serverOptions.allowedRoles = [.coordinator, .worker]
serverOptions.connection.maxPayloadBytes = 1 << 30
serverOptions.onEvent = { message in FileHandle.standardError.write(Data("worker \(settings.name): \(message)\n".utf8)) }
var peerOptions = ConnectionOptions(role: .worker, name: settings.name, token: token)
peerOptions.maxPayloadBytes = 1 << 30
let server: WireServer
do {
    server = try WireServer.listen(on: settings.listen, options: serverOptions)
} catch {
    fail("cannot listen on \(settings.listen): \(error)")
}
let host = StageHost(settings: settings, root: root, peerOptions: peerOptions)
host.log("listening on \(server.address), model root \(root.path), budget \(settings.memoryBytes) bytes, \(Compute.threadCount) threads")
for await connection in server.connections {
    Task { await host.serve(connection) }
}
