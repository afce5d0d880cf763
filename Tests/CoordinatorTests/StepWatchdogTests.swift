// Tests of the lost-micro-batch watchdog: units without a result past the bound are redone, late results count once.
import Testing
@testable import Coordinator

@Suite struct StepWatchdogTests {
    static func started(_ units: [Int], pipelines: Int = 1, capacity: Int = 2, at time: Double = 0) -> StepDispatcher<Int> {
        var dispatcher = StepDispatcher(units: units, pipelineCount: pipelines, capacityPerPipeline: capacity)
        for case .send(let unit, _) in dispatcher.fill() { dispatcher.markSent(unit, at: time) }
        return dispatcher
    }

    @Test func aUnitWithoutResultPastTheBoundIsSentAgain() {
        var dispatcher = Self.started([0, 1, 2])
        #expect(dispatcher.expire(now: 9, bound: 10, order: [0, 1, 2]).lost.isEmpty)
        let (_, next) = dispatcher.complete(0, pipeline: 0)
        #expect(next == [.send(2, pipeline: 0)])
        dispatcher.markSent(2, at: 5)
        let (lost, actions) = dispatcher.expire(now: 11, bound: 10, order: [0, 1, 2])
        #expect(lost.map(\.unit) == [1] && lost.map(\.pipeline) == [0])
        #expect(actions == [.send(1, pipeline: 0)], "its slot is free again, so it is sent again at once")
        #expect(dispatcher.lossCount[1] == 1)
        #expect(dispatcher.sentAt[1] == nil, "the clock restarts when the caller marks the new send")
        #expect(dispatcher.complete(2, pipeline: 0).actions.isEmpty)
        #expect(dispatcher.complete(1, pipeline: 0).actions == [.stepComplete])
    }

    @Test func aLateResultCountsOnce() {
        var dispatcher = Self.started([0, 1], pipelines: 2, capacity: 1)  // 0 -> p0, 1 -> p1
        let (lost, again) = dispatcher.expire(now: 20, bound: 10, order: [0, 1])
        #expect(lost.map(\.unit) == [0, 1])
        #expect(again == [.send(0, pipeline: 0), .send(1, pipeline: 1)])
        // The first result of unit 0 (the late original or the redo) counts; the other is a duplicate.
        #expect(dispatcher.complete(0, pipeline: 0).accepted)
        #expect(dispatcher.complete(0, pipeline: 0).accepted == false)
        #expect(dispatcher.complete(1, pipeline: 1).actions == [.stepComplete])
        #expect(dispatcher.complete(1, pipeline: 1).accepted == false)
    }

    @Test func lostUnitsReturnInStepOrderAndAFailedPipelineIsNotWatched() {
        var dispatcher = Self.started([0, 1, 2, 3], pipelines: 2, capacity: 2)  // 0, 2 -> p0; 1, 3 -> p1
        _ = dispatcher.pipelineFailed(1, order: [0, 1, 2, 3])
        #expect(dispatcher.queue == [1, 3])
        let (lost, actions) = dispatcher.expire(now: 100, bound: 10, order: [0, 1, 2, 3])
        #expect(lost.map(\.unit) == [0, 2], "units 1 and 3 are queued, not in flight")
        #expect(actions == [.send(0, pipeline: 0), .send(2, pipeline: 0)])
        #expect(dispatcher.queue == [1, 3])
    }

    @Test func theBoundFollowsObservedRoundTripsWithAFloor() {
        var watchdog = UnitWatchdog()
        #expect(watchdog.boundSeconds == UnitWatchdog.unmeasuredSeconds)
        watchdog.predicted = 3
        #expect(watchdog.boundSeconds == 30)
        watchdog.observe(0.2)
        #expect(watchdog.boundSeconds == UnitWatchdog.floorSeconds)
        watchdog.observe(7)
        watchdog.observe(1)
        #expect(watchdog.boundSeconds == 28)
        watchdog.observe(.nan)
        #expect(watchdog.boundSeconds == 28)
    }

    @Test func predictedRoundTripCoversTheSlowestPipelineAndTheQueue() {
        func stage(_ worker: String, _ seconds: Double) -> PlannedStage {
            PlannedStage(worker: worker, layers: 0..<1, predictedPeakBytes: 0,
                         secondsPerMicroBatch: seconds)
        }
        var plan = StagePlan(pipelines: [[stage("a", 1), stage("b", 2)], [stage("c", 0.5)]], predictedSecondsPerStep: 9, idleWorkers: [])
        #expect(UnitWatchdog.predictedRoundTrip(plan, inflight: 2) == nil, "speeds not measured")
        plan.secondsAreMeasured = true
        #expect(UnitWatchdog.predictedRoundTrip(plan, inflight: 2) == 5)  // 1 + 2 through, 1 x 2 behind
    }
}
