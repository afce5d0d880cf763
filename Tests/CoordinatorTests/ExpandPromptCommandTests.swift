// `--expand-prompt` through `coordinator generate` and the cluster job request.
import Foundation
import Cluster
import Model
import Testing

@testable import Coordinator

@Suite("--expand-prompt")
struct ExpandPromptCommandTests {
    private func fixturePath(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    /// Runs a one-frame `generate` on the pipeline fixture model and returns the output bytes.
    private func generate(_ extra: [String]) throws -> Data {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("expand-\(UUID().uuidString).y4m").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let status = try GenerateCommand.run([
            "--model", fixturePath("pipeline/model"), "--prompt", "a red circle", "--frames", "1", "--width", "32",
            "--height", "32", "--steps", "2", "--guidance", "1", "--threads", "1", "--quiet", "--out", out,
        ] + extra)
        #expect(status == 0)
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    @Test(
        "generate runs the expanded prompt: another video than the short prompt, the same one every time",
        .enabled(
            if: ProcessInfo.processInfo.environment[PromptExpansionConfiguration.baseVariable] == nil,
            "SORA_PROMPT_API_BASE is set: the template expander would not be used"))
    func generateUsesTheExpandedPrompt() throws {
        let plain = try generate([])
        let expanded = try generate(["--expand-prompt"])
        let again = try generate(["--expand-prompt"])
        #expect(plain != expanded)
        #expect(expanded == again)
    }

    @Test("a cluster job carries --expand-prompt as a flag")
    func jobRequestCarriesTheFlag() throws {
        var request = JobRequest(prompt: "a cat")
        request.expandPrompt = true
        let decoded = try JobRequest.decode(ArraySlice(try request.encoded()))
        #expect(decoded.expandPrompt)
        let bad = Array(#"{"version": 2, "prompt": "a cat", "expand_prompt": "yes"}"#.utf8)
        #expect(throws: (any Error).self) { try JobRequest.decode(ArraySlice(bad)) }
    }
}
