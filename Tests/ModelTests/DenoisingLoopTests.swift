// Tests of the windowed denoising loop: one window is the plain scheduler loop; windows blend in a fixed
// order, so completion order does not matter; a long job with several windows runs to the end.
import Foundation
import Testing
@testable import Model

@Suite struct DenoisingLoopTests {
    /// A stand-in for the transformer: a fixed, position-dependent function of its input and branch.
    static func fakeModel(_ input: WorkUnitInput) -> Tensor {
        var output = input.hiddenStates
        let branchOffset: Float = input.id.branch == .conditional ? 0.3 : -0.2
        output.withUnsafeMutableBufferPointer { values in
            for index in values.indices {
                values[index] = 0.7 * values[index] + branchOffset + 0.001 * Float(index % 17) + input.timestep / 5000
            }
        }
        return output
    }

    static func makeLoop(latentFrames: Int, window: Int, overlap: Int, guidance: Float, steps: Int = 4) throws -> DenoisingLoop {
        let scheduler = try UniPCMultistepScheduler(config: UniPCMultistepConfig(flowShift: 3.0), stepCount: steps)
        let latents = Tensor.randomNormal(shape: [1, 4, latentFrames, 3, 5], seed: 9, stream: 1)
        let plan = try WindowPlan(latentFrames: latentFrames, windowFrames: window, overlap: overlap)
        return try DenoisingLoop(
            plan: plan, guidanceScale: guidance, scheduler: scheduler, latents: latents,
            schedulerState: try scheduler.initialState(beginIndex: 0))
    }

    static func run(_ loop: inout DenoisingLoop, order: ([WorkUnitID]) -> [WorkUnitID]) throws {
        while !loop.isFinished {
            var results: [WorkUnitID: Tensor] = [:]
            for unit in order(loop.pendingUnits()) {
                results[unit] = fakeModel(try loop.input(for: unit))
            }
            try loop.advance(with: results)
        }
    }

    @Test func oneWindowIsThePlainGuidedSchedulerLoop() throws {
        var loop = try Self.makeLoop(latentFrames: 3, window: 21, overlap: 5, guidance: 5)
        let scheduler = loop.scheduler
        var state = loop.schedulerState
        var sample = loop.latents
        while !state.isFinished {
            let input = WorkUnitInput(
                id: WorkUnitID(step: state.stepIndex, window: 0, branch: .conditional), hiddenStates: sample,
                timestep: scheduler.timesteps[state.stepIndex])
            let conditional = Self.fakeModel(input)
            let unconditional = Self.fakeModel(
                WorkUnitInput(id: WorkUnitID(step: state.stepIndex, window: 0, branch: .unconditional),
                              hiddenStates: sample, timestep: input.timestep))
            let guided = Tensor(shape: sample.shape, scalars: zip(conditional.scalars, unconditional.scalars).map { c, u in
                u + 5 * (c - u)
            })
            sample = try scheduler.step(modelOutput: guided, sample: sample, state: &state)
        }
        try Self.run(&loop) { $0 }
        #expect(loop.latents == sample, "bit-identical to the plain loop")
    }

    @Test func resultDoesNotDependOnCompletionOrder() throws {
        var forward = try Self.makeLoop(latentFrames: 50, window: 21, overlap: 5, guidance: 4)
        var shuffled = forward
        #expect(forward.plan.windows.count >= 3, "more than two windows")
        try Self.run(&forward) { $0 }
        var generator = SplitMixGenerator(state: 7)
        try Self.run(&shuffled) { $0.shuffled(using: &generator) }
        #expect(forward.latents == shuffled.latents)
        #expect(forward.latents.scalars.allSatisfy { $0.isFinite })
        #expect(forward.isFinished && forward.stepIndex == 4)
    }

    @Test func missingOrMisshapenResultsAreRefused() throws {
        var loop = try Self.makeLoop(latentFrames: 30, window: 21, overlap: 5, guidance: 1)
        let units = loop.pendingUnits()
        #expect(units.count == loop.plan.windows.count, "no unconditional branch without guidance")
        var results: [WorkUnitID: Tensor] = [:]
        for unit in units.dropLast() { results[unit] = Self.fakeModel(try loop.input(for: unit)) }
        #expect(throws: DenoisingLoopError.self) { try loop.advance(with: results) }
        results[units.last!] = Tensor(zeros: [1, 4, 2, 3, 5])
        #expect(throws: DenoisingLoopError.self) { try loop.advance(with: results) }
        #expect(loop.stepIndex == 0, "a failed advance changes nothing")
    }
}

/// A tiny seeded generator for shuffling in tests.
struct SplitMixGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 1
        return KeyedRandom.mix(state)
    }
}

@Suite struct GenerationCheckpointTests {
    @Test func resumingFromEveryStepGivesTheSameResult() throws {
        var straight = try DenoisingLoopTests.makeLoop(latentFrames: 30, window: 21, overlap: 5, guidance: 3, steps: 5)
        let start = straight
        try DenoisingLoopTests.run(&straight) { $0 }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for stop in 0..<5 {
            var loop = start
            for _ in 0..<stop {
                var results: [WorkUnitID: Tensor] = [:]
                for unit in loop.pendingUnits() { results[unit] = DenoisingLoopTests.fakeModel(try loop.input(for: unit)) }
                try loop.advance(with: results)
            }
            let path = directory.appendingPathComponent("step\(stop).safetensors").path
            try GenerationCheckpoint.save(loop, job: "job-1", to: path)
            var resumed = try GenerationCheckpoint.load(
                path: path, job: "job-1", plan: loop.plan, guidanceScale: 3, scheduler: loop.scheduler)
            #expect(resumed.stepIndex == stop)
            try DenoisingLoopTests.run(&resumed) { $0 }
            #expect(resumed.latents == straight.latents, "resumed after step \(stop)")
        }
    }

    @Test func aCheckpointOfAnotherJobIsRefused() throws {
        let loop = try DenoisingLoopTests.makeLoop(latentFrames: 3, window: 21, overlap: 5, guidance: 3)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-other-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try GenerationCheckpoint.save(loop, job: "job-1", to: path)
        #expect(throws: GenerationCheckpointError.self) {
            _ = try GenerationCheckpoint.load(path: path, job: "job-2", plan: loop.plan, guidanceScale: 3, scheduler: loop.scheduler)
        }
    }
}
