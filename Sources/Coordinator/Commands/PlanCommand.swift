// `coordinator plan`: where a job's layers would go on the cluster, and whether it fits.
import Foundation
import Model
import Wire
import Cluster

/// Prints the placement the coordinator would choose for a job over every worker of cluster.yaml.
enum PlanCommand: Command {
    static let name = "plan"
    static let summary = "show per worker the layers, predicted peak memory and step-time share of a job"
    static let specs: [OptionSpec] = GenerateCommand.specs.filter { SubmitCommand.jobOptionNames.contains($0.name) }
        + [ClusterClient.configSpec, .value("--model", "DIR", "the model (default: cluster.yaml's model beside the file)"),
           .flag("--measure", "ask each worker for its measured speed, as serve does (default: speeds from threads)"),
           .flag("--json", "print the plan as one JSON object")]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator plan [--config cluster.yaml] [job options]",
                description: "Plans the job over every worker of cluster.yaml with their memory budgets and prints, "
                    + "per worker, its layer range, predicted peak memory (weights + in-flight activations + "
                    + "workspace) and share of the step time. Speeds are the workers' thread counts unless --measure "
                    + "asks the running workers for the calibration they measured at start (what serve plans with). "
                    + "Exits with status 1, naming the missing memory, when the job cannot fit.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(JobOptions.normalize(arguments), specs: specs)
        let (config, path) = try ClusterClient.config(options)
        let modelPath = options.string("--model") ?? ClusterClient.modelPath(config, configPath: path)
        let model = try CoordinatorModel(path: modelPath)
        // The same typed request `submit` sends (the prompt does not change the plan; it may be left out), with
        // cluster.yaml's window defaults filled in as the coordinator does.
        var request = try JobOptions.request(from: options, defaultPrompt: "plan")
        request.windowFrames = request.windowFrames ?? config.scheduler.windowFrames
        request.windowOverlap = request.windowOverlap ?? config.scheduler.windowOverlap
        let spec = try request.resolve(defaults: model.defaults)
        try model.check(spec)
        // The job's LoRAs (local files here, as `submit` would attach them) count in every stage's context.
        let planning = try model.planningModel(for: spec, loraBytes: try model.checkLoRAs(spec))
        let reports = options.flag("--measure") ? try measureWorkers(config) : [:]
        let measured = reports.compactMapValues(\.gigaflops)
        let workers = WorkerReport.planningWorkers(config.workers, reports: reports, model: planning)
        let json = options.flag("--json")
        if !json {
            print("job: \(spec.width)x\(spec.height), \(spec.frames) frames, \(planning.unitsPerStep) micro-batch(es) per step; model: \(planning.layerCount) blocks of \(formatBytes(planning.bytesPerLayer))")
            if options.flag("--measure") {
                for entry in config.workers {
                    var line = measured[entry.name].map { String(format: "  %@: %.1f GFLOP/s measured", entry.name, $0) }
                        ?? "  \(entry.name): not measured (unreachable or no calibration); counted by threads"
                    if let budget = reports[entry.name]?.budgetBytes, budget < entry.memoryBytes {
                        line += "; its --memory \(formatBytes(budget)) is below cluster.yaml's"
                    }
                    print(line)
                }
            }
        }
        let plan: StagePlan
        do {
            plan = try StagePlanner.plan(model: planning, workers: workers, maxInflightPerStage: config.scheduler.maxInflightPerStage)
        } catch let error as PlanningError {
            if json { try printJSON(["fits": false, "error": error.description, "units_per_step": planning.unitsPerStep]) }
            printError("plan: the job does not fit: \(error.description)")
            return 1
        }
        if json {
            try printJSON(document(plan, planning: planning, workers: workers, measured: measured))
            return 0
        }
        for (number, stages) in plan.pipelines.enumerated() {
            let total = stages.map(\.secondsPerMicroBatch).reduce(0, +)
            print("pipeline \(number + 1):")
            for stage in stages {
                let budget = workers.first { $0.name == stage.worker }!.memoryBytes
                print(String(
                    format: "  %@  blocks %d..<%d  peak %@ of %@  step share %.0f%%", stage.worker,
                    stage.layers.lowerBound, stage.layers.upperBound, formatBytes(stage.predictedPeakBytes),
                    formatBytes(budget), 100 * stage.secondsPerMicroBatch / max(total, 1e-12)))
            }
        }
        if !plan.idleWorkers.isEmpty { print("idle: \(plan.idleWorkers.joined(separator: ", "))") }
        if plan.secondsAreMeasured { print(String(format: "predicted step time: %.3f s (from the measured speeds)", plan.predictedSecondsPerStep)) }
        print("coordinator: text encoder, entry (patch + condition embedding) and exit (norm + projection) pieces, VAE decode")
        return 0
    }

    /// The plan as JSON: per pipeline and stage the worker, blocks, predicted peak and budget.
    static func document(_ plan: StagePlan, planning: PlanningModel, workers: [PlanningWorker], measured: [String: Double]) -> [String: Any] {
        let pipelines: [[[String: Any]]] = plan.pipelines.map { stages in
            let total = stages.map(\.secondsPerMicroBatch).reduce(0, +)
            return stages.map { stage in
                var entry: [String: Any] = [
                    "worker": stage.worker, "layer_start": stage.layers.lowerBound, "layer_end": stage.layers.upperBound,
                    "predicted_peak_bytes": stage.predictedPeakBytes,
                    "budget_bytes": workers.first { $0.name == stage.worker }!.memoryBytes,
                    "weight_bytes": stage.layers.count * planning.bytesPerLayer,
                    "step_share": stage.secondsPerMicroBatch / max(total, 1e-12),
                ]
                if let speed = measured[stage.worker] { entry["measured_gflops"] = speed }
                if plan.secondsAreMeasured { entry["seconds_per_micro_batch"] = stage.secondsPerMicroBatch }
                return entry
            }
        }
        var document: [String: Any] = [
            "fits": true, "pipelines": pipelines, "idle": plan.idleWorkers, "units_per_step": planning.unitsPerStep,
            "activation_bytes": planning.activationBytes, "workspace_bytes": planning.workspaceBytes,
            "job_context_bytes": planning.jobContextBytes, "process_overhead_bytes": planning.processOverheadBytes,
        ]
        if plan.secondsAreMeasured { document["predicted_seconds_per_step"] = plan.predictedSecondsPerStep }
        return document
    }

    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Each reachable worker's report (calibration, own budget), asked the way serve asks (`stats`).
    static func measureWorkers(_ config: ClusterConfig) throws -> [String: WorkerReport] {
        let token = try ClusterToken.load(from: config.tokenFile)
        let workers = config.workers
        return try ClusterClient.runAsync {
            var speeds: [String: WorkerReport] = [:]
            for entry in workers {
                var options = ConnectionOptions(role: .coordinator, name: "plan", token: token)
                options.connectTimeoutSeconds = 5
                guard let connection = try? await WireConnection.connect(to: entry.address.description, options: options),
                      connection.session.peerRole == .worker else { continue }
                speeds[entry.name] = await WorkerReport.ask(connection)
                await connection.close(reason: "plan measured the speed")
            }
            return speeds
        }
    }
}
