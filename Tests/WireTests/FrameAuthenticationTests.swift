// Frame authentication (issue 15): the key schedule against RFC 5869, documented vectors, and every kind of
// tampering an attacker on the path can do (change, replay, reorder, drop, truncate) caught by the decoder.
import Testing
@testable import Wire

@Suite struct FrameAuthenticationTests {
    static func bytes(_ hexText: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hexText.startIndex
        while index < hexText.endIndex {
            let next = hexText.index(index, offsetBy: 2)
            result.append(UInt8(hexText[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// The key schedule vector of docs/PROTOCOL.md §6.1 (computed independently with Python's hmac and cryptography modules).
    static let documentedKeys = SessionKeys.derive(
        token: [UInt8](repeating: 0x5A, count: 32), clientNonce: Array(0..<32), serverNonce: Array(32..<64),
        clientRole: .coordinator, serverRole: .worker, minor: 0, isClient: true)

    @Test func documentedKeySchedule() {
        #expect(hex(Self.documentedKeys.sending) == "735326014654ab5deeaf0a79a472758bd798e781282d6b3ab24fa75adf1581d9")
        #expect(hex(Self.documentedKeys.receiving) == "a2f1ad0e45fb4785c1d5103378c4df141a5ee5b2a4e2269cb6f5beb8c299c6e7")
        let server = SessionKeys.derive(
            token: [UInt8](repeating: 0x5A, count: 32), clientNonce: Array(0..<32), serverNonce: Array(32..<64),
            clientRole: .coordinator, serverRole: .worker, minor: 0, isClient: false)
        #expect(server.sending == Self.documentedKeys.receiving && server.receiving == Self.documentedKeys.sending)
    }

    /// The sealed heartbeat of docs/PROTOCOL.md §6.2: the connecting peer's first frame after the handshake.
    @Test func documentedSealedHeartbeat() {
        var sender: FrameAuthenticator? = FrameAuthenticator(key: Self.documentedKeys.sending)
        let frame = OutgoingFrame(kind: MessageKind.heartbeat.rawValue, requestID: 0,
                                  segments: [Self.heartbeatPayload[...]], placement: .header, flags: .authenticated)
        #expect(hex(frame.sealed(&sender)) == "5357495202000600050000000000000000000000100000005a6d0422569ff3c4"
                + "010000000000000002000000000000009663c94ed3d36c78c0caf7b41d53f177")
    }

    static let heartbeatPayload: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]

    /// Frames sealed in order by one sender, as a stream of frames.
    static func sealedFrames(_ count: Int, key: [UInt8] = Array(repeating: 7, count: 32),
                             placement: PayloadChecksumPlacement = .header) -> [[UInt8]] {
        var sender: FrameAuthenticator? = FrameAuthenticator(key: key)
        return (0..<count).map { index in
            let frame = OutgoingFrame(.goodbye(reason: "frame \(index)"), requestID: UInt64(index), placement: placement,
                                      flags: .authenticated)
            return frame.sealed(&sender)
        }
    }

    /// The first error a receiver keyed with `key` reports for `stream`, or nil if every frame passes.
    static func firstError(_ stream: [UInt8], key: [UInt8] = Array(repeating: 7, count: 32)) -> FrameError? {
        var decoder = FrameDecoder()
        decoder.authenticate(with: key)
        decoder.append(contentsOf: stream)
        do {
            while try decoder.next() != nil {}
            try decoder.finish()
            return nil
        } catch { return error }
    }

    @Test(arguments: [PayloadChecksumPlacement.header, .trailer, .none])
    func sealedFramesPassInAnyChunking(placement: PayloadChecksumPlacement) throws {
        let frames = Self.sealedFrames(5, placement: placement)
        let stream = frames.flatMap { $0 }
        #expect(Self.firstError(stream) == nil)
        for pieces in [[1], [3], [41], []] {
            let reader = FrameReader(source: MemoryFrameSource(stream, pieceSizes: pieces), maxPayloadBytes: 1 << 20,
                                     onBytes: { _ in })
            reader.authenticate(with: Array(repeating: 7, count: 32))
            var reasons: [String] = []
            while let frame = try reader.readFrame() {
                guard case .goodbye(let reason) = try frame.message() else { Issue.record("not a goodbye"); continue }
                reasons.append(reason)
            }
            #expect(reasons == (0..<5).map { "frame \($0)" })
        }
    }

    /// Every single-bit change anywhere in a frame (header, payload, trailer, tag) is refused.
    @Test(arguments: [PayloadChecksumPlacement.trailer, .none])
    func everyChangedBitIsCaught(placement: PayloadChecksumPlacement) {
        let frame = Self.sealedFrames(1, placement: placement)[0]
        for offset in 0..<frame.count {
            var changed = frame
            changed[offset] ^= 0x10
            #expect(Self.firstError(changed) != nil, "a change at byte \(offset) went through")
        }
    }

    /// A payload change with every CRC recomputed (what an attacker does) fails the MAC, naming the frame.
    @Test func aForgedFrameFailsTheMAC() {
        var frames = Self.sealedFrames(3, placement: .header)
        frames[1][FrameHeader.byteCount + 6] ^= 0x01
        let payloadRange = FrameHeader.byteCount..<(frames[1].count - FrameFlags.authenticationTagByteCount)
        let crc = CRC32C.checksum(bytes: frames[1][payloadRange])
        for index in 0..<4 { frames[1][24 + index] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * index)) }
        let headerCRC = CRC32C.checksum(bytes: frames[1][0..<28])
        for index in 0..<4 { frames[1][28 + index] = UInt8(truncatingIfNeeded: headerCRC >> UInt32(8 * index)) }
        #expect(Self.firstError(frames.flatMap { $0 })
                == .authenticationFailed(kind: MessageKind.goodbye.rawValue, requestID: 1, sequence: 1))
    }

    @Test func replayedReorderedAndDroppedFramesAreCaught() {
        let frames = Self.sealedFrames(4)
        let goodbye = MessageKind.goodbye.rawValue
        let replayed = frames[0] + frames[1] + frames[1] + frames[2]
        #expect(Self.firstError(replayed) == .authenticationFailed(kind: goodbye, requestID: 1, sequence: 2))
        let reordered = frames[0] + frames[2] + frames[1] + frames[3]
        #expect(Self.firstError(reordered) == .authenticationFailed(kind: goodbye, requestID: 2, sequence: 1))
        let dropped = frames[0] + frames[2] + frames[3]
        #expect(Self.firstError(dropped) == .authenticationFailed(kind: goodbye, requestID: 2, sequence: 1))
        // A frame of another session (another key), or another direction, is refused too.
        #expect(Self.firstError(frames[0], key: Array(repeating: 8, count: 32))
                == .authenticationFailed(kind: goodbye, requestID: 0, sequence: 0))
    }

    @Test func truncatedAndUnsealedFramesAreCaught() {
        let frame = Self.sealedFrames(1)[0]
        let cut = Array(frame.dropLast(3))
        #expect(Self.firstError(cut) == .truncated(bufferedBytes: cut.count))
        let plain = FrameEncoder.encode(.goodbye(reason: "x"), requestID: 9)
        #expect(Self.firstError(plain) == .missingAuthenticationTag(kind: MessageKind.goodbye.rawValue, requestID: 9))
        // A tagged frame on a session without keys is refused as well (it cannot be checked).
        var decoder = FrameDecoder()
        decoder.append(contentsOf: frame)
        #expect(throws: FrameError.unexpectedAuthenticationTag(kind: MessageKind.goodbye.rawValue, requestID: 0)) {
            try decoder.next()
        }
    }

    /// Large sealed payloads received in place, in steps, through the production reader.
    @Test func largeSealedPayloadsThroughTheReader() throws {
        let message = try FrameReaderTests.bigForward(byteCount: 3 << 20, seed: 21)
        var sender: FrameAuthenticator? = FrameAuthenticator(key: Array(repeating: 3, count: 32))
        var stream = OutgoingFrame(message, requestID: 1, placement: .trailer, flags: .authenticated).sealed(&sender)
        stream += OutgoingFrame(message, requestID: 3, placement: .none, flags: .authenticated).sealed(&sender)
        let reader = FrameReader(source: MemoryFrameSource(stream, pieceSizes: [200_001]), maxPayloadBytes: 4 << 20,
                                 onBytes: { _ in })
        reader.authenticate(with: Array(repeating: 3, count: 32))
        #expect(try reader.readFrame()?.message() == message)
        #expect(try reader.readFrame()?.message() == message)
        #expect(try reader.readFrame() == nil)
    }
}
