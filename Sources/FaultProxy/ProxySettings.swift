// The `faultproxy` command line: where to listen, where to forward, and which faults to inject.
import Cluster


/// Which direction of a proxied connection a fault applies to.
enum FaultDirection: String, Sendable {
    /// Client to target ("upstream").
    case up
    /// Target to client ("downstream").
    case down
    /// Both directions, each counted separately.
    case both

    func includes(upstream: Bool) -> Bool {
        switch self {
        case .up: return upstream
        case .down: return !upstream
        case .both: return true
        }
    }
}

/// The faults applied to one proxied connection (each direction counts its own bytes).
struct FaultPlan: Sendable, CustomStringConvertible {
    /// Extra latency added before each chunk is forwarded.
    var delayMilliseconds = 0
    /// Forwarding rate cap, 0 = unlimited.
    var throttleBytesPerSecond = 0
    /// Both directions are cut (shut down) once this many bytes went through a faulted direction.
    var cutAfterBytes: Int?
    /// The byte at this offset of a faulted direction's stream is flipped (xor 0xFF), once.
    var corruptAfterBytes: Int?
    /// The directions the faults apply to.
    var direction = FaultDirection.both

    var isClean: Bool {
        delayMilliseconds == 0 && throttleBytesPerSecond == 0 && cutAfterBytes == nil && corruptAfterBytes == nil
    }

    var description: String {
        var parts: [String] = []
        if delayMilliseconds > 0 { parts.append("delay \(delayMilliseconds) ms") }
        if throttleBytesPerSecond > 0 { parts.append("throttle \(throttleBytesPerSecond) B/s") }
        if let cut = cutAfterBytes { parts.append("cut after \(cut) B") }
        if let corrupt = corruptAfterBytes { parts.append("corrupt byte \(corrupt)") }
        return parts.isEmpty ? "no faults" : parts.joined(separator: ", ") + " (\(direction.rawValue))"
    }
}

/// Everything `faultproxy` was told.
struct ProxySettings: Sendable {
    var listenHost = "127.0.0.1"
    var listenPort: UInt16 = 0
    var targetHost = ""
    var targetPort: UInt16 = 0
    var plan = FaultPlan()
    /// Only the first N accepted connections get faults; later ones are forwarded cleanly. nil = all.
    var faultyConnections: Int?
    /// Random mode: every faulty connection draws its own fault from a generator seeded with `seed`.
    var random = false
    var seed: UInt64 = 1
    /// A file to write the bound port into once listening (for scripts using port 0).
    var portFile: String?

    static let usage = """
        usage: faultproxy --listen HOST:PORT --target HOST:PORT [fault options]

        A TCP proxy that forwards every connection accepted on --listen to --target, injecting faults.

        options:
          --listen HOST:PORT                  where to accept connections (IPv4; port 0 = any free port)
          --target HOST:PORT                  where to forward them (IPv4 address or host name)
          --delay-ms N                        wait N ms before forwarding each chunk
          --throttle-bytes-per-second N       forward at most N bytes per second per direction
          --cut-after-bytes N                 close the connection once N bytes went through a faulted direction
          --corrupt-after-bytes N             flip (xor 0xFF) the byte at offset N of a faulted direction, once
          --direction up|down|both            faulted directions: up = client to target (default both)
          --faulty-connections N              only the first N connections get faults (default: all)
          --random                            each faulty connection draws one random fault (seeded)
          --seed S                            seed for --random (default 1)
          --port-file FILE                    write the listening port to FILE once ready
          --help                              this text

        Prints one line per connection and per injected fault on standard error. SIGINT or SIGTERM stops it:
        the listener and every connection are closed and it exits 0.
        """

    /// The options `usage` describes.
    static let specs: [OptionSpec] = [
        .value("--listen", "HOST:PORT", "where to accept connections"), .value("--target", "HOST:PORT", "where to forward"),
        .value("--delay-ms", "N", "delay"), .value("--throttle-bytes-per-second", "N", "rate cap"),
        .value("--cut-after-bytes", "N", "cut"), .value("--corrupt-after-bytes", "N", "corrupt"),
        .value("--direction", "up|down|both", "faulted directions"), .value("--faulty-connections", "N", "faulty count"),
        .flag("--random", "random faults"), .value("--seed", "S", "seed"), .value("--port-file", "FILE", "port file"),
    ]

    /// Parses the arguments strictly; the error names the option and the value.
    init(arguments: [String]) throws {
        let options = try CommandLineOptions(arguments, specs: Self.specs)
        (listenHost, listenPort) = try Self.hostPort(try options.required("--listen"), option: "--listen")
        (targetHost, targetPort) = try Self.hostPort(try options.required("--target"), option: "--target")
        guard targetPort != 0 else { throw CommandLineError("option '--target': port 0 is not a destination") }
        let byteCount = 0...(1 << 50)
        plan.delayMilliseconds = try options.int("--delay-ms", in: 0...600_000) ?? 0
        plan.throttleBytesPerSecond = try options.int("--throttle-bytes-per-second", in: 1...(1 << 50)) ?? 0
        plan.cutAfterBytes = try options.int("--cut-after-bytes", in: byteCount)
        plan.corruptAfterBytes = try options.int("--corrupt-after-bytes", in: byteCount)
        if let text = options.string("--direction") {
            guard let direction = FaultDirection(rawValue: text) else {
                throw CommandLineError("option '--direction' expects up, down or both, got '\(text)'")
            }
            plan.direction = direction
        }
        faultyConnections = try options.int("--faulty-connections", in: byteCount)
        random = options.flag("--random")
        seed = try options.uint64("--seed") ?? 1
        portFile = options.string("--port-file")
    }

    static func hostPort(_ text: String, option: String) throws -> (String, UInt16) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
            throw CommandLineError("option '\(option)' expects HOST:PORT, got '\(text)'")
        }
        let host = String(text[..<colon])
        guard let port = UInt16(text[text.index(after: colon)...]) else {
            throw CommandLineError("option '\(option)' has a bad port in '\(text)'")
        }
        return (host, port)
    }
}
