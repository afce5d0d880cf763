// The production frame reader (FrameReader over its FrameDecoder) fed from memory in every chunking.
import Testing
@testable import Wire

@Suite struct FrameReaderTests {
    /// Every frame `stream` holds, read by a `FrameReader` whose source delivers `pieceSizes` bytes at a time.
    static func readAll(_ stream: [UInt8], pieceSizes: [Int]) throws -> [Frame] {
        let reader = FrameReader(source: MemoryFrameSource(stream, pieceSizes: pieceSizes),
                                 maxPayloadBytes: FrameDecoder.defaultMaxPayloadBytes, onBytes: { _ in })
        var frames: [Frame] = []
        while let frame = try reader.readFrame() { frames.append(frame) }
        return frames
    }

    /// A forward message whose single tensor holds `byteCount` seeded random bytes.
    static func bigForward(byteCount: Int, seed: UInt64) throws -> Message {
        var generator = SplitMix64(seed: seed)
        let bytes = MessageSamples.bytes(byteCount, &generator)
        let tensor = try WireTensor(dtype: .float32, shape: [byteCount / 4], bytes: bytes[...])
        return .forward(Forward(key: MicroBatchKey(jobID: "j", step: 1, window: 0, branch: 0),
                                tensors: [NamedTensor(name: "hidden_states", tensor: tensor)]))
    }

    static let pieceSizePatterns: [[Int]] = [[1], [2], [7], [64], [], [100_003, 5], [1 << 20]]

    @Test(arguments: pieceSizePatterns)
    func mixedStreamReadsAsTheDecoderDecodesIt(pieceSizes: [Int]) throws {
        var generator = SplitMix64(seed: 7)
        var messages: [(UInt64, Message)] = []
        for (index, kind) in MessageKind.allCases.enumerated() {
            messages.append((UInt64(index + 1), MessageSamples.random(kind, &generator)))
        }
        let placements: [PayloadChecksumPlacement] = [.header, .trailer, .none]
        let stream = messages.enumerated().flatMap { index, entry in
            FrameEncoder.encode(entry.1, requestID: entry.0, placement: placements[index % 3])
        }
        let frames = try Self.readAll(stream, pieceSizes: pieceSizes)
        #expect(frames.count == messages.count)
        for (frame, want) in zip(frames, messages) {
            #expect(frame.requestID == want.0)
            #expect(try frame.message() == want.1)
        }
    }

    /// Payloads larger than a receive step, with the checksum in the header or the trailer, between small frames.
    @Test(arguments: [[1 << 20], [], [100_003, 5], [FrameDecoder.payloadStepBytes + 3]])
    func largePayloadsArriveWhole(pieceSizes: [Int]) throws {
        let big = try Self.bigForward(byteCount: 3 * FrameDecoder.payloadStepBytes + 12, seed: 3)
        let small = Message.goodbye(reason: "between")
        var stream: [UInt8] = []
        stream += FrameEncoder.encode(big, requestID: 1, placement: .trailer)
        stream += FrameEncoder.encode(small, requestID: 0, placement: .header)
        stream += FrameEncoder.encode(big, requestID: 3, placement: .header)
        stream += FrameEncoder.encode(big, requestID: 5, placement: .none)
        let frames = try Self.readAll(stream, pieceSizes: pieceSizes)
        #expect(frames.map(\.requestID) == [1, 0, 3, 5])
        #expect(try frames.map { try $0.message() } == [big, small, big, big])
    }

    @Test func aFlippedBitInALargePayloadIsCaught() throws {
        var frame = FrameEncoder.encode(try Self.bigForward(byteCount: 2 << 20, seed: 4), requestID: 1,
                                        placement: .trailer)
        frame[FrameHeader.byteCount + (1 << 20) + 17] ^= 0x04
        do {
            _ = try Self.readAll(frame, pieceSizes: [])
            Issue.record("a corrupted payload was accepted")
        } catch TransportError.frame(.payloadChecksumMismatch(_, let requestID, _, _)) {
            #expect(requestID == 1)
        }
    }

    /// A stream cut anywhere inside a frame is reported as truncated with the bytes received; cut between
    /// frames it is a clean end.
    @Test func truncationIsReportedWithTheBytesReceived() throws {
        let frame = FrameEncoder.encode(try Self.bigForward(byteCount: 1 << 20, seed: 5), requestID: 1,
                                        placement: .trailer)
        let cuts = [1, 31, 32, 33, 40_000, FrameDecoder.payloadStepBytes + 32, frame.count - 4, frame.count - 1]
        for cut in cuts {
            #expect(throws: TransportError.frame(.truncated(bufferedBytes: cut))) {
                _ = try Self.readAll(Array(frame[0..<cut]), pieceSizes: [65_536])
            }
        }
        #expect(try Self.readAll(frame + frame, pieceSizes: [65_536]).count == 2)
        #expect(try Self.readAll([], pieceSizes: []).isEmpty)
    }

    /// Large payload arrays are reused once the application let go of them, never while it still holds them.
    @Test func aHeldPayloadIsNeverOverwritten() throws {
        var stream: [UInt8] = []
        let messages = try (0..<4).map { try Self.bigForward(byteCount: 2 << 20, seed: 10 + UInt64($0)) }
        for (index, message) in messages.enumerated() {
            stream += FrameEncoder.encode(message, requestID: UInt64(2 * index + 1), placement: .trailer)
        }
        let reader = FrameReader(source: MemoryFrameSource(stream, pieceSizes: [300_000]),
                                 maxPayloadBytes: 4 << 20, onBytes: { _ in })
        let held = try #require(try reader.readFrame())
        let heldCopy = Array(held.payload)
        for index in 1..<4 {
            let frame = try #require(try reader.readFrame())  // dropped at once: its array may be reused
            #expect(try frame.message() == messages[index])
        }
        #expect(Array(held.payload) == heldCopy)
        #expect(try reader.readFrame() == nil)
    }
}
