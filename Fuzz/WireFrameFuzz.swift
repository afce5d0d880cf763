// libFuzzer entry point for the production frame reader and the message decoder (built by scripts/fuzz-wire.sh).
//
// Compiled together with Sources/Wire/**/*.swift into one module, so it sees internal names. For every input
// it reads frames with a `FrameReader` (the production path: its `FrameDecoder` places every byte, payloads
// received in place in steps) over an in-memory source that delivers the bytes in pieces whose sizes come
// from the first byte, decodes every frame into a message, and checks that each decoded message re-encodes
// to a frame that reads back as the same message, also sealed on an authenticated session (and refused with
// one byte changed). Any crash, sanitizer report, trap or failed check is a
// finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFrameFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Piece sizes 1...16 and 37, 4096: drip-feeding, odd cuts, and everything at once.
    let first = size == 0 ? 0 : Int(bytes[0])
    let pieces = [first % 16 + 1, 37, first % 3 == 0 ? 4096 : 5]
    let reader = FrameReader(source: MemoryFrameSource(bytes, pieceSizes: pieces), maxPayloadBytes: 1 << 20,
                             onBytes: { _ in })
    do {
        while let frame = try reader.readFrame() { check(frame) }
    } catch {
        _ = "\(error)"  // error descriptions must not crash either
    }
    return 0
}

private func check(_ frame: Frame) {
    let message: Message
    do { message = try frame.message() } catch {
        _ = "\(error)"
        return
    }
    for placement in [PayloadChecksumPlacement.header, .trailer] {
        let again = FrameEncoder.encode(message, requestID: frame.requestID, placement: placement)
        let reader = FrameReader(source: MemoryFrameSource(again, pieceSizes: []), maxPayloadBytes: 1 << 20,
                                 onBytes: { _ in })
        guard let frameAgain = try? reader.readFrame(), let messageAgain = try? frameAgain.message(),
              messageAgain == message, frameAgain.requestID == frame.requestID
        else {
            fatalError("re-encoded \(message.kind) did not decode to the same message")
        }
    }
    checkSealed(message, requestID: frame.requestID)
}

/// The message sealed on an authenticated session reads back through an authenticated reader, and the same
/// frame with one byte changed (where, from the request id) is refused.
private func checkSealed(_ message: Message, requestID: UInt64) {
    let key = [UInt8](repeating: UInt8(truncatingIfNeeded: requestID), count: 32)
    var sender: FrameAuthenticator? = FrameAuthenticator(key: key)
    let sealed = OutgoingFrame(message, requestID: requestID, placement: .trailer, flags: .authenticated).sealed(&sender)
    func read(_ bytes: [UInt8]) -> Frame? {
        let reader = FrameReader(source: MemoryFrameSource(bytes, pieceSizes: [Int(requestID % 61) + 1]),
                                 maxPayloadBytes: 1 << 20, onBytes: { _ in })
        reader.authenticate(with: key)
        return try? reader.readFrame()
    }
    guard let again = read(sealed), (try? again.message()) == message else {
        fatalError("sealed \(message.kind) did not read back")
    }
    var changed = sealed
    changed[Int(requestID % UInt64(changed.count))] ^= 0x01
    if read(changed) != nil { fatalError("a changed byte in a sealed \(message.kind) frame went through") }
}
