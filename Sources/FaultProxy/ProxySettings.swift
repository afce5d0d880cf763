// The `faultproxy` command line: where to listen, where to forward, and which faults to inject.

/// A command-line error naming the option and the value seen.
struct ProxyUsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

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
    /// A fault on a whole Wire frame (forge, replay, reorder, drop), in each faulted direction.
    var frameFault: FrameFault?

    var isClean: Bool {
        delayMilliseconds == 0 && throttleBytesPerSecond == 0 && cutAfterBytes == nil && corruptAfterBytes == nil
            && frameFault == nil
    }

    var description: String {
        var parts: [String] = []
        if delayMilliseconds > 0 { parts.append("delay \(delayMilliseconds) ms") }
        if throttleBytesPerSecond > 0 { parts.append("throttle \(throttleBytesPerSecond) B/s") }
        if let cut = cutAfterBytes { parts.append("cut after \(cut) B") }
        if let corrupt = corruptAfterBytes { parts.append("corrupt byte \(corrupt)") }
        if let frameFault { parts.append("\(frameFault)") }
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
          --frame-fault forge|replay|reorder|drop
                                              parse the stream into Wire frames and, once, forge one (change a
                                              payload byte, recompute every checksum), send it twice, swap it
                                              with the next frame, or drop it
          --from-frame N                      the frame fault hits frame N or later (default 2: after the
                                              handshake's two frames in each direction)
          --min-payload-bytes N               ... the first such frame with at least N payload bytes (default 0)
          --frame-kinds K[,K...]              ... and one of these message kinds (default: any)
          --direction up|down|both            faulted directions: up = client to target (default both)
          --faulty-connections N              only the first N connections get faults (default: all)
          --random                            each faulty connection draws one random fault (seeded)
          --seed S                            seed for --random (default 1)
          --port-file FILE                    write the listening port to FILE once ready
          --help                              this text

        Prints one line per connection and per injected fault on standard error. SIGINT or SIGTERM stops it:
        the listener and every connection are closed and it exits 0.
        """

    init(arguments: [String]) throws {
        var index = 0
        var sawListen = false
        var sawTarget = false
        func value(_ option: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw ProxyUsageError("\(option) needs a value") }
            return arguments[index]
        }
        func count(_ option: String) throws -> Int {
            let text = try value(option)
            guard let number = Int(text), number >= 0, number <= 1 << 50 else {
                throw ProxyUsageError("\(option): expected a non-negative integer, got \"\(text)\"")
            }
            return number
        }
        while index < arguments.count {
            let option = arguments[index]
            switch option {
            case "--listen":
                (listenHost, listenPort) = try Self.hostPort(try value(option), option: option)
                sawListen = true
            case "--target":
                (targetHost, targetPort) = try Self.hostPort(try value(option), option: option)
                sawTarget = true
            case "--delay-ms":
                let delay = try count(option)
                guard delay <= 600_000 else { throw ProxyUsageError("--delay-ms: at most 600000, got \(delay)") }
                plan.delayMilliseconds = delay
            case "--throttle-bytes-per-second":
                plan.throttleBytesPerSecond = try count(option)
                guard plan.throttleBytesPerSecond > 0 else { throw ProxyUsageError("--throttle-bytes-per-second: must be > 0") }
            case "--cut-after-bytes": plan.cutAfterBytes = try count(option)
            case "--corrupt-after-bytes": plan.corruptAfterBytes = try count(option)
            case "--direction":
                let text = try value(option)
                guard let direction = FaultDirection(rawValue: text) else {
                    throw ProxyUsageError("--direction: expected up, down or both, got \"\(text)\"")
                }
                plan.direction = direction
            case "--frame-fault":
                let text = try value(option)
                guard let kind = FrameFaultKind(rawValue: text) else {
                    throw ProxyUsageError("--frame-fault: expected forge, replay, reorder or drop, got \"\(text)\"")
                }
                plan.frameFault = FrameFault(kind: kind, fromFrame: plan.frameFault?.fromFrame ?? 2,
                                             minimumPayloadBytes: plan.frameFault?.minimumPayloadBytes ?? 0)
            case "--from-frame":
                let number = try count(option)
                guard plan.frameFault != nil else { throw ProxyUsageError("--from-frame comes after --frame-fault") }
                plan.frameFault?.fromFrame = number
            case "--min-payload-bytes":
                let number = try count(option)
                guard plan.frameFault != nil else { throw ProxyUsageError("--min-payload-bytes comes after --frame-fault") }
                plan.frameFault?.minimumPayloadBytes = number
            case "--frame-kinds":
                let text = try value(option)
                guard plan.frameFault != nil else { throw ProxyUsageError("--frame-kinds comes after --frame-fault") }
                let kinds = text.split(separator: ",").map { UInt16($0) }
                guard !kinds.isEmpty, kinds.allSatisfy({ $0 != nil }) else {
                    throw ProxyUsageError("--frame-kinds: expected message kind numbers separated by commas, got \"\(text)\"")
                }
                plan.frameFault?.messageKinds = Set(kinds.compactMap { $0 })
            case "--faulty-connections": faultyConnections = try count(option)
            case "--random": random = true
            case "--seed":
                let text = try value(option)
                guard let number = UInt64(text) else { throw ProxyUsageError("--seed: expected an unsigned integer, got \"\(text)\"") }
                seed = number
            case "--port-file": portFile = try value(option)
            default: throw ProxyUsageError("unknown option \"\(option)\" (see --help)")
            }
            index += 1
        }
        guard sawListen else { throw ProxyUsageError("--listen HOST:PORT is required") }
        guard sawTarget else { throw ProxyUsageError("--target HOST:PORT is required") }
        guard targetPort != 0 else { throw ProxyUsageError("--target: port 0 is not a destination") }
    }

    static func hostPort(_ text: String, option: String) throws -> (String, UInt16) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
            throw ProxyUsageError("\(option): expected HOST:PORT, got \"\(text)\"")
        }
        let host = String(text[..<colon])
        guard let port = UInt16(text[text.index(after: colon)...]) else {
            throw ProxyUsageError("\(option): bad port in \"\(text)\"")
        }
        return (host, port)
    }
}
