// libFuzzer entry point for the frame decoder and message decoder (built by scripts/fuzz-wire.sh).
//
// Compiled together with Sources/Wire/*.swift into one module, so it sees internal names. For every input
// it feeds the bytes to a FrameDecoder split in two pieces (split point from the first byte), decodes every
// frame into a message, and checks that each decoded message re-encodes to a frame that decodes to the
// same message. Any crash, sanitizer report, trap or failed check is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFrameFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = size == 0 ? 0 : Int(bytes[0]) % (size + 1)
    var decoder = FrameDecoder(maxPayloadBytes: 1 << 20)
    do {
        decoder.append(contentsOf: bytes[0..<split])
        while let frame = try decoder.next() { check(frame) }
        decoder.append(contentsOf: bytes[split...])
        while let frame = try decoder.next() { check(frame) }
        try decoder.finish()
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
        var decoder = FrameDecoder(maxPayloadBytes: 1 << 20)
        decoder.append(contentsOf: again)
        guard let frameAgain = try? decoder.next(), let messageAgain = try? frameAgain.message(),
              messageAgain == message, frameAgain.requestID == frame.requestID
        else {
            fatalError("re-encoded \(message.kind) did not decode to the same message")
        }
    }
}
