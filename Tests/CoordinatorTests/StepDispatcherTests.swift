// Tests of the step dispatcher: bounded in-flight work, any completion order, re-queue on pipeline failure.
import Testing
@testable import Coordinator

@Suite struct StepDispatcherTests {
    @Test func respectsCapacityAndBalancesPipelines() {
        var dispatcher = StepDispatcher(units: Array(0..<10), pipelineCount: 2, capacityPerPipeline: 2)
        let first = dispatcher.fill()
        #expect(first == [.send(0, pipeline: 0), .send(1, pipeline: 1), .send(2, pipeline: 0), .send(3, pipeline: 1)])
        let (accepted, next) = dispatcher.complete(2, pipeline: 0)
        #expect(accepted)
        #expect(next == [.send(4, pipeline: 0)])
    }

    @Test func completesInAnyOrderAndIgnoresDuplicates() {
        var dispatcher = StepDispatcher(units: Array(0..<6), pipelineCount: 3, capacityPerPipeline: 4)
        var sentTo: [Int: Int] = [:]
        for case .send(let unit, let pipeline) in dispatcher.fill() { sentTo[unit] = pipeline }
        #expect(sentTo.count == 6)
        var finished = false
        for unit in [5, 0, 3, 1, 4, 2] {
            let (accepted, actions) = dispatcher.complete(unit, pipeline: sentTo[unit]!)
            #expect(accepted)
            if actions.contains(.stepComplete) { finished = true }
        }
        #expect(finished && dispatcher.isComplete)
        #expect(dispatcher.complete(3, pipeline: sentTo[3]!).accepted == false)
    }

    @Test func failedPipelineWorkIsRequeuedAndStaleResultsDropped() {
        let units = Array(0..<4)
        var dispatcher = StepDispatcher(units: units, pipelineCount: 2, capacityPerPipeline: 2)
        _ = dispatcher.fill()  // 0,2 -> pipeline 0; 1,3 -> pipeline 1
        let actions = dispatcher.pipelineFailed(1, order: units)
        #expect(actions.isEmpty, "pipeline 0 is full")
        #expect(dispatcher.queue == [1, 3])
        #expect(dispatcher.complete(1, pipeline: 1).accepted == false, "a result from the dead pipeline is stale")
        let (_, refill) = dispatcher.complete(0, pipeline: 0)
        #expect(refill == [.send(1, pipeline: 0)])
        _ = dispatcher.complete(2, pipeline: 0)
        _ = dispatcher.complete(1, pipeline: 0)
        let (_, last) = dispatcher.complete(3, pipeline: 0)
        #expect(last == [.stepComplete])
    }

    @Test func noPipelinesLeftIsStalled() {
        var dispatcher = StepDispatcher(units: [1, 2], pipelineCount: 1, capacityPerPipeline: 1)
        _ = dispatcher.fill()
        _ = dispatcher.pipelineFailed(0, order: [1, 2])
        #expect(dispatcher.isStalled)
        #expect(dispatcher.queue == [1, 2])
    }
}
