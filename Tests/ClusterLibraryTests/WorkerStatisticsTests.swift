// The typed `stats` reply: the names on the wire, the round trip, and what a hostile or older peer may send.
import Cluster
import Testing
import Wire

@Suite struct WorkerStatisticsTests {
    @Test func writesTheNamesPROTOCOLmdGives() {
        var statistics = WorkerStatistics()
        statistics.calibrationGigaflops = 42.5
        statistics.budgetBytes = 1 << 30
        statistics.microBatchesRun = 7
        let entries = statistics.stats.entries
        #expect(entries.map(\.name) == ["micro_batches_run", "budget_bytes", "calibration_gflops"])
        #expect(entries.map(\.value) == [7, 1_073_741_824, 42.5])
    }

    @Test func roundTripsEveryField() {
        var statistics = WorkerStatistics()
        statistics.microBatchesRun = 1; statistics.busySeconds = 2.5; statistics.queuedMicroBatches = 3
        statistics.jobs = 4; statistics.failedDeliveries = 5; statistics.weightBytes = 6; statistics.residentBytes = 7
        statistics.peakResidentBytes = 8; statistics.budgetBytes = 9; statistics.calibrationGigaflops = 10.5
        statistics.calibrationWallGigaflops = 11.5; statistics.calibrationSeconds = 0.125
        #expect(statistics.stats.entries.count == WorkerStatistics.Name.allCases.count)
        #expect(WorkerStatistics(statistics.stats) == statistics)
    }

    @Test func dropsImplausibleValuesAndIgnoresUnknownNames() {
        let stats = Stats(entries: [
            ("budget_bytes", -1), ("calibration_gflops", .nan), ("weight_bytes", 1e300), ("jobs", .infinity),
            ("some_future_counter", 3), ("busy_seconds", 1.5),
        ])
        let statistics = WorkerStatistics(stats)
        #expect(statistics.budgetBytes == nil)
        #expect(statistics.calibrationGigaflops == nil)
        #expect(statistics.weightBytes == nil)
        #expect(statistics.jobs == nil)
        #expect(statistics.busySeconds == 1.5)
    }
}
