// Blocking frame reads: the I/O shell around `FrameDecoder`, which says where each received byte belongs.
#if canImport(Glibc)
import Glibc
#endif

/// Where a `FrameReader`'s bytes come from: a socket in production, memory in the fuzzer and tests.
protocol FrameSource {
    /// For messages: who is on the other end.
    var peerDescription: String { get }
    /// Receives up to `first.count` bytes into `first` and then up to `second.count` into `second` (one
    /// scatter read); returns the count, 0 at end of stream. With `mayBlock` false it returns nil instead of
    /// waiting when nothing is there yet.
    func receive(_ first: UnsafeMutableRawBufferPointer, _ second: UnsafeMutableRawBufferPointer,
                 mayBlock: Bool) throws(TransportError) -> Int?
}

extension SocketHandle: FrameSource {
    func receive(_ first: UnsafeMutableRawBufferPointer, _ second: UnsafeMutableRawBufferPointer,
                 mayBlock: Bool) throws(TransportError) -> Int? {
        while true {
            var vectors = (iovec(iov_base: first.baseAddress, iov_len: first.count),
                           iovec(iov_base: second.baseAddress, iov_len: second.count))
            let received = withUnsafeMutableBytes(of: &vectors) { raw in
                var message = msghdr()
                message.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                message.msg_iovlen = second.count > 0 ? 2 : 1
                return recvmsg(descriptor, &message, mayBlock ? 0 : Int32(MSG_DONTWAIT))
            }
            if received >= 0 { return received }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            if code == EINTR { continue }
            throw .system(operation: "receive from", address: peerDescription, errno: code)
        }
    }
}

/// Reads verified frames from a source, for the one thread that owns the reading side.
///
/// The `FrameDecoder` decides where every byte goes: headers into its read-ahead buffer, large payloads
/// straight into their final array in 512 KiB steps, each checksummed while still in cache. Before a
/// receive that may block it calls `wait`, which returns once the source is readable or throws (timeout,
/// dead peer, shutdown); that is where the connection runs its heartbeat ticks.
final class FrameReader {
    private let source: any FrameSource
    private var decoder: FrameDecoder
    /// The largest payload accepted (the handshake reads with a small limit, the connection with its own).
    var maxPayloadBytes: Int {
        get { decoder.maxPayloadBytes }
        set { decoder.maxPayloadBytes = newValue }
    }
    /// Blocks until the source is readable, or throws.
    var wait: () throws(TransportError) -> Void = {}
    /// Told how many bytes each successful receive brought.
    var onBytes: (Int) -> Void

    init(source: any FrameSource, maxPayloadBytes: Int, onBytes: @escaping (Int) -> Void) {
        self.source = source
        self.decoder = FrameDecoder(maxPayloadBytes: maxPayloadBytes)
        self.onBytes = onBytes
    }

    /// From the next frame on, every frame must carry a valid tag under `key` (see `FrameDecoder.authenticate`).
    func authenticate(with key: [UInt8]) { decoder.authenticate(with: key) }

    /// The next frame, or `nil` when the peer closed the stream between frames.
    func readFrame() throws(TransportError) -> Frame? {
        while true {
            do {
                if let frame = try decoder.next() { return frame }
            } catch {
                throw .frame(error)
            }
            // In the middle of a payload the next bytes are usually there already, and the poll (with its
            // heartbeat tick) would be a system call for nothing: try without waiting first.
            var pollFirst = true
            if case .payload = decoder.need { pollFirst = false }
            let received = try decoder.receive { first, second in
                Result { () throws(TransportError) -> Int in try receive(first, second, pollFirst: pollFirst) }
            }.get()
            if received == 0 {
                if decoder.bufferedByteCount == 0 { return nil }
                throw .frame(.truncated(bufferedBytes: decoder.bufferedByteCount))
            }
        }
    }

    /// One receive from the source, waiting (`wait`) first if asked or if nothing is there.
    private func receive(_ first: UnsafeMutableRawBufferPointer, _ second: UnsafeMutableRawBufferPointer,
                         pollFirst: Bool) throws(TransportError) -> Int {
        var waitFirst = pollFirst
        while true {
            if waitFirst { try wait() }
            if let received = try source.receive(first, second, mayBlock: waitFirst) {
                if received > 0 { onBytes(received) }
                return received
            }
            waitFirst = true
        }
    }
}

/// A reader belongs to one thread at a time (handed over once, from the handshake to the reader thread).
@available(*, unavailable)
extension FrameReader: Sendable {}

/// A byte stream held in memory, delivered in pieces of the given sizes (cycled): the fuzzer and the tests
/// drive the production `FrameReader` with it.
final class MemoryFrameSource: FrameSource {
    let peerDescription = "memory"
    private let bytes: [UInt8]
    private let pieceSizes: [Int]
    private var offset = 0
    private var pieceIndex = 0

    /// `pieceSizes` must hold positive sizes; an empty list delivers everything at once.
    init(_ bytes: [UInt8], pieceSizes: [Int]) {
        precondition(pieceSizes.allSatisfy { $0 > 0 }, "piece sizes must be positive")
        self.bytes = bytes
        self.pieceSizes = pieceSizes.isEmpty ? [max(1, bytes.count)] : pieceSizes
    }

    func receive(_ first: UnsafeMutableRawBufferPointer, _ second: UnsafeMutableRawBufferPointer,
                 mayBlock: Bool) throws(TransportError) -> Int? {
        var budget = min(pieceSizes[pieceIndex % pieceSizes.count], bytes.count - offset)
        pieceIndex += 1
        var total = 0
        for space in [first, second] where budget > 0 && space.count > 0 {
            let count = min(budget, space.count)
            bytes.withUnsafeBytes { raw in
                space.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: count)
            }
            offset += count
            budget -= count
            total += count
        }
        return total
    }
}
