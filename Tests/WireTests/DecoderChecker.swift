// A reusable checker for the frame decoder: whole, drip-fed, batched, and truncated at every offset.
import Testing
@testable import Wire

/// Feeds encoded frames to a `FrameDecoder` in every way a socket could deliver them and checks that the
/// same messages come out each time (after swift-nio's ByteToMessageDecoderVerifier).
enum DecoderChecker {
    /// Decodes everything `stream` holds, appending `chunkSize` bytes at a time (0 = all at once).
    static func decodeAll(_ stream: [UInt8], chunkSize: Int, maxPayloadBytes: Int = FrameDecoder.defaultMaxPayloadBytes)
        throws -> [(UInt64, Message)]
    {
        var decoder = FrameDecoder(maxPayloadBytes: maxPayloadBytes)
        var output: [(UInt64, Message)] = []
        var offset = 0
        let step = chunkSize == 0 ? max(stream.count, 1) : chunkSize
        while offset < stream.count {
            let end = min(stream.count, offset + step)
            decoder.append(contentsOf: stream[offset..<end])
            offset = end
            while let frame = try decoder.next() { output.append((frame.requestID, try frame.message())) }
        }
        try decoder.finish()
        return output
    }

    /// Checks `messages` (with request ids) survive every delivery pattern, and that every proper prefix of
    /// each single frame yields nothing and fails `finish()` as truncated.
    static func verify(_ messages: [(UInt64, Message)], placement: PayloadChecksumPlacement = .header,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let frames = messages.map { FrameEncoder.encode($0.1, requestID: $0.0, placement: placement) }
        let stream = frames.flatMap { $0 }
        for chunk in [0, 1, 2, 7, 64] {
            let decoded = try decodeAll(stream, chunkSize: chunk)
            #expect(decoded.count == messages.count, "chunk size \(chunk)", sourceLocation: sourceLocation)
            for (got, want) in zip(decoded, messages) {
                #expect(got.0 == want.0 && got.1 == want.1, "chunk size \(chunk): \(want.1.kind)",
                        sourceLocation: sourceLocation)
            }
        }
        for frame in frames {
            for cut in 0..<frame.count {
                var decoder = FrameDecoder()
                decoder.append(contentsOf: frame[0..<cut])
                let early = try decoder.next()
                #expect(early == nil, "prefix of \(cut) bytes produced a frame", sourceLocation: sourceLocation)
                #expect(decoder.bufferedByteCount == cut, "a short read consumed bytes", sourceLocation: sourceLocation)
                if cut > 0 {
                    #expect(throws: FrameError.truncated(bufferedBytes: cut), sourceLocation: sourceLocation) {
                        try decoder.finish()
                    }
                }
                // The rest arriving later completes the same frame.
                decoder.append(contentsOf: frame[cut...])
                let late = try decoder.next()
                #expect(late != nil, "frame not completed after a cut at \(cut)", sourceLocation: sourceLocation)
            }
        }
    }
}
