// Round trips of every message kind, the decoder checker, and one crafted input per decoder error.
import Testing
@testable import Wire

@Suite struct CodecTests {
    @Test func headerLayoutIsLittleEndianAt32Bytes() {
        let header = FrameHeader(kind: 0x0102, flags: .payloadChecksum, requestID: 0x1122_3344_5566_7788,
                                 payloadLength: 0x0A0B_0C0D, payloadChecksum: 0xDEAD_BEEF).encoded()
        #expect(header.count == 32)
        #expect(Array(header[0..<4]) == Array("SWIR".utf8))
        #expect(header[4] == WireVersion.major && header[5] == WireVersion.minor)
        #expect(Array(header[6..<8]) == [0x02, 0x01])
        #expect(Array(header[8..<12]) == [0x01, 0x00, 0x00, 0x00])
        #expect(Array(header[12..<20]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        #expect(Array(header[20..<24]) == [0x0D, 0x0C, 0x0B, 0x0A])
        #expect(Array(header[24..<28]) == [0xEF, 0xBE, 0xAD, 0xDE])
        let crc = CRC32C.checksum(bytes: header[0..<28])
        #expect(Array(header[28..<32]) == [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) })
    }

    /// A fixed frame spelled out in docs/PROTOCOL.md; the expected bytes were computed independently in Python
    /// (struct.pack + a bitwise CRC-32C), so other implementations can check against them.
    @Test func documentedHeartbeatFrame() {
        let frame = FrameEncoder.encode(.heartbeat(Heartbeat(sequence: 1, sentAtNanoseconds: 2)), requestID: 0)
        #expect(hex(frame) == "5357495202000600010000000000000000000000100000005a6d0422a241fc19"
                + "01000000000000000200000000000000")
    }

    @Test(arguments: MessageKind.allCases)
    func randomRoundTrips(kind: MessageKind) throws {
        var generator = SplitMix64(seed: UInt64(kind.rawValue) &* 1_000_003)
        for index in 0..<200 {
            let message = MessageSamples.random(kind, &generator)
            let id = UInt64(index) &* 0x9E37_79B9
            for placement in [PayloadChecksumPlacement.header, .none, .trailer] {
                let bytes = FrameEncoder.encode(message, requestID: id, placement: placement)
                var decoder = FrameDecoder()
                decoder.append(contentsOf: bytes)
                let frame = try #require(try decoder.next())
                #expect(frame.requestID == id)
                #expect(frame.header.flags.contains(.payloadChecksum) == (placement == .header))
                #expect(frame.header.flags.contains(.payloadChecksumTrailer) == (placement == .trailer))
                #expect(try frame.message() == message)
                try decoder.finish()
            }
        }
    }

    @Test func decoderCheckerOverMixedStream() throws {
        var generator = SplitMix64(seed: 99)
        var messages: [(UInt64, Message)] = []
        for (index, kind) in MessageKind.allCases.enumerated() {
            messages.append((UInt64(index + 1), MessageSamples.random(kind, &generator)))
        }
        try DecoderChecker.verify(messages)
        try DecoderChecker.verify(messages, placement: .none)
        try DecoderChecker.verify(messages, placement: .trailer)
    }

    @Test func largeTensorFrameKeepsItsBytesAsOneSegment() throws {
        let values = (0..<10_000).map { Float($0) * 0.5 }
        let tensor = try WireTensor(float32: values, shape: [100, 100])
        let message = Message.forward(Forward(key: MicroBatchKey(jobID: "j", step: 1, window: 2, branch: 0),
                                              tensors: [NamedTensor(name: "x", tensor: tensor)]))
        let outgoing = OutgoingFrame(message, requestID: 5)
        #expect(outgoing.segments.contains { $0.count == 40_000 })
        var decoder = FrameDecoder()
        decoder.append(contentsOf: outgoing.joined)
        let decoded = try #require(try decoder.next()).message()
        guard case .forward(let forward) = decoded else { Issue.record("not a forward"); return }
        #expect(forward.tensors[0].tensor.float32Values() == values)
    }

    @Test func forwardWithPerTokenTimestepRowsRoundTrips() throws {
        // A stage micro-batch of an image-prompted job: two timestep rows (pinned frames at 0) and each token's row.
        let tokens = 12, dim = 4
        let rows = (0..<tokens).map { Float($0 < 4 ? 1 : 0) }
        let tensors = [
            NamedTensor(name: "hidden_states", tensor: try WireTensor(float32: (0..<(tokens * dim)).map { Float($0) }, shape: [1, tokens, dim])),
            NamedTensor(name: "timestep_projection", tensor: try WireTensor(float32: [Float](repeating: 0.5, count: 2 * 6 * dim), shape: [2, 6 * dim])),
            NamedTensor(name: "time_embedding", tensor: try WireTensor(float32: [Float](repeating: 0.25, count: 2 * dim), shape: [2, dim])),
            NamedTensor(name: "grid", tensor: try WireTensor(float32: [1, 3, 2, 2], shape: [4])),
            NamedTensor(name: "token_timestep_rows", tensor: try WireTensor(float32: rows, shape: [tokens])),
        ]
        let message = Message.forward(Forward(key: MicroBatchKey(jobID: "job-000001", step: 3, window: 0, branch: 1), tensors: tensors))
        var decoder = FrameDecoder()
        decoder.append(contentsOf: FrameEncoder.encode(message, requestID: 9))
        let decoded = try #require(try decoder.next()).message()
        #expect(decoded == message)
        guard case .forward(let forward) = decoded else { Issue.record("not a forward"); return }
        #expect(forward.tensors.first { $0.name == "token_timestep_rows" }?.tensor.float32Values() == rows)
        try DecoderChecker.verify([(9, message)])
    }

    // MARK: - Crafted inputs, one per error

    static func validFrame() -> [UInt8] {
        FrameEncoder.encode(.goodbye(reason: "bye"), requestID: 7)
    }

    /// Rewrites header bytes and fixes the header checksum so only the intended field is wrong.
    static func patched(_ frame: [UInt8], resealHeader: Bool = true, _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = frame
        change(&bytes)
        if resealHeader {
            let crc = CRC32C.checksum(bytes: bytes[0..<28])
            for index in 0..<4 { bytes[28 + index] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * index)) }
        }
        return bytes
    }

    static func firstError(_ bytes: [UInt8], maxPayloadBytes: Int = 1 << 20) -> FrameError? {
        var decoder = FrameDecoder(maxPayloadBytes: maxPayloadBytes)
        decoder.append(contentsOf: bytes)
        do {
            _ = try decoder.next()
            try decoder.finish()
            return nil
        } catch { return error }
    }

    @Test func badMagic() {
        let bytes = Self.patched(Self.validFrame()) { $0[0] = UInt8(ascii: "X") }
        #expect(Self.firstError(bytes) == .badMagic(0x5249_5758))
    }

    @Test func unsupportedVersion() {
        let bytes = Self.patched(Self.validFrame()) { $0[4] = 1; $0[5] = 3 }
        #expect(Self.firstError(bytes) == .unsupportedVersion(major: 1, minor: 3))
    }

    @Test func newerMinorIsAccepted() throws {
        let bytes = Self.patched(Self.validFrame()) { $0[5] = 9 }
        var decoder = FrameDecoder()
        decoder.append(contentsOf: bytes)
        let frame = try #require(try decoder.next())
        #expect(frame.header.minor == 9)
    }

    @Test func headerChecksumMismatch() {
        let bytes = Self.patched(Self.validFrame(), resealHeader: false) { $0[12] ^= 1 }
        guard case .headerChecksumMismatch = Self.firstError(bytes) else {
            Issue.record("expected a header checksum mismatch"); return
        }
    }

    @Test func payloadChecksumMismatch() {
        var bytes = Self.validFrame()
        bytes[bytes.count - 1] ^= 0x20
        guard case .payloadChecksumMismatch(let kind, let id, _, _) = Self.firstError(bytes) else {
            Issue.record("expected a payload checksum mismatch"); return
        }
        #expect(kind == MessageKind.goodbye.rawValue && id == 7)
    }

    @Test func trailerChecksumMismatch() {
        var payloadBitFlipped = FrameEncoder.encode(.goodbye(reason: "bye"), requestID: 4, placement: .trailer)
        payloadBitFlipped[33] ^= 0x01
        var trailerBitFlipped = FrameEncoder.encode(.goodbye(reason: "bye"), requestID: 4, placement: .trailer)
        trailerBitFlipped[trailerBitFlipped.count - 1] ^= 0x80
        for bytes in [payloadBitFlipped, trailerBitFlipped] {
            guard case .payloadChecksumMismatch(_, let id, _, _) = Self.firstError(bytes) else {
                Issue.record("expected a payload checksum mismatch"); continue
            }
            #expect(id == 4)
        }
    }

    @Test func conflictingChecksumFlags() {
        let bytes = Self.patched(Self.validFrame()) { $0[8] |= 0x02 }
        #expect(Self.firstError(bytes) == .conflictingFlags(0x0003))
    }

    @Test func corruptPayloadWithoutChecksumReachesTheMessageDecoder() throws {
        var bytes = FrameEncoder.encode(.goodbye(reason: "bye"), requestID: 7, payloadChecksum: false)
        bytes[32] = 200  // string length now points past the payload
        var decoder = FrameDecoder()
        decoder.append(contentsOf: bytes)
        let frame = try #require(try decoder.next())
        #expect(throws: MessageError.self) { try frame.message() }
    }

    @Test func payloadTooLargeIsRejectedFromTheHeaderAlone() {
        let header = FrameHeader(kind: MessageKind.forward.rawValue, flags: [], requestID: 1,
                                 payloadLength: UInt32.max, payloadChecksum: 0).encoded()
        // Only the 32 header bytes exist: the decoder must refuse without waiting or allocating 4 GiB.
        #expect(Self.firstError(header, maxPayloadBytes: 1024) == .payloadTooLarge(length: UInt32.max, limit: 1024))
    }

    @Test func unknownRequiredFlag() {
        let bytes = Self.patched(Self.validFrame()) { $0[8] |= 0x08 }
        #expect(Self.firstError(bytes) == .unknownRequiredFlags(0x08))
    }

    @Test func unknownAdvisoryFlagIsIgnored() throws {
        let bytes = Self.patched(Self.validFrame()) { $0[9] |= 0x80 }
        #expect(Self.firstError(bytes) == nil)
    }

    @Test func reservedFieldNotZero() {
        let bytes = Self.patched(Self.validFrame()) { $0[10] = 1 }
        #expect(Self.firstError(bytes) == .reservedFieldNotZero(1))
    }

    @Test func checksumWithoutFlag() {
        let bytes = Self.patched(Self.validFrame()) { $0[8] &= ~0x01 }
        guard case .unexpectedPayloadChecksum = Self.firstError(bytes) else {
            Issue.record("expected unexpectedPayloadChecksum"); return
        }
    }

    @Test func truncatedStream() {
        let bytes = Array(Self.validFrame().dropLast())
        #expect(Self.firstError(bytes) == .truncated(bufferedBytes: bytes.count))
    }

    @Test func unknownKind() throws {
        let outgoing = OutgoingFrame(kind: 999, requestID: 3, segments: [[1, 2, 3]])
        var decoder = FrameDecoder()
        decoder.append(contentsOf: outgoing.joined)
        let frame = try #require(try decoder.next())
        #expect(throws: MessageError.unknownKind(999)) { try frame.message() }
    }

    // MARK: - Malformed payloads

    static func malformedField(_ kind: MessageKind, _ payload: [UInt8]) -> String? {
        do {
            _ = try Message.decode(kind: kind.rawValue, payload: payload[...])
            return nil
        } catch {
            if case .malformed(_, let field, _) = error { return field }
            return "unknownKind"
        }
    }

    static func payload(_ build: (inout PayloadWriter) -> Void) -> [UInt8] {
        var writer = PayloadWriter()
        build(&writer)
        return writer.joined()
    }

    @Test func malformedPayloads() {
        // Trailing bytes after a complete payload.
        #expect(Self.malformedField(.ok, [0]) == "end of payload")
        var goodbye = Message.goodbye(reason: "x").encodedPayload()
        goodbye.append(9)
        #expect(Self.malformedField(.goodbye, goodbye) == "end of payload")
        // A string longer than what is left, longer than its limit, and not UTF-8.
        #expect(Self.malformedField(.goodbye, Self.payload { $0.write(UInt32(10)) }) == "reason")
        #expect(Self.malformedField(.submitted, Self.payload { $0.write(String(repeating: "j", count: 129)) }) == "jobID")
        #expect(Self.malformedField(.goodbye, Self.payload { $0.write(UInt32(2)); $0.writeFixed([0xC3, 0x28]) })
                == "reason")
        // A boolean that is not 0 or 1.
        var progress = Message.progress(Progress(jobID: "j", sequence: 1, isFinal: true, eventJSON: [])).encodedPayload()
        progress[4 + 1 + 8] = 2
        #expect(Self.malformedField(.progress, progress) == "isFinal")
        // A role that does not exist; a short nonce.
        #expect(Self.malformedField(.hello, Self.payload { $0.write(UInt8(1)); $0.write(UInt8(0)); $0.write(UInt8(9)) })
                == "role")
        #expect(Self.malformedField(.hello, Self.payload {
            $0.write(UInt8(1)); $0.write(UInt8(0)); $0.write(UInt8(1)); $0.write("n"); $0.writeFixed([1, 2])
        }) == "nonce")
        // A proof tag of the wrong size.
        #expect(Self.malformedField(.proof, Self.payload { $0.write(UInt8(5)) }) == "tag.length")
        // Stage index out of range; layer range reversed.
        #expect(Self.malformedField(.assignStage, Self.payload { $0.write(UInt16(3)); $0.write(UInt16(3)) })
                == "stageIndex")
        #expect(Self.malformedField(.assignStage, Self.payload {
            $0.write(UInt16(0)); $0.write(UInt16(1)); $0.write("m"); $0.write(UInt32(5)); $0.write(UInt32(4))
        }) == "layerEnd")
        // Too many tensors, stats, attachments.
        #expect(Self.malformedField(.jobContext, Self.payload {
            $0.write("j"); $0.write(UInt32(WireLimits.maxTensors + 1))
        }) == "tensors.count")
        #expect(Self.malformedField(.stats, Self.payload { $0.write(UInt32(5000)) }) == "entries.count")
        #expect(Self.malformedField(.submit, Self.payload { $0.writeBlob([]); $0.write(UInt32(65)) })
                == "attachments.count")
        // A fetch chunk that runs past the total.
        #expect(Self.malformedField(.fetchChunk, Self.payload {
            $0.write("j"); $0.write(UInt64(10)); $0.write(UInt64(11)); $0.writeBlob([1, 2])
        }) == "data")
    }

    static func forwardWithTensorHeader(_ build: (inout PayloadWriter) -> Void) -> [UInt8] {
        payload {
            $0.write("job"); $0.write(UInt32(0)); $0.write(UInt32(0)); $0.write(UInt8(0))
            $0.write(UInt32(1)); $0.write("x")
            build(&$0)
        }
    }

    @Test func malformedTensors() {
        #expect(Self.malformedField(.forward, Self.forwardWithTensorHeader { $0.write(UInt8(7)) })
                == "tensors[0].dtype")
        #expect(Self.malformedField(.forward, Self.forwardWithTensorHeader { $0.write(UInt8(1)); $0.write(UInt8(9)) })
                == "tensors[0].rank")
        #expect(Self.malformedField(.forward, Self.forwardWithTensorHeader {
            $0.write(UInt8(1)); $0.write(UInt8(1)); $0.write(UInt16(1))
        }) == "tensors[0].reserved")
        // A dim larger than the payload, and dims whose product overflows.
        #expect(Self.malformedField(.forward, Self.forwardWithTensorHeader {
            $0.write(UInt8(1)); $0.write(UInt8(1)); $0.write(UInt16(0)); $0.write(UInt64.max)
        }) == "tensors[0].shape[0]")
        let overflowing = Self.forwardWithTensorHeader {
            $0.write(UInt8(1)); $0.write(UInt8(8)); $0.write(UInt16(0))
            for _ in 0..<8 { $0.write(UInt64(200)) }
            $0.write(UInt64(0)); $0.writeFixed([UInt8](repeating: 0, count: 300))
        }
        #expect(Self.malformedField(.forward, overflowing) == "tensors[0].shape")
        // Byte count that disagrees with the shape, and bytes missing.
        #expect(Self.malformedField(.forward, Self.forwardWithTensorHeader {
            $0.write(UInt8(2)); $0.write(UInt8(1)); $0.write(UInt16(0)); $0.write(UInt64(3)); $0.write(UInt64(4))
        }) == "tensors[0].byteCount")
        #expect(Self.malformedField(.forward, Self.forwardWithTensorHeader {
            $0.write(UInt8(2)); $0.write(UInt8(1)); $0.write(UInt16(0)); $0.write(UInt64(3)); $0.write(UInt64(6))
            $0.writeFixed([1, 2])
        }) == "tensors[0].bytes")
    }
}
