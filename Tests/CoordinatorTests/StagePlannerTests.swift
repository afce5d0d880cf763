// Tests of layer placement: memory limits, proportional splits, refusals that name the missing memory.
import Testing
@testable import Coordinator

@Suite struct StagePlannerTests {
    static let mib = 1 << 20
    static let model = PlanningModel(
        layerCount: 30, bytesPerLayer: 100 * mib,
        activationBytes: 8 * mib, workspaceBytes: 64 * mib, jobContextBytes: 4 * mib,
        processOverheadBytes: 50 * mib, unitsPerStep: 2)

    static func worker(_ name: String, _ memoryMiB: Int, speed: Double = 1) -> PlanningWorker {
        PlanningWorker(name: name, memoryBytes: memoryMiB * mib, layersPerSecond: speed)
    }

    @Test func layersAreContiguousCompleteAndWithinBudgets() throws {
        let workers = [Self.worker("a", 2000), Self.worker("b", 2000)]
        let plan = try StagePlanner.plan(model: Self.model, workers: workers, maxInflightPerStage: 2)
        #expect(plan.pipelines.count == 1)
        let stages = plan.pipelines[0]
        #expect(stages.first?.layers.lowerBound == 0 && stages.last?.layers.upperBound == 30)
        for (a, b) in zip(stages, stages.dropFirst()) { #expect(a.layers.upperBound == b.layers.lowerBound) }
        for stage in stages {
            #expect(stage.predictedPeakBytes <= 2000 * Self.mib)
        }
    }

    @Test func tooLittleMemoryIsRefusedNamingWhatIsMissingThenAcceptedWithAnotherWorker() throws {
        let two = [Self.worker("a", 1200), Self.worker("b", 1200)]
        do {
            _ = try StagePlanner.plan(model: Self.model, workers: two, maxInflightPerStage: 2)
            Issue.record("a model that cannot fit was accepted")
        } catch let error as PlanningError {
            #expect(error.description.contains("do not fit"))
            #expect(error.description.contains("a: budget"))
        }
        let three = two + [Self.worker("c", 1200)]
        let plan = try StagePlanner.plan(model: Self.model, workers: three, maxInflightPerStage: 2)
        #expect(plan.pipelines[0].map(\.layers.count).reduce(0, +) == 30)
    }

    @Test func aSmallWorkerGetsFewerLayers() throws {
        let workers = [Self.worker("big", 3000), Self.worker("small", 900)]
        let stages = try StagePlanner.plan(model: Self.model, workers: workers, maxInflightPerStage: 2).pipelines[0]
        let small = try #require(stages.first { $0.worker == "small" })
        let big = try #require(stages.first { $0.worker == "big" })
        #expect(small.layers.count < big.layers.count)
        #expect(small.predictedPeakBytes <= 900 * Self.mib)
    }

    @Test func aFasterWorkerGetsMoreLayers() throws {
        let workers = [Self.worker("slow", 8000, speed: 1), Self.worker("fast", 8000, speed: 3)]
        let stages = try StagePlanner.plan(model: Self.model, workers: workers, maxInflightPerStage: 2).pipelines[0]
        #expect(stages.map(\.layers.count) == [8, 22] || stages.map(\.layers.count) == [7, 23])
    }

    @Test func replicasAreChosenWhenEachWorkerHoldsTheModelAndThereAreManyUnits() throws {
        var model = Self.model
        model.unitsPerStep = 12
        let workers = [Self.worker("a", 8000), Self.worker("b", 8000)]
        let plan = try StagePlanner.plan(model: model, workers: workers, maxInflightPerStage: 2)
        #expect(plan.pipelines.count == 2)
        #expect(plan.pipelines.allSatisfy { $0.count == 1 && $0[0].layers == 0..<30 })
    }
}
