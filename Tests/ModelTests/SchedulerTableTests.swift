// Timestep and sigma tables of the scheduler ports against diffusers' set_timesteps.
import Foundation
import Testing
import Model

@Suite struct SchedulerTableTests {
    @Test func tablesMatchDiffusers() throws {
        let cases = try SchedulerFixtures.tableCases()
        #expect(cases.count >= 20)
        for reference in cases {
            let scheduler = try reference.configuration.makeScheduler(stepCount: reference.steps)
            #expect(scheduler.stepCount == reference.steps, "\(reference.name)")
            #expect(scheduler.timesteps.count == reference.timesteps.count, "\(reference.name)")
            #expect(scheduler.sigmas.count == reference.sigmas.count, "\(reference.name)")
            guard scheduler.sigmas.count == reference.sigmas.count,
                scheduler.timesteps.count == reference.timesteps.count
            else { continue }
            for (ours, theirs) in zip(scheduler.sigmas, reference.sigmas) {
                #expect(abs(ours - theirs) <= 1e-6, "\(reference.name) sigma \(ours) vs \(theirs)")
            }
            for (ours, theirs) in zip(scheduler.timesteps, reference.timesteps) {
                if scheduler.kind == .unipc {
                    #expect(Double(ours) == theirs, "\(reference.name) timestep \(ours) vs \(theirs)")
                } else {
                    #expect(abs(Double(ours) - theirs) <= 1e-6 * max(1, abs(theirs)),
                        "\(reference.name) timestep \(ours) vs \(theirs)")
                }
            }
        }
    }

    /// The float32 and float64 stages reproduce diffusers bit for bit on these cases, not just within tolerance.
    /// (The fixture's decimals are parsed as doubles and rounded to float32, which recovers the float32 values
    /// exactly even where the JSON parser is off by a double ulp.)
    @Test func tablesAreBitExact() throws {
        var mismatches: [String] = []
        for reference in try SchedulerFixtures.tableCases() {
            let scheduler = try reference.configuration.makeScheduler(stepCount: reference.steps)
            if scheduler.sigmas != reference.sigmas || scheduler.timesteps != reference.timesteps.map({ Float($0) }) {
                mismatches.append(reference.name)
            }
        }
        #expect(mismatches.isEmpty, "tables not bit-identical: \(mismatches)")
    }

    @Test func sdeditBeginIndexFollowsTheVideoToVideoPipeline() throws {
        let scheduler = try SchedulerConfiguration.wanDefault().makeScheduler(stepCount: 10)
        #expect(try scheduler.beginIndex(strength: 1) == 0)
        #expect(try scheduler.beginIndex(strength: 0.6) == 4)
        #expect(try scheduler.beginIndex(strength: 0.65) == 4)
        #expect(try scheduler.beginIndex(strength: 0) == 10)
        #expect(throws: SchedulerError.self) { try scheduler.beginIndex(strength: 1.5) }
        #expect(throws: SchedulerError.self) { try scheduler.beginIndex(strength: .nan) }
    }

    @Test func stepCountIsBounded() throws {
        let configuration = SchedulerConfiguration.wanDefault()
        #expect(throws: SchedulerError.invalidStepCount(0)) { try configuration.makeScheduler(stepCount: 0) }
        #expect(throws: SchedulerError.invalidStepCount(-3)) { try configuration.makeScheduler(stepCount: -3) }
        #expect(throws: SchedulerError.invalidStepCount(1_000_000)) {
            try configuration.makeScheduler(stepCount: 1_000_000)
        }
    }
}
