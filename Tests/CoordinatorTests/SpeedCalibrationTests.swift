// Tests of speed calibration in placement: measured speeds split the layers, noise does not move them.
import Foundation
import Model
import Testing
@testable import Coordinator

@Suite struct SpeedCalibrationTests {
    static let mib = 1 << 20
    /// 30 blocks of 100 MiB, one micro-batch of 1e9 FLOPs per block. A default worker (2900 MiB) holds 27 blocks,
    /// so every plan here is one pipeline.
    static let model = PlanningModel(
        layerCount: 30, bytesPerLayer: 100 * mib, activationBytes: 8 * mib,
        workspaceBytes: 64 * mib, jobContextBytes: 4 * mib, processOverheadBytes: 50 * mib, unitsPerStep: 2,
        flopsPerLayer: 1e9)

    static func entry(_ name: String, memoryMiB: Int = 2900, threads: Int = 1) throws -> WorkerEntry {
        WorkerEntry(name: name, address: try HostPort(parsing: "127.0.0.1:7701"), memoryBytes: memoryMiB * mib, threads: threads)
    }

    static func split(_ measured: [String: Double], entries: [WorkerEntry]) throws -> [Int] {
        let workers = SpeedCalibration.planningWorkers(entries, measured: measured, flopsPerLayer: model.flopsPerLayer)
        let plan = try StagePlanner.plan(model: model, workers: workers, maxInflightPerStage: 2)
        #expect(plan.pipelines.count == 1)
        return plan.pipelines[0].map(\.layers.count)
    }

    @Test func aSlowWorkerGetsFewerLayers() throws {
        let entries = [try Self.entry("fast"), try Self.entry("slow")]
        #expect(try Self.split(["fast": 100, "slow": 50], entries: entries) == [20, 10])
        let quarter = try Self.split(["fast": 100, "slow": 25], entries: entries)
        #expect(quarter == [24, 6])
    }

    @Test func fivePercentJitterDoesNotChangeTheSplit() throws {
        let entries = [try Self.entry("a"), try Self.entry("b"), try Self.entry("c")]
        let jitters: [Double] = [0.95, 0.97, 1.0, 1.03, 1.05]
        var splits: Set<[Int]> = []
        for ja in jitters {
            for jb in jitters {
                for jc in jitters {
                    splits.insert(try Self.split(["a": 100 * ja, "b": 100 * jb, "c": 50 * jc], entries: entries))
                }
            }
        }
        #expect(splits == [[12, 12, 6]], "splits seen: \(splits)")
        // Equal machines measured a few percent apart are planned as exactly equal.
        let equal = SpeedCalibration.planningWorkers(
            entries, measured: ["a": 121.9, "b": 126.4, "c": 128.4], flopsPerLayer: 1e9)
        #expect(Set(equal.map(\.layersPerSecond)).count == 1)
    }

    @Test func bucketsAreThirdOctavesRelativeToTheFastest() {
        let close = SpeedCalibration.bucketed([104, 96])
        #expect(close[0] == close[1])
        let speeds = SpeedCalibration.bucketed([128, 64, 40])
        #expect(speeds[0] == 128)
        #expect(speeds[1] == 64)
        #expect(abs(speeds[2] - 128 * exp2(-5.0 / 3)) < 1e-9)  // 40/128 = 2^-1.68, nearest third is 2^-5/3
    }

    @Test func measuredSpeedsGiveSecondsAndThreadsAreTheFallback() throws {
        let entries = [try Self.entry("a", threads: 2), try Self.entry("b", threads: 1)]
        // No measurement: thread counts as relative speeds, no seconds claimed.
        let unmeasured = SpeedCalibration.planningWorkers(entries, measured: [:], flopsPerLayer: 1e9)
        #expect(unmeasured.map(\.layersPerSecond) == [2, 1])
        let plan = try StagePlanner.plan(model: Self.model, workers: unmeasured, maxInflightPerStage: 2)
        #expect(!plan.secondsAreMeasured)
        #expect(plan.pipelines[0].map(\.layers.count) == [20, 10])
        // Measured: 64 GFLOP/s over 1 GFLOP per block is 64 blocks per second.
        let measured = SpeedCalibration.planningWorkers(entries, measured: ["a": 64, "b": 64], flopsPerLayer: 1e9)
        #expect(measured.map(\.layersPerSecond) == [64, 64])
        #expect(measured.map(\.measured) == [true, true])
        let measuredPlan = try StagePlanner.plan(model: Self.model, workers: measured, maxInflightPerStage: 2)
        #expect(measuredPlan.secondsAreMeasured)
        #expect(measuredPlan.pipelines[0].map(\.layers.count) == [15, 15])
        // 2 micro-batches through 2 stages of 15 blocks at 64 blocks/s: (2 + 1) x 15 / 64 s.
        #expect(abs(measuredPlan.predictedSecondsPerStep - 3 * 15.0 / 64) < 1e-9)
        // One worker without a measurement counts as the median per-thread speed times its threads.
        let mixed = SpeedCalibration.planningWorkers(entries, measured: ["b": 32], flopsPerLayer: 1e9)
        #expect(mixed.map(\.layersPerSecond) == [64, 32])
        #expect(mixed.map(\.measured) == [false, true])
    }

    @Test func implausibleReportsAreRejected() {
        #expect(!SpeedCalibration.isPlausible(.nan))
        #expect(!SpeedCalibration.isPlausible(.infinity))
        #expect(!SpeedCalibration.isPlausible(0))
        #expect(!SpeedCalibration.isPlausible(-5))
        #expect(!SpeedCalibration.isPlausible(1e9))
        #expect(SpeedCalibration.isPlausible(123.4))
    }
}
