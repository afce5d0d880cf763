// Blocking frame reads from a socket: a small read-ahead buffer for headers, large payloads read in place.
#if canImport(Glibc)
import Glibc
#endif

/// Reads verified frames from a socket, for the one thread that owns the reading side.
///
/// Before every `recv` it calls `wait`, which returns once the socket is readable or throws (timeout,
/// dead peer, shutdown); that is where the connection runs its heartbeat ticks. Large payloads are read
/// straight into their final array in 512 KiB steps, each checksummed while still in cache.
final class FrameReader {
    let socket: SocketHandle
    var maxPayloadBytes: Int
    /// Blocks until the socket is readable, or throws.
    var wait: () throws(TransportError) -> Void = {}
    /// Told how many bytes each successful receive brought.
    var onBytes: (Int) -> Void
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private var start = 0
    private var end = 0
    private static let stepBytes = 512 << 10
    /// Payloads at least this large are read into a recycled buffer when the application has let go of it.
    private static let recycleThresholdBytes = 1 << 20
    /// How many large payloads are kept for reuse.
    private static let recycledLimit = 2
    /// The last large payloads, oldest first; one is reused for the next payload of the same size once
    /// nobody else holds it. Fresh memory costs a page fault per 4 KiB on first touch, which on virtual
    /// machines is slower than the network copy itself; a pipeline stage receives same-sized activations
    /// over and over. Two, not one: the application usually still holds the previous message (it is
    /// replying to it) when the next header arrives, but has let go of the one before. The reader thus
    /// keeps at most two payloads (each within `maxPayloadBytes`) alive after the application drops them.
    private var recycled: [[UInt8]] = []

    init(socket: SocketHandle, maxPayloadBytes: Int, onBytes: @escaping (Int) -> Void) {
        self.socket = socket
        self.maxPayloadBytes = maxPayloadBytes
        self.onBytes = onBytes
    }

    /// Receives up to `count` bytes at `pointer` and, when `aheadCount` > 0, up to `aheadCount` more at
    /// `ahead` (one `recvmsg` into both); 0 means end of stream. With `pollFirst` false it first tries
    /// without waiting: in the middle of a payload the next bytes are usually there already, and the poll
    /// (with its heartbeat tick) would be a system call for nothing.
    private func receive(_ pointer: UnsafeMutableRawPointer, _ count: Int, ahead: UnsafeMutableRawPointer? = nil,
                         aheadCount: Int = 0, pollFirst: Bool = true) throws(TransportError) -> Int {
        var waitFirst = pollFirst
        while true {
            if waitFirst { try wait() }
            var vectors = (iovec(iov_base: pointer, iov_len: count), iovec(iov_base: ahead, iov_len: aheadCount))
            let received = withUnsafeMutableBytes(of: &vectors) { raw in
                var message = msghdr()
                message.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                message.msg_iovlen = aheadCount > 0 ? 2 : 1
                return recvmsg(socket.descriptor, &message, waitFirst ? 0 : Int32(MSG_DONTWAIT))
            }
            if received >= 0 {
                if received > 0 { onBytes(received) }
                return received
            }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK { waitFirst = true; continue }
            if code == EINTR { continue }
            throw .system(operation: "receive from", address: socket.peerDescription, errno: code)
        }
    }

    /// The next frame, or `nil` when the peer closed the stream between frames.
    func readFrame() throws(TransportError) -> Frame? {
        while end - start < FrameHeader.byteCount {
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
                }
                end -= start
                start = 0
            }
            let capacity = buffer.count - end
            let offset = end
            let received = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(TransportError) -> Int in try receive(raw.baseAddress! + offset, capacity) }
            }.get()
            if received == 0 {
                if end == start { return nil }
                throw .frame(.truncated(bufferedBytes: end - start))
            }
            end += received
        }
        let headerStart = start
        let limit = maxPayloadBytes
        let decoded = buffer.withUnsafeBytes { raw in
            Result { () throws(FrameError) -> FrameHeader in
                try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: raw[headerStart..<(headerStart + 32)]),
                                       maxPayloadBytes: limit)
            }
        }
        let header: FrameHeader
        switch decoded {
        case .success(let value): header = value
        case .failure(let error): throw .frame(error)
        }
        start += FrameHeader.byteCount
        let length = Int(header.payloadLength)
        let verify = header.flags.checksummed
        var crc = CRC32C()
        var failure: TransportError?
        let fill = { (destination: UnsafeMutableBufferPointer<UInt8>) in
            let fromBuffer = min(length, self.end - self.start)
            if fromBuffer > 0 {
                self.buffer.withUnsafeBytes { raw in
                    let source = UnsafeRawBufferPointer(rebasing: raw[self.start..<(self.start + fromBuffer)])
                    UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
                    if verify { crc.update(source) }
                }
                self.start += fromBuffer
            }
            var filled = fromBuffer
            if filled < length {
                // The read-ahead buffer is used up; the last receive of the payload refills it with what
                // follows (the trailer, often the next frame's header), saving a system call.
                self.start = 0
                self.end = 0
            }
            while filled < length {
                let step = min(FrameReader.stepBytes, length - filled)
                let base = UnsafeMutableRawPointer(destination.baseAddress! + filled)
                let last = filled + step == length
                let outcome = self.buffer.withUnsafeMutableBytes { ahead in
                    Result(catching: { () throws(TransportError) -> Int in
                        try self.receive(base, step, ahead: last ? ahead.baseAddress : nil,
                                         aheadCount: last ? ahead.count : 0, pollFirst: false)
                    })
                }
                switch outcome {
                case .failure(let error):
                    failure = error
                case .success(0):
                    failure = .frame(.truncated(bufferedBytes: FrameHeader.byteCount + filled))
                case .success(let received):
                    let payloadPart = min(received, step)
                    if verify { crc.update(UnsafeRawBufferPointer(start: base, count: payloadPart)) }
                    filled += payloadPart
                    self.end = received - payloadPart
                }
                if failure != nil { break }
            }
            // Bytes are plain integers; zero the unread tail so the array is fully initialised.
            if filled < length { (destination.baseAddress! + filled).initialize(repeating: 0, count: length - filled) }
        }
        let payload: [UInt8]
        if length >= FrameReader.recycleThresholdBytes, let index = reusableIndex(length) {
            var reused = recycled.remove(at: index)  // moved out: still the only reference
            reused.withUnsafeMutableBufferPointer { fill($0) }
            payload = reused
            recycled.append(reused)
        } else {
            payload = [UInt8](unsafeUninitializedCapacity: length) { destination, initialized in
                fill(destination)
                initialized = length
            }
            if length >= FrameReader.recycleThresholdBytes {
                recycled.append(payload)
                if recycled.count > FrameReader.recycledLimit { recycled.removeFirst() }
            }
        }
        if let failure { throw failure }
        var trailer: UInt32?
        if header.trailerByteCount > 0 {
            var bytes: UInt32 = 0
            for index in 0..<4 {
                if end == start {
                    start = 0
                    end = 0
                    let received = try buffer.withUnsafeMutableBytes { raw in
                        Result { () throws(TransportError) -> Int in try receive(raw.baseAddress!, raw.count) }
                    }.get()
                    if received == 0 { throw .frame(.truncated(bufferedBytes: FrameHeader.byteCount + length + index)) }
                    end = received
                }
                bytes |= UInt32(buffer[start]) << UInt32(8 * index)
                start += 1
            }
            trailer = bytes
        }
        if verify {
            do { try header.verifyPayload(checksum: crc.value, trailer: trailer) } catch { throw .frame(error) }
        }
        return Frame(header: header, payload: payload[...])
    }
}

extension FrameReader {
    /// The index of a kept payload of `length` bytes that nobody else holds any more, if there is one.
    fileprivate func reusableIndex(_ length: Int) -> Int? {
        for index in recycled.indices where recycled[index].count == length {
            if isUniquelyReferenced(&recycled[index]) { return index }
        }
        return nil
    }
}

/// Whether the array's storage is referenced by this variable alone, so writing through it cannot change
/// what anyone else sees (and cannot trigger a copy). An array is one reference to its storage object; this
/// asks the runtime about that reference in place, as the standard library's own uniqueness check does.
func isUniquelyReferenced(_ array: inout [UInt8]) -> Bool {
    guard MemoryLayout<[UInt8]>.size == MemoryLayout<AnyObject>.size, array.capacity > 0 else { return false }
    return withUnsafeMutablePointer(to: &array) { pointer in
        pointer.withMemoryRebound(to: AnyObject.self, capacity: 1) { isKnownUniquelyReferenced(&$0.pointee) }
    }
}

/// A reader belongs to one thread at a time (handed over once, from the handshake to the reader thread).
@available(*, unavailable)
extension FrameReader: Sendable {}
