// Tests of the strict cluster.yaml reader: the example file, and errors that carry line numbers.
import Foundation
import Testing
@testable import Coordinator

@Suite struct ClusterConfigTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func exampleFileParses() throws {
        let path = Self.repositoryRoot.appendingPathComponent("cluster.yaml").path
        let config = try ClusterConfig.load(path: path)
        #expect(config.listen == HostPort(host: "127.0.0.1", port: 7700))
        #expect(config.workers.map(\.name) == ["w0", "w1"])
        #expect(config.workers[1].address.port == 7702)
        #expect(config.workers[0].memoryBytes == 4 << 30)
        #expect(config.scheduler == SchedulerSettings(windowFrames: 21, windowOverlap: 5, maxInflightPerStage: 2))
        #expect(config.tokenFile.hasSuffix("/.cluster/token"))
        #expect(config.model == "models/demo")
    }

    static let badFiles: [(text: String, expected: String)] = [
        ("coordinator:\n  listen: 127.0.0.1:7700\n  state_dir: s\ntoken_file: t\nmodel: m\nworkers: [a, b]\n", "line 6"),
        ("coordinator:\n  listen: 127.0.0.1:7700\n  state_dir: s\n  colour: red\ntoken_file: t\nmodel: m\nworkers:\n  - name: a\n    address: h:1\n", "line 4: unknown field 'colour'"),
        ("coordinator:\n  listen: 127.0.0.1\n  state_dir: s\ntoken_file: t\nmodel: m\nworkers:\n  - name: a\n    address: h:1\n", "expected host:port"),
        ("coordinator:\n\tlisten: x\n", "line 2: tabs"),
        ("coordinator:\n  listen: 127.0.0.1:1\n  state_dir: s\ntoken_file: t\nmodel: m\nworkers:\n  - name: a\n    address: h:1\n    memory: lots\n", "line 9: bad memory size 'lots'"),
        ("coordinator:\n  listen: 127.0.0.1:1\n  state_dir: s\ntoken_file: t\nmodel: m\nworkers:\n  - name: a\n    address: h:1\n  - name: a\n    address: h:2\n", "duplicate worker name 'a'"),
        ("coordinator:\n  listen: 127.0.0.1:1\n  state_dir: s\ntoken_file: t\ntoken_file: u\n", "line 5: duplicate key 'token_file'"),
        ("coordinator:\n  listen: 127.0.0.1:1\n  state_dir: s\nmodel: m\nworkers:\n  - name: a\n    address: h:1\n", "missing 'token_file'"),
        ("coordinator:\n  listen: 127.0.0.1:1\n  state_dir: s\ntoken_file: t\nmodel: m\nworkers:\n  - name: a\n    address: h:1\nscheduler:\n  window_frames: 5\n  window_overlap: 5\n", "window_overlap (5) must be less"),
        ("a: &anchor x\n", "line 1: '&'"),
    ]

    @Test(arguments: badFiles.indices)
    func badFilesAreRefusedWithTheLineAndField(index: Int) {
        let (text, expected) = Self.badFiles[index]
        do {
            _ = try ClusterConfig.parse(text)
            Issue.record("accepted a bad file; expected an error containing \(expected)")
        } catch {
            #expect("\(error)".contains(expected), "got: \(error)")
        }
    }

    @Test func yamlSubsetParsesNestedStructures() throws {
        let value = try YAMLSubset.parse("a: 1 # comment\nb:\n  - x\n  - 'y # not a comment'\nc:\n  d: \"q\"\n")
        let expected = YAMLValue.map([
            ("a", .scalar("1", line: 1), 1),
            ("b", .list([.scalar("x", line: 3), .scalar("y # not a comment", line: 4)], line: 3), 2),
            ("c", .map([("d", .scalar("q", line: 6), 6)], line: 6), 5),
        ], line: 1)
        #expect(value == expected)
    }

    @Test func addressesParse() throws {
        #expect(try HostPort(parsing: "[::1]:7700") == HostPort(host: "::1", port: 7700))
        #expect(throws: ClusterConfigError.self) { try HostPort(parsing: "::1:7700") }
        #expect(throws: ClusterConfigError.self) { try HostPort(parsing: "host:70000") }
    }
}
