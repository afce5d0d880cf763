// What a worker reports about itself when the coordinator connects: its measured speed and its own memory budget.
import Foundation
import Wire
import Cluster

/// What a worker tells the coordinator about itself in `stats` when it connects.
struct WorkerReport: Sendable, Equatable {
    /// Its start-up calibration, nil when absent or implausible.
    var gigaflops: Double?
    /// Its own `--memory`, nil when absent or implausible.
    var budgetBytes: Int?

    /// Asks a connected worker; empty when it does not answer within 10 s.
    static func ask(_ connection: WireConnection) async -> WorkerReport {
        guard case .stats(let stats)? = try? await connection.request(.statsRequest, timeoutSeconds: 10) else {
            return WorkerReport()
        }
        return WorkerReport(stats)
    }

    /// Reads the two fields the planner uses, checking each value.
    init(_ stats: Stats) {
        let statistics = WorkerStatistics(stats)
        gigaflops = statistics.calibrationGigaflops.flatMap { SpeedCalibration.isPlausible($0) ? $0 : nil }
        budgetBytes = statistics.budgetBytes
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
