// bench-wire: throughput of tensor messages over our protocol against a raw TCP send of the same bytes,
// between two processes on loopback, plus small-message round-trip time. Run by scripts/bench-wire.sh.
//
//   bench-wire [--congestion NAME]            the tables, one message at a time and streamed (every socket of
//                                             both processes uses NAME, e.g. reno, instead of the system's
//                                             default TCP congestion control)
//   bench-wire --profile MIB COUNT [--raw] [--no-checksums] [--congestion NAME]
//                                             diagnostics: COUNT requests of one size (wire or raw), one at a
//                                             time, and the distribution of their times (for perf and tracing)
//   bench-wire --crc                          CRC-32C speed over 256 KiB, 1 MiB and 256 MiB
//   bench-wire --mac                          CRC-32C, HMAC-SHA256, Poly1305, ChaCha20 and ChaCha20-Poly1305
//                                             seal speed over 1, 16 and 256 MiB (one thread, except CRC-32C)
//   --receiver-cpu N                          with any of the above: run the receiver process on CPU N only
//                                             (scripts/bench-wire.sh --cpus A,B pins the sender with taskset)
import Cluster
import Foundation
import Wire
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Receiver process

/// The child process: a raw TCP sink and a Wire server, both on 127.0.0.1; prints both ports.
func runReceiver() async throws {
    guard let tokenHex = ProcessInfo.processInfo.environment["BENCH_WIRE_TOKEN"] else {
        fatalError("bench-wire --receive needs BENCH_WIRE_TOKEN")
    }
    var options = ServerOptions(connection: ConnectionOptions(role: .worker, name: "bench-receiver",
                                                              token: ClusterToken(bytes: decodeHex(tokenHex))))
    options.connection.maxPayloadBytes = 600 << 20
    options.connection.socket.congestionControl = congestionControl
    let server = try WireServer.listen(on: "127.0.0.1:0", options: options)
    let rawPort = try startRawSink()
    FileHandle.standardOutput.write(Data("ports \(rawPort) \(server.address.port)\n".utf8))
    for await connection in server.connections {
        Task.detached {
            for await request in connection.incoming {
                if request.requestID != 0 { try? await connection.reply(to: request, with: .ok) }
            }
        }
    }
}

/// Raw sink: for each message reads an 8-byte length then that many bytes into a reused buffer and answers
/// with one byte; a length of 0 is a ping answered at once.
func startRawSink() throws -> UInt16 {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(listener, $0, length) } }
    listen(listener, 4)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(listener, $0, &length) }
    }
    let port = UInt16(bigEndian: address.sin_port)
    Thread.detachNewThread {
        let connection = accept(listener, nil, nil)
        tune(connection)
        var buffer = [UInt8](repeating: 0, count: 300 << 20)
        var header: UInt64 = 0
        while true {
            guard readFully(connection, &header, 8) else { return }
            let count = Int(header)
            let ok = buffer.withUnsafeMutableBytes { readFully(connection, $0.baseAddress!, count) }
            guard ok else { return }
            var ack: UInt8 = 1
            _ = send(connection, &ack, 1, Int32(MSG_NOSIGNAL))
        }
    }
    return port
}

func tune(_ descriptor: Int32) {
    var one: Int32 = 1
    setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
    var size: Int32 = 4 << 20
    setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, 4)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, 4)
    if let name = congestionControl {
        let status = name.withCString {
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_CONGESTION, $0, socklen_t(strlen($0)))
        }
        precondition(status == 0, "TCP congestion control \(name) refused: errno \(errno)")
    }
}

func readFully(_ descriptor: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
    var done = 0
    while done < count {
        let received = recv(descriptor, pointer + done, min(count - done, 1 << 20), 0)
        if received <= 0 { return false }
        done += received
    }
    return true
}

func writeFully(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) {
    var done = 0
    while done < count {
        let sent = send(descriptor, pointer + done, count - done, Int32(MSG_NOSIGNAL))
        precondition(sent > 0, "raw send failed: errno \(errno)")
        done += sent
    }
}

func decodeHex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

// MARK: - Sender process

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}

/// The receiver process and the ports of its raw sink and Wire server.
struct Receiver {
    let process: Process
    let rawPort: UInt16
    let wirePort: UInt16
    let token: ClusterToken
}

/// Starts this program again as the receiver (`--receive`), with the same congestion control.
func startReceiver() throws -> Receiver {
    let token = ClusterToken.random()
    let child = Process()
    let program = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let arguments = ["--receive"] + (congestionControl.map { ["--congestion", $0] } ?? [])
    if let cpu = receiverCPU {
        // A child inherits its parent's CPU set; taskset gives the receiver its own.
        child.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        child.arguments = ["-c", cpu, program.path] + arguments
    } else {
        child.executableURL = program
        child.arguments = arguments
    }
    // The parent's environment too, so both processes use the same CRC-32C implementation (WIRE_CRC32C_*).
    var environment = ProcessInfo.processInfo.environment
    environment["BENCH_WIRE_TOKEN"] = token.hex
    child.environment = environment
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    var line = ""
    while !line.hasSuffix("\n") {
        let byte = output.fileHandleForReading.readData(ofLength: 1)
        guard !byte.isEmpty else { fatalError("receiver exited early") }
        line += String(decoding: byte, as: UTF8.self)
    }
    let ports = line.split(separator: " ").dropFirst().map { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
    return Receiver(process: child, rawPort: ports[0], wirePort: ports[1], token: token)
}

/// A raw TCP connection to the receiver's sink.
func connectRaw(port: UInt16) -> Int32 {
    let raw = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(raw, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(connected == 0, "raw connect failed")
    tune(raw)
    return raw
}

/// Wire connection options for the sender.
func senderOptions(_ receiver: Receiver, checksums: Bool) -> ConnectionOptions {
    var options = ConnectionOptions(role: .coordinator, name: "bench-sender", token: receiver.token)
    options.maxPayloadBytes = 600 << 20
    options.payloadChecksums = checksums
    options.socket.congestionControl = congestionControl
    return options
}

/// Messages in flight in the streamed rows.
let streamWindow = 8

/// One raw message: an 8-byte length, the bytes, then wait for the 1-byte answer.
func sendRaw(_ raw: Int32, _ bytes: ArraySlice<UInt8>) {
    sendRaw(raw, bytes, count: 1, window: 1)
}

/// `count` raw messages, at most `window` of them unanswered: before sending a message beyond the window, the
/// oldest answer is read (the sink answers each message with one byte once it has read it all).
func sendRaw(_ raw: Int32, _ bytes: ArraySlice<UInt8>, count: Int, window: Int) {
    var unanswered = 0
    var ack: UInt8 = 0
    for _ in 0..<count {
        if unanswered == window {
            _ = readFully(raw, &ack, 1)
            unanswered -= 1
        }
        var header = UInt64(bytes.count)
        writeFully(raw, &header, 8)
        bytes.withUnsafeBytes { writeFully(raw, $0.baseAddress!, $0.count) }
        unanswered += 1
    }
    for _ in 0..<unanswered { _ = readFully(raw, &ack, 1) }
}

/// `count` requests on one connection, at most `window` of them awaiting their reply.
func sendWire(_ connection: WireConnection, _ message: Message, count: Int, window: Int) async throws {
    if window == 1 {
        for _ in 0..<count { _ = try await connection.request(message) }
        return
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        var sent = 0
        while sent < min(window, count) {
            group.addTask { _ = try await connection.request(message) }
            sent += 1
        }
        while try await group.next() != nil {
            if sent < count {
                group.addTask { _ = try await connection.request(message) }
                sent += 1
            }
        }
    }
}

/// A `forward` carrying one float32 tensor of `bytes` bytes of random values.
func forwardMessage(bytes: Int) throws -> (Message, WireTensor) {
    var generator = SystemRandomNumberGenerator()
    let values = (0..<(bytes / 4)).map { _ in Float(bitPattern: UInt32.random(in: 0...0x3F00_0000, using: &generator)) }
    let tensor = try WireTensor(float32: values, shape: [bytes / 4])
    let message = Message.forward(Forward(key: MicroBatchKey(jobID: "bench", step: 0, window: 0, branch: 0),
                                          tensors: [NamedTensor(name: "hidden_states", tensor: tensor)]))
    return (message, tensor)
}

func runSender() async throws {
    let receiver = try startReceiver()
    defer { receiver.process.terminate() }
    let raw = connectRaw(port: receiver.rawPort)
    let wireAddress = "127.0.0.1:\(receiver.wirePort)"
    let connection = try await WireConnection.connect(to: wireAddress,
                                                      options: senderOptions(receiver, checksums: true))
    let unchecked = try await WireConnection.connect(to: wireAddress,
                                                     options: senderOptions(receiver, checksums: false))

    print("TCP congestion control: \(congestionControl ?? "system default (\(systemCongestionControl()))")")
    print("CRC-32C implementation: \(CRC32C.implementation.rawValue)")
    print("CPUs: sender \(allowedCPUs()), receiver \(receiverCPU ?? "not pinned (system scheduler)")")
    print("Throughput: best of 7 interleaved rounds, each round sending the message count shown, each message")
    print("acknowledged (raw: 1 byte; wire: an ok reply). One at a time: each message waits for the previous one's")
    print("answer. Streamed: up to \(streamWindow) messages in flight, the next sent as each answer arrives.")
    for window in [1, streamWindow] {
        print("")
        print(window == 1 ? "One at a time:" : "Streamed, up to \(window) in flight:")
        print("")
        print("| message | raw socket | wire (checksums on) | wire / raw | wire, checksums off | off / raw |")
        print("|---|---|---|---|---|---|")
        for (mebibytes, count) in [(1, 200), (16, 24), (256, 3)] {
            let bytes = mebibytes << 20
            let (message, tensor) = try forwardMessage(bytes: bytes)
            var rawRates: [Double] = []
            var wireRates: [Double] = []
            var uncheckedRates: [Double] = []
            for _ in 0..<7 {
                // Raw: the same bytes, with an 8-byte length in front, acknowledged by one byte.
                var start = now()
                sendRaw(raw, tensor.bytes, count: count, window: window)
                rawRates.append(Double(bytes * count) / (now() - start) / 1e9)
                start = now()
                try await sendWire(connection, message, count: count, window: window)
                wireRates.append(Double(bytes * count) / (now() - start) / 1e9)
                start = now()
                try await sendWire(unchecked, message, count: count, window: window)
                uncheckedRates.append(Double(bytes * count) / (now() - start) / 1e9)
            }
            // Best of 7 interleaved rounds: other processes on the machine can only slow a round down.
            let rawRate = rawRates.max()!
            let wireRate = wireRates.max()!
            let uncheckedRate = uncheckedRates.max()!
            print(String(format: "| %d MiB x %d | %.2f GB/s | %.2f GB/s | %.0f%% | %.2f GB/s | %.0f%% |", mebibytes,
                         count, rawRate, wireRate, 100 * wireRate / rawRate, uncheckedRate,
                         100 * uncheckedRate / rawRate))
        }
    }

    // Small-message round trips.
    var rawTimes: [Double] = []
    var wireTimes: [Double] = []
    for _ in 0..<3000 {
        var start = now()
        var ping: UInt64 = 0
        writeFully(raw, &ping, 8)
        var ack: UInt8 = 0
        _ = readFully(raw, &ack, 1)
        rawTimes.append(now() - start)
        start = now()
        _ = try await connection.request(.statsRequest)
        wireTimes.append(now() - start)
    }
    print("")
    print("| round trip (3000) | median | p99 |")
    print("|---|---|---|")
    print(String(format: "| raw 8-byte ping / 1-byte ack | %.1f us | %.1f us |", median(rawTimes) * 1e6,
                 percentile(rawTimes, 0.99) * 1e6))
    print(String(format: "| wire statsRequest -> ok | %.1f us | %.1f us |", median(wireTimes) * 1e6,
                 percentile(wireTimes, 0.99) * 1e6))
    await connection.close()
    await unchecked.close()
}

// MARK: - Diagnostics (not part of the tables)

/// `--profile MIB COUNT [--raw] [--no-checksums]`: COUNT requests of one size, one at a time; prints the
/// deciles and mean of their times. MIB 0 sends `statsRequest` (or, raw, an 8-byte ping).
func runProfile(_ options: CommandLineOptions) async throws {
    let numbers = try options.positional.map { text in
        guard let number = Int(text), number >= 0, number <= 1 << 20 else {
            throw CommandLineError("--profile takes MIB COUNT as integers, got '\(text)'")
        }
        return number
    }
    let mebibytes = numbers.count > 0 ? numbers[0] : 1
    let count = max(10, numbers.count > 1 ? numbers[1] : 2000)
    let checksums = !options.flag("--no-checksums")
    let isRaw = options.flag("--raw")
    let receiver = try startReceiver()
    defer { receiver.process.terminate() }
    let (message, tensor) = mebibytes == 0 ? (Message.statsRequest, nil) : try forwardMessage(bytes: mebibytes << 20)
    var times: [Double] = []
    if isRaw {
        let raw = connectRaw(port: receiver.rawPort)
        let bytes = tensor?.bytes ?? []
        for _ in 0..<count {
            let start = now()
            sendRaw(raw, bytes)
            times.append(now() - start)
        }
    } else {
        let connection = try await WireConnection.connect(to: "127.0.0.1:\(receiver.wirePort)",
                                                          options: senderOptions(receiver, checksums: checksums))
        for _ in 0..<count {
            let start = now()
            _ = try await connection.request(message)
            times.append(now() - start)
        }
        await connection.close()
    }
    let sorted = times.sorted()
    print(String(format: "%@ %d MiB x %d%@: deciles (us)", isRaw ? "raw" : "wire", mebibytes, count,
                 isRaw ? "" : checksums ? ", checksums on" : ", checksums off"),
          (0..<10).map { String(format: "%.0f", sorted[$0 * count / 10] * 1e6) }.joined(separator: " "),
          String(format: "| mean %.1f us", times.reduce(0, +) / Double(count) * 1e6))
}

/// `--crc`: CRC-32C speed over 256 KiB and 1 MiB (from cache) and 256 MiB (from memory, split over cores).
func runCRCSpeed() {
    print("CRC-32C implementation: \(CRC32C.implementation.rawValue)")
    for bytes in [256 << 10, 1 << 20, 256 << 20] {
        let data = [UInt8](repeating: 7, count: bytes)
        var best = Double.infinity
        var sink: UInt32 = 0
        for _ in 0..<(bytes >= 64 << 20 ? 5 : 200) {
            let start = now()
            sink ^= CRC32C.checksum(bytes: data)
            best = min(best, now() - start)
        }
        print(String(format: "%7d KiB: %5.1f GB/s (%.1f us) [%08x]", bytes >> 10, Double(bytes) / best / 1e9,
                     best * 1e6, sink))
    }
}

/// `--mac`: throughput of the integrity and encryption primitives over 1 MiB and 16 MiB (from cache or L3)
/// and 256 MiB (from memory), best of several runs, as a Markdown table.
func runMACSpeed() throws {
    print("CPU: \(cpuModel()); CRC-32C implementation: \(CRC32C.implementation.rawValue);"
          + " ChaCha20 and Poly1305: \(ChaCha20.usesVectorKernel ? "AVX2 kernels" : "portable code");"
          + " SHA-256: \(SHA256.hasSHAExtensions ? "SHA extensions" : "portable code")")
    let sizes = [1 << 20, 16 << 20, 256 << 20]
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.last!, alignment: 64)
    defer { buffer.deallocate() }
    for index in 0..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: index &* 131 &+ 7) }
    let key = [UInt8](repeating: 0x42, count: 32)
    let nonce = [UInt8](repeating: 0, count: 12)
    let aead = try ChaCha20Poly1305(key: key)
    let arrays = Dictionary(uniqueKeysWithValues: sizes.map { ($0, [UInt8](buffer[0..<$0])) })
    let primitives: [(String, (UnsafeMutableRawBufferPointer) throws -> UInt8)] = [
        ("CRC-32C (parallel over cores from 16 MiB)",
         { UInt8(truncatingIfNeeded: CRC32C.checksum(UnsafeRawBufferPointer($0))) }),
        // HMACSHA256 takes an array: one made per size before the clock starts, so the copy is not timed.
        ("HMAC-SHA256 (\(SHA256.hasSHAExtensions ? "SHA extensions" : "portable SHA-256"))",
         { HMACSHA256.authenticationCode(for: arrays[$0.count]!, key: key)[0] }),
        ("Poly1305 (one-time key)", { piece in
            var mac = try Poly1305(key: key)
            mac.update(UnsafeRawBufferPointer(piece))
            return mac.finalize()[0]
        }),
        ("ChaCha20 (XOR in place)", { piece in
            var cipher = try ChaCha20(key: key, nonce: nonce, counter: 1)
            try cipher.apply(to: piece)
            return piece[0]
        }),
        ("ChaCha20-Poly1305 seal (in place)",
         { try aead.seal(inPlace: $0, nonce: nonce, authenticating: UnsafeRawBufferPointer(start: nil, count: 0))[0] }),
    ]
    print("Best of up to 20 runs; in parentheses the rate over this thread's CPU time, which a busy machine")
    print("disturbs less (time the thread waited for a core is not counted).")
    print("")
    print("| primitive | 1 MiB | 16 MiB | 256 MiB |")
    print("|---|---|---|---|")
    var sink: UInt8 = 0
    for (name, run) in primitives {
        var cells: [String] = []
        for bytes in sizes {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes])
            var best = Double.infinity
            var bestOnCPU = Double.infinity
            var runs = 0
            let started = now()
            // Best of up to 20 runs, at least 2, stopping after about 2 seconds.
            while runs < 2 || (runs < 20 && now() - started < 2) {
                let start = now()
                let startOnCPU = threadCPUSeconds()
                sink ^= try run(piece)
                bestOnCPU = min(bestOnCPU, threadCPUSeconds() - startOnCPU)
                best = min(best, now() - start)
                runs += 1
            }
            // The CRC runs on several threads from 16 MiB: only its wall-clock rate means anything.
            let onCPU = name.hasPrefix("CRC") ? "" : String(format: " (%.2f)", Double(bytes) / bestOnCPU / 1e9)
            cells.append(String(format: "%.2f GB/s", Double(bytes) / best / 1e9) + onCPU)
        }
        print("| \(name) | \(cells.joined(separator: " | ")) |")
    }
    print("(checksum of outputs, so none is optimised away: \(sink))")
}

/// CPU time this thread has used, in seconds.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The processor's model name from /proc/cpuinfo.
func cpuModel() -> String {
    let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line.map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

/// The system's default TCP congestion control (for the table's heading).
func systemCongestionControl() -> String {
    (try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_congestion_control", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
}

/// The command line, read once by the shared parser (the header comment of this file is its help).
let benchOptions: CommandLineOptions = {
    let specs: [OptionSpec] = [
        .flag("--receive", "internal: the receiving process"), .flag("--profile", "diagnostics"),
        .flag("--raw", "profile the raw socket"), .flag("--no-checksums", "profile without checksums"),
        .flag("--crc", "CRC-32C speed"), .flag("--mac", "MAC and cipher speed"),
        .value("--congestion", "NAME", "TCP congestion control"), .value("--receiver-cpu", "N", "receiver's CPU"),
    ]
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.contains("--help") || arguments.contains("-h") {
        print("usage: see the comment at the top of Sources/WireBench/main.swift, or scripts/bench-wire.sh")
        exit(0)
    }
    do {
        let options = try CommandLineOptions(arguments, specs: specs, maxPositional: 2)
        if !options.positional.isEmpty && !options.flag("--profile") {
            throw CommandLineError("unexpected argument '\(options.positional[0])'; see --help")
        }
        _ = try options.int("--receiver-cpu", in: 0...4095)
        return options
    } catch {
        FileHandle.standardError.write(Data("bench-wire: \(error)\n".utf8))
        exit(2)
    }
}()

/// `--congestion NAME`: every socket of the run (raw and wire, both processes) uses this algorithm.
let congestionControl: String? = benchOptions.string("--congestion")

/// `--receiver-cpu N`: the receiver process runs on CPU N only.
let receiverCPU: String? = benchOptions.string("--receiver-cpu")

/// The CPUs this process may run on, as /proc/self/status lists them.
func allowedCPUs() -> String {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
    return line.map { $0.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

if benchOptions.flag("--receive") {
    try await runReceiver()
} else if benchOptions.flag("--profile") {
    try await runProfile(benchOptions)
} else if benchOptions.flag("--crc") {
    runCRCSpeed()
} else if benchOptions.flag("--mac") {
    try runMACSpeed()
} else {
    try await runSender()
}
