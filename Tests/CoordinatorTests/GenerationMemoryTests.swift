// `generate` predicts a job's peak memory and refuses one that does not fit, naming the largest size that does.
import Foundation
import Model
import Testing

@testable import Coordinator

@Suite("Generation memory")
struct GenerationMemoryTests {
    static let demoModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/demo").path

    @Test func largestFittingSizeKeepsTheShapeAndIsTheLargest() throws {
        // A predictor of one byte per pixel: the answer is the largest 2:1 size in steps of 16 within the budget.
        let predict = { (spec: VideoJobSpec) in
            GenerationMemory(weightBytes: spec.width * spec.height - GenerationMemory.processBytes, latentBytes: 0,
                             transformerBytes: 0, vaeBytes: 0)
        }
        let spec = VideoJobSpec(prompt: "p", width: 2048, height: 1024, frames: 1)
        let found = try #require(GenerationMemory.largestFittingSize(spec: spec, multiple: 16, budget: 1_000_000, predict: predict))
        var best = (width: 0, height: 0)
        for width in stride(from: 16, through: 2048, by: 16) where width * (width / 2 / 16 * 16) <= 1_000_000 {
            best = (width, width / 2 / 16 * 16)
        }
        #expect(found == best)
        #expect(best == (1408, 704))
        #expect(GenerationMemory.largestFittingSize(spec: spec, multiple: 16, budget: 100, predict: predict) == nil)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: demoModel + "/model_index.json")))
    func generateRefusesWhatDoesNotFitAndNamesWhatDoes() throws {
        let base = ["--model", Self.demoModel, "--prompt", "a red circle", "--frames", "1", "--quiet",
                    "--out", NSTemporaryDirectory() + "memory-\(getpid()).png"]
        func refusal(_ extra: [String]) -> String {
            do { _ = try GenerateCommand.run(base + extra); return "accepted" } catch { return "\(error)" }
        }
        let message = refusal(["--width", "4096", "--height", "2048", "--memory", "300MiB"])
        #expect(message.contains("a 4096x2048 image needs about") && message.contains("300.0 MiB of --memory"), "\(message)")
        // The size it names fits the same budget, and one step larger does not.
        let size = try #require(message.firstMatch(of: /fits is (\d+)x(\d+)/))
        let (width, height) = (Int(size.1)!, Int(size.2)!)
        #expect(width == 2 * height || width == 2 * height + 16, "the shape is kept: \(width)x\(height)")
        let pipeline = try VideoGenerator(folder: try ModelFolder(path: Self.demoModel))
        let weights = GenerationMemory.weightBytes(folder: Self.demoModel)
        func predicted(_ width: Int, _ height: Int) throws -> Int {
            var spec = VideoJobSpec(prompt: "a red circle", width: width, height: height, frames: 1)
            spec.maxSequenceLength = 512
            return try GenerationMemory.estimate(spec: spec, family: pipeline.family, weightBytes: weights).totalBytes
        }
        #expect(try predicted(width, height) <= 300 << 20)
        #expect(try predicted(width + 32, height + 16) > 300 << 20)
        #expect(refusal(["--width", "64", "--height", "64", "--memory", "20MiB"]).contains("not even the smallest size fits"))
        #expect(refusal(["--memory", "lots"]).contains("option '--memory' expects a size"))
    }
}
