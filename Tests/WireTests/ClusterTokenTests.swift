// The token file: created 0600, loaded back, refused when others can read it, parsed strictly.
import Foundation
import Testing
@testable import Wire

@Suite struct ClusterTokenTests {
    static func temporaryPath() -> String {
        NSTemporaryDirectory() + "wire-token-\(UUID().uuidString)"
    }

    @Test func createThenLoad() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let created = try ClusterToken.create(at: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try ClusterToken.load(from: path) == created)
        #expect(created.bytes.count == 32)
        #expect(throws: ClusterTokenError.alreadyExists(path: path)) { try ClusterToken.create(at: path) }
    }

    @Test func refusesAFileOthersCanRead() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ClusterToken.create(at: path)
        chmod(path, 0o644)
        #expect(throws: ClusterTokenError.tooOpen(path: path, mode: 0o644)) { try ClusterToken.load(from: path) }
        let message = "\(ClusterTokenError.tooOpen(path: path, mode: 0o644))"
        #expect(message.contains("chmod 600"))
    }

    @Test func malformedContents() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (text, fragment) in [("abc", "even"), ("zz" + String(repeating: "00", count: 20), "not a hex digit"),
                                 ("0011", "expected 16")] {
            try? FileManager.default.removeItem(atPath: path)
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            #expect(throws: ClusterTokenError.self) { try ClusterToken.load(from: path) }
            do { _ = try ClusterToken.load(from: path) } catch { #expect("\(error)".contains(fragment)) }
        }
        #expect(throws: ClusterTokenError.missing(path: path + "-none")) { try ClusterToken.load(from: path + "-none") }
    }
}
