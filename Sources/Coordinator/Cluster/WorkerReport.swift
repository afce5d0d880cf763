// What a worker reports about itself when the coordinator connects: its measured speed and its own memory budget.
import Foundation
import Wire


/// What a worker tells the coordinator about itself in `stats` when it connects.
struct WorkerReport: Sendable, Equatable {
    /// Its start-up calibration (`calibration_gflops`), nil when absent or implausible.
    var gigaflops: Double?
    /// Its own `--memory` (`budget_bytes`), nil when absent or implausible.
    var budgetBytes: Int?

    /// Asks a connected worker; empty when it does not answer within 10 s.
    static func ask(_ connection: WireConnection) async -> WorkerReport {
        guard case .stats(let stats)? = try? await connection.request(.statsRequest, timeoutSeconds: 10) else {
            return WorkerReport()
        }
        return WorkerReport(stats)
    }

    /// Reads the two entries, checking each value.
    init(_ stats: Stats) {
        let speed = stats.entries.first { $0.name == "calibration_gflops" }?.value
        gigaflops = speed.flatMap { SpeedCalibration.isPlausible($0) ? $0 : nil }
        let budget = stats.entries.first { $0.name == "budget_bytes" }?.value
        budgetBytes = budget.flatMap { $0.isFinite && $0 >= 1 && $0 < 9e18 ? Int($0) : nil }
    }

    init(gigaflops: Double? = nil, budgetBytes: Int? = nil) {
        self.gigaflops = gigaflops
        self.budgetBytes = budgetBytes
    }

    /// The planner's workers: cluster.yaml's budget capped by the worker's own, speeds from the calibrations.
    static func planningWorkers(_ entries: [WorkerEntry], reports: [String: WorkerReport], model: PlanningModel) -> [PlanningWorker] {
        let capped = entries.map { entry in
            WorkerEntry(
                name: entry.name, address: entry.address,
                memoryBytes: min(entry.memoryBytes, reports[entry.name]?.budgetBytes ?? Int.max), threads: entry.threads)
        }
        return SpeedCalibration.planningWorkers(
            capped, measured: reports.compactMapValues(\.gigaflops), flopsPerLayer: model.flopsPerLayer)
    }
}
