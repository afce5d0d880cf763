// Checkpointing a scheduler run: encode -> decode -> continue is bit-identical; bad saved states are refused.
import Foundation
import Testing
import Model

@Suite struct SchedulerStateTests {
    /// Runs `run` from `state`/`sample` at model-output position `from` to the end; returns every output.
    private func finish(
        _ scheduler: any DiffusionScheduler, _ run: SchedulerFixtures.StepRun, from: Int,
        state: inout SchedulerState, sample: Tensor
    ) throws -> [Tensor] {
        var sample = sample
        var outputs: [Tensor] = []
        for modelOutput in run.modelOutputs[from...] {
            sample = try scheduler.step(modelOutput: modelOutput, sample: sample, state: &state)
            outputs.append(sample)
        }
        return outputs
    }

    private func bits(_ tensors: [Tensor]) -> [[UInt32]] {
        tensors.map { $0.scalars.map(\.bitPattern) }
    }

    @Test(arguments: SchedulerFixtures.stepRunNames)
    func resumeAfterEveryStepIsBitIdentical(name: String) throws {
        let run = try SchedulerFixtures.stepRun(name)
        let scheduler = try run.configuration.makeScheduler(stepCount: run.steps)
        var straightState = try scheduler.initialState(beginIndex: run.beginIndex)
        let straight = try finish(scheduler, run, from: 0, state: &straightState, sample: run.sample)

        for split in 0...run.modelOutputs.count {
            var state = try scheduler.initialState(beginIndex: run.beginIndex)
            var head = try finish(
                scheduler,
                SchedulerFixtures.StepRun(
                    name: run.name, configuration: run.configuration, steps: run.steps, beginIndex: run.beginIndex,
                    sample: run.sample, modelOutputs: Array(run.modelOutputs[..<split]), outputs: []),
                from: 0, state: &state, sample: run.sample)
            let saved = try JSONEncoder().encode(state)
            var restored = try JSONDecoder().decode(SchedulerState.self, from: saved)
            #expect(restored == state)
            // Rebuilt from its parts, as a checkpoint that keeps the tensors elsewhere would.
            let rebuilt = SchedulerState(
                kind: restored.kind, stepCount: restored.stepCount, stepIndex: restored.stepIndex,
                lowerOrderCount: restored.lowerOrderCount, lastOrder: restored.lastOrder,
                modelOutputs: restored.modelOutputs, lastSample: restored.lastSample)
            #expect(rebuilt == state)
            // A fresh scheduler object, as after a coordinator restart.
            let fresh = try run.configuration.makeScheduler(stepCount: run.steps)
            head += try finish(
                fresh, run, from: split, state: &restored, sample: head.last ?? run.sample)
            #expect(bits(head) == bits(straight), "\(name): resumed after \(split) steps differs")
        }
    }

    @Test func stateOfAnotherSchedulerIsRefused() throws {
        let unipc = try SchedulerConfiguration.wanDefault().makeScheduler(stepCount: 10)
        let euler = try SchedulerConfiguration.euler(.init(shift: 3)).makeScheduler(stepCount: 10)
        let other = try SchedulerConfiguration.wanDefault().makeScheduler(stepCount: 12)
        let sample = Tensor(repeating: 0.5, shape: [1, 2, 3])
        var state = try unipc.initialState(beginIndex: 0)
        #expect(throws: SchedulerError.self) { try euler.step(modelOutput: sample, sample: sample, state: &state) }
        #expect(throws: SchedulerError.self) { try other.step(modelOutput: sample, sample: sample, state: &state) }
        #expect(throws: SchedulerError.stepIndexOutOfRange(index: 11, stepCount: 10)) {
            try unipc.initialState(beginIndex: 11)
        }
    }

    /// Edits one field of an encoded state and returns the JSON.
    private func edited(_ state: SchedulerState, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    @Test func corruptSavedStatesAreRefused() throws {
        let run = try SchedulerFixtures.stepRun("unipc_wan")
        let scheduler = try run.configuration.makeScheduler(stepCount: run.steps)
        var state = try scheduler.initialState(beginIndex: 0)
        var sample = run.sample
        for modelOutput in run.modelOutputs[0..<3] {
            sample = try scheduler.step(modelOutput: modelOutput, sample: sample, state: &state)
        }
        let decoder = JSONDecoder()

        // Tensor payloads: not base64, wrong byte count, absurd shape.
        let badBase64 = try edited(state) { $0["last_sample"] = ["shape": [2], "float32_le": "!!!"] }
        #expect(throws: SchedulerError.self) { try decoder.decode(SchedulerState.self, from: badBase64) }
        let shortPayload = try edited(state) { $0["last_sample"] = ["shape": [2, 3], "float32_le": "AAAAAA=="] }
        #expect(throws: SchedulerError.self) { try decoder.decode(SchedulerState.self, from: shortPayload) }
        let hugeShape = try edited(state) {
            $0["last_sample"] = ["shape": [Int.max, Int.max], "float32_le": ""]
        }
        #expect(throws: SchedulerError.self) { try decoder.decode(SchedulerState.self, from: hugeShape) }
        let negativeShape = try edited(state) { $0["last_sample"] = ["shape": [-1], "float32_le": ""] }
        #expect(throws: SchedulerError.self) { try decoder.decode(SchedulerState.self, from: negativeShape) }

        // Counters that do not fit the history are refused at the next step, which leaves the state alone.
        for (key, value) in [("lower_order_count", 7), ("last_order", 3), ("step_index", 42), ("step_index", -1)] {
            let data = try edited(state) { $0[key] = value }
            var corrupt = try decoder.decode(SchedulerState.self, from: data)
            let before = corrupt
            #expect(throws: SchedulerError.self, "\(key) = \(value)") {
                try scheduler.step(modelOutput: run.modelOutputs[3], sample: sample, state: &corrupt)
            }
            #expect(corrupt == before)
        }
        let emptied = try edited(state) { $0["model_outputs"] = [NSNull(), NSNull()] }
        var missingHistory = try decoder.decode(SchedulerState.self, from: emptied)
        #expect(throws: SchedulerError.self) {
            try scheduler.step(modelOutput: run.modelOutputs[3], sample: sample, state: &missingHistory)
        }
        let wrongKind = try edited(state) { $0["kind"] = "ddim" }
        #expect(throws: (any Error).self) { try decoder.decode(SchedulerState.self, from: wrongKind) }
    }
}
