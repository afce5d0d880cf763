// Full denoising runs and the forward noising of the scheduler ports against diffusers.
import Foundation
import Testing
import Model

@Suite struct SchedulerStepTests {
    @Test(arguments: SchedulerFixtures.stepRunNames)
    func stepsMatchDiffusers(name: String) throws {
        let run = try SchedulerFixtures.stepRun(name)
        let scheduler = try run.configuration.makeScheduler(stepCount: run.steps)
        var state = try scheduler.initialState(beginIndex: run.beginIndex)
        var sample = run.sample
        #expect(run.modelOutputs.count == run.steps - run.beginIndex)
        var worst: Float = 0
        for (index, modelOutput) in run.modelOutputs.enumerated() {
            sample = try scheduler.step(modelOutput: modelOutput, sample: sample, state: &state)
            let error = Numerics.maxRelativeError(sample, run.outputs[index])
            worst = max(worst, error)
            #expect(error <= 1e-5, "\(name) step \(run.beginIndex + index): relative error \(error)")
            // Continue from the reference so one early difference does not hide the later steps' own errors.
            sample = run.outputs[index]
        }
        #expect(state.isFinished)
        print("scheduler run \(name): worst relative error \(worst)")
    }

    /// Straight through, without resetting to the reference: errors must not grow past the tolerance.
    @Test(arguments: SchedulerFixtures.stepRunNames)
    func freeRunningStaysClose(name: String) throws {
        let run = try SchedulerFixtures.stepRun(name)
        let scheduler = try run.configuration.makeScheduler(stepCount: run.steps)
        var state = try scheduler.initialState(beginIndex: run.beginIndex)
        var sample = run.sample
        for (index, modelOutput) in run.modelOutputs.enumerated() {
            sample = try scheduler.step(modelOutput: modelOutput, sample: sample, state: &state)
            let error = Numerics.maxRelativeError(sample, run.outputs[index])
            #expect(error <= 1e-5, "\(name) step \(run.beginIndex + index): relative error \(error)")
        }
    }

    @Test func finishedRunRefusesAnotherStep() throws {
        let run = try SchedulerFixtures.stepRun("unipc_one")
        let scheduler = try run.configuration.makeScheduler(stepCount: run.steps)
        var state = try scheduler.initialState(beginIndex: 0)
        _ = try scheduler.step(modelOutput: run.modelOutputs[0], sample: run.sample, state: &state)
        #expect(throws: SchedulerError.finished(stepCount: 1)) {
            try scheduler.step(modelOutput: run.modelOutputs[0], sample: run.sample, state: &state)
        }
    }

    @Test func mismatchedShapesAreRefusedWithoutChangingTheState() throws {
        let run = try SchedulerFixtures.stepRun("unipc_wan")
        let scheduler = try run.configuration.makeScheduler(stepCount: run.steps)
        var state = try scheduler.initialState(beginIndex: 0)
        _ = try scheduler.step(modelOutput: run.modelOutputs[0], sample: run.sample, state: &state)
        let saved = state
        let flat = run.sample.reshaped([run.sample.count])
        #expect(throws: SchedulerError.self) {
            try scheduler.step(modelOutput: run.modelOutputs[1], sample: flat, state: &state)
        }
        #expect(throws: SchedulerError.self) {
            try scheduler.step(modelOutput: flat, sample: flat, state: &state)
        }
        #expect(state == saved)
    }

    @Test func forwardNoisingMatchesScaleNoiseAndAddNoise() throws {
        let (clean, noise, cases) = try SchedulerFixtures.noiseCases()
        #expect(cases.count == 8)
        for reference in cases {
            let scheduler = try reference.configuration.makeScheduler(stepCount: reference.steps)
            let ours = try scheduler.noised(clean, noise: noise, stepIndex: reference.index)
            #expect(ours.scalars == reference.result.scalars, "\(scheduler.kind) index \(reference.index)")
        }
        let scheduler = try SchedulerConfiguration.wanDefault().makeScheduler(stepCount: 10)
        #expect(try scheduler.noised(clean, noise: noise, stepIndex: 10) == clean)
        #expect(throws: SchedulerError.stepIndexOutOfRange(index: 11, stepCount: 10)) {
            try scheduler.noised(clean, noise: noise, stepIndex: 11)
        }
        #expect(throws: SchedulerError.self) {
            try scheduler.noised(clean, noise: noise.reshaped([noise.count]), stepIndex: 0)
        }
    }
}
