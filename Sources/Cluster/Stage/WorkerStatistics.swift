// What a worker reports in its `stats` reply, typed: the names on the wire are written once, here.
import Wire

/// A worker's counters and self-description, as carried by a `stats` reply (docs/PROTOCOL.md §5).
///
/// On the wire `stats` is a list of named numbers; this type is the one place that knows the names. Reading is
/// lenient about what is absent (an older or foreign peer may send fewer entries: the field is then nil) and strict
/// about what is there (a value that is not finite or out of range is dropped, never trusted).
public struct WorkerStatistics: Sendable, Equatable {
    /// The entry names on the wire.
    public enum Name: String, CaseIterable, Sendable {
        case microBatchesRun = "micro_batches_run"
        case busySeconds = "busy_seconds"
        case queuedMicroBatches = "queued_micro_batches"
        case jobs = "jobs"
        case failedDeliveries = "failed_deliveries"
        case weightBytes = "weight_bytes"
        case residentBytes = "resident_bytes"
        case peakResidentBytes = "peak_resident_bytes"
        case budgetBytes = "budget_bytes"
        case calibrationGigaflops = "calibration_gflops"
        case calibrationWallGigaflops = "calibration_wall_gflops"
        case calibrationSeconds = "calibration_seconds"
    }

    /// Micro-batches this worker has run through its blocks.
    public var microBatchesRun: Int?
    /// Seconds spent computing.
    public var busySeconds: Double?
    /// Micro-batches waiting for the compute thread.
    public var queuedMicroBatches: Int?
    /// Jobs whose constants the worker holds.
    public var jobs: Int?
    /// Results it could not deliver to the next stage or the coordinator.
    public var failedDeliveries: Int?
    /// Bytes of the loaded blocks' weights.
    public var weightBytes: Int?
    /// Resident memory now.
    public var residentBytes: Int?
    /// Peak resident memory (VmHWM).
    public var peakResidentBytes: Int?
    /// Its own `--memory` budget.
    public var budgetBytes: Int?
    /// Its start-up speed probe in GFLOP/s over CPU seconds: the planner's input.
    public var calibrationGigaflops: Double?
    /// The same probe over wall-clock seconds (for logs).
    public var calibrationWallGigaflops: Double?
    /// How long the probe took, in seconds.
    public var calibrationSeconds: Double?

    /// Statistics with every field given or nil.
    public init() {}

    /// Reads the entries this type knows from `stats`; unknown names are ignored, implausible values dropped.
    public init(_ stats: Stats) {
        var values: [Name: Double] = [:]
        for entry in stats.entries {
            if let name = Name(rawValue: entry.name), entry.value.isFinite, entry.value >= 0 { values[name] = entry.value }
        }
        func count(_ name: Name) -> Int? { values[name].flatMap { $0 < 9e18 ? Int($0) : nil } }
        microBatchesRun = count(.microBatchesRun)
        busySeconds = values[.busySeconds]
        queuedMicroBatches = count(.queuedMicroBatches)
        jobs = count(.jobs)
        failedDeliveries = count(.failedDeliveries)
        weightBytes = count(.weightBytes)
        residentBytes = count(.residentBytes)
        peakResidentBytes = count(.peakResidentBytes)
        budgetBytes = count(.budgetBytes).flatMap { $0 >= 1 ? $0 : nil }
        calibrationGigaflops = values[.calibrationGigaflops]
        calibrationWallGigaflops = values[.calibrationWallGigaflops]
        calibrationSeconds = values[.calibrationSeconds]
    }

    /// The `stats` reply carrying the fields that are set, in `Name` order.
    public var stats: Stats {
        let fields: [(Name, Double?)] = [
            (.microBatchesRun, microBatchesRun.map(Double.init)), (.busySeconds, busySeconds),
            (.queuedMicroBatches, queuedMicroBatches.map(Double.init)), (.jobs, jobs.map(Double.init)),
            (.failedDeliveries, failedDeliveries.map(Double.init)), (.weightBytes, weightBytes.map(Double.init)),
            (.residentBytes, residentBytes.map(Double.init)), (.peakResidentBytes, peakResidentBytes.map(Double.init)),
            (.budgetBytes, budgetBytes.map(Double.init)), (.calibrationGigaflops, calibrationGigaflops),
            (.calibrationWallGigaflops, calibrationWallGigaflops), (.calibrationSeconds, calibrationSeconds),
        ]
        return Stats(entries: fields.compactMap { name, value in value.map { (name.rawValue, $0) } })
    }
}
