// The `worker` command: hosts one pipeline stage of the transformer for a coordinator.
import Foundation
import Model
import Wire
import Cluster

// Same OpenBLAS kernels as the coordinator and every other worker: same bytes (may re-execute once).
BLASRuntime.pinKernels()
signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.contains("--help") || arguments.contains("-h") {
    print(WorkerSettings.usage)
    exit(arguments.isEmpty ? 2 : 0)
}

let log = Log("worker")

func fail(_ message: String) -> Never {
    log(message)
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
    log("\(error)")
    exit(2)
}
if let threads = settings.threads { Compute.setThreadCount(threads) }

var serverOptions = ServerOptions(connection: ConnectionOptions(role: .worker, name: settings.name, token: token))
serverOptions.allowedRoles = [.coordinator, .worker]
serverOptions.connection.maxPayloadBytes = ClusterConstants.maxClusterPayloadBytes
serverOptions.onEvent = { [log = Log("worker \(settings.name)")] message in log(message) }
var peerOptions = ConnectionOptions(role: .worker, name: settings.name, token: token)
peerOptions.maxPayloadBytes = ClusterConstants.maxClusterPayloadBytes
let server: WireServer
do {
    server = try WireServer.listen(on: settings.listen, options: serverOptions)
} catch {
    fail("cannot listen on \(settings.listen): \(error)")
}
// Listening first: a peer that connects during the probe waits in the queue instead of being refused.
let probe = SpeedProbe.current
let host = StageHost(settings: settings, root: root, peerOptions: peerOptions)
host.log("listening on \(server.address), model root \(root.path), budget \(settings.memoryBytes) bytes, \(Compute.threadCount) threads, "
    + String(format: "speed %.1f GFLOP/s (%.1f wall) measured in %.0f ms", probe.gigaflops, probe.wallGigaflops, 1000 * probe.seconds))
if !FaultHooks.dropForwards.isEmpty {
    host.log("fault injection: will drop received micro-batches \(FaultHooks.dropForwards.sorted()) (SORA_FAULT_DROP_FORWARDS)")
}
for await connection in server.connections {
    Task { await host.serve(connection) }
}
