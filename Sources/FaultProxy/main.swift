// The `faultproxy` command: a TCP proxy that delays, throttles, cuts or corrupts the traffic it forwards.
import Foundation
import Synchronization
import Cluster
#if canImport(Glibc)
import Glibc
#endif

let log = Log("faultproxy")
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(ProxySettings.usage)
    exit(0)
}
let settings: ProxySettings
do {
    settings = try ProxySettings(arguments: arguments)
} catch {
    log("\(error)")
    exit(2)
}
signal(SIGPIPE, SIG_IGN)
// SIGINT and SIGTERM are taken by sigwait below, never delivered asynchronously.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
sigaddset(&stopSignals, SIGINT)
sigaddset(&stopSignals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

let listener: Int32
let port: UInt16
do {
    (listener, port) = try ProxySocket.listen(host: settings.listenHost, port: settings.listenPort)
} catch {
    log("\(error)")
    exit(1)
}
log("listening on \(settings.listenHost):\(port), forwarding to \(settings.targetHost):\(settings.targetPort)")
if let portFile = settings.portFile {
    do { try "\(port)\n".write(toFile: portFile, atomically: true, encoding: .utf8) } catch {
        log("cannot write --port-file \(portFile): \(error)")
        exit(1)
    }
}

/// The open connections, so shutdown can end them all.
let open = Mutex<[Int: ProxyConnection]>([:])
let stopping = Atomic<Bool>(false)

let acceptThread = Thread {
    var random = FaultRandom(seed: settings.seed)
    var number = 0
    while !stopping.load(ordering: .relaxed) {
        let client = accept(listener, nil, nil)
        if client < 0 {
            if errno == EINTR || errno == ECONNABORTED { continue }
            if stopping.load(ordering: .relaxed) { return }
            log("accept: \(String(cString: strerror(errno)))")
            usleep(100_000)
            continue
        }
        number += 1
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        ProxySocket.noDelay(client)
        let target: Int32
        do { target = try ProxySocket.connect(host: settings.targetHost, port: settings.targetPort) } catch {
            log("connection \(number): \(error); closing the client")
            close(client)
            continue
        }
        var plan = FaultPlan()
        if settings.faultyConnections.map({ number <= $0 }) ?? true {
            plan = settings.random ? random.plan() : settings.plan
        }
        let connection = ProxyConnection(number: number, client: client, target: target, plan: plan) { ended in
            _ = open.withLock { $0.removeValue(forKey: ended.number) }
        }
        open.withLock { $0[number] = connection }
        connection.log("accepted, \(plan)")
        connection.start()
    }
}
acceptThread.start()

var received: Int32 = 0
sigwait(&stopSignals, &received)
stopping.store(true, ordering: .relaxed)
log("signal \(received), stopping")
_ = shutdown(listener, Int32(SHUT_RDWR))
close(listener)
let remaining = open.withLock { Array($0.values) }
for connection in remaining { connection.cut() }
// Give the pump threads a moment to close their descriptors and log.
let deadline = Date().addingTimeInterval(2)
while Date() < deadline && open.withLock({ !$0.isEmpty }) { usleep(10_000) }
exit(0)
