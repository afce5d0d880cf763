// A job longer than two windows runs end to end on a generated tiny model and streams every frame out.
import Foundation
import Testing
@testable import Model

@Suite struct LongVideoTests {
    final class CountingSink: VideoSink {
        var frames = 0
        var chunkSizes: [Int] = []
        var finalLatents: Tensor?
        func consume(_ chunk: Tensor) throws {
            frames += chunk.shape[2]
            chunkSizes.append(chunk.shape[2])
            #expect(chunk.scalars.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
        }
        func finish(latents: Tensor) throws { finalLatents = latents }
    }

    @Test func threeWindowJobRunsAndStreams() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("long-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 3), to: directory)
        let pipeline = try VideoGenerator(folder: try ModelFolder(path: directory))
        var spec = VideoJobSpec(prompt: "a long shot", width: 32, height: 32, frames: 4 * 44 + 1)
        spec.steps = 2
        spec.guidanceScale = 2
        let plan = try WindowPlan(latentFrames: spec.latentFrames, windowFrames: spec.windowFrames, overlap: spec.windowOverlap)
        #expect(plan.windows.count >= 3)
        let sink = CountingSink()
        var units = 0
        try pipeline.generate(spec, into: sink) { event in
            if case .unit = event { units += 1 }
        }
        #expect(units == spec.steps * plan.windows.count * 2)
        #expect(sink.frames == spec.frames)
        #expect(sink.chunkSizes.first == 1 && sink.chunkSizes.dropFirst().allSatisfy { $0 == 4 }, "streamed chunk by chunk")
        #expect(sink.finalLatents?.shape == [1, 16, 45, 4, 4])
    }
}
