// `coordinator plan`: where a job's layers would go on the cluster, and whether it fits.
import Foundation
import Model

/// Prints the placement the coordinator would choose for a job over every worker of cluster.yaml.
enum PlanCommand: Command {
    static let name = "plan"
    static let summary = "show per worker the layers, predicted peak memory and step-time share of a job"
    static let specs: [OptionSpec] = GenerateCommand.specs.filter { JobRequest.optionNames.contains($0.name) && $0.name != "--prompt" }
        + [ClusterClient.configSpec, .value("--model", "DIR", "the model (default: cluster.yaml's model beside the file)")]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator plan [--config cluster.yaml] [job options]",
                description: "Plans the job over every worker of cluster.yaml with their memory budgets and prints, "
                    + "per worker, its layer range, predicted peak memory (weights + in-flight activations + "
                    + "workspace) and share of the step time. Exits with status 1, naming the missing memory, when "
                    + "the job cannot fit.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments + ["--prompt=plan"], specs: specs + [.value("--prompt", "TEXT", "")])
        let (config, path) = try ClusterClient.config(options)
        let modelPath = options.string("--model") ?? ClusterClient.modelPath(config, configPath: path)
        let model = try CoordinatorModel(path: modelPath)
        var jobArguments = ["--prompt=plan"]
        for name in JobRequest.optionNames where name != "--prompt" {
            if let value = options.string(name) { jobArguments.append("\(name)=\(value)") }
        }
        if options.string("--window-frames") == nil { jobArguments.append("--window-frames=\(config.scheduler.windowFrames)") }
        if options.string("--window-overlap") == nil { jobArguments.append("--window-overlap=\(config.scheduler.windowOverlap)") }
        let jobOptions = try CommandLineOptions(jobArguments, specs: GenerateCommand.specs)
        let spec = try JobOptions.spec(from: jobOptions, defaults: model.defaults)
        try model.check(spec)
        let planning = try model.planningModel(for: spec)
        print("job: \(spec.width)x\(spec.height), \(spec.frames) frames, \(planning.unitsPerStep) micro-batch(es) per step; model: \(planning.layerCount) blocks of \(formatBytes(planning.bytesPerLayer))")
        let plan: StagePlan
        do {
            plan = try StagePlanner.plan(
                model: planning, workers: config.workers.map(ClusterPlanning.planningWorker),
                maxInflightPerStage: config.scheduler.maxInflightPerStage)
        } catch let error as PlanningError {
            printError("plan: the job does not fit: \(error.description)")
            return 1
        }
        for (number, stages) in plan.pipelines.enumerated() {
            let total = stages.map(\.secondsPerMicroBatch).reduce(0, +)
            print("pipeline \(number + 1):")
            for stage in stages {
                let budget = config.workers.first { $0.name == stage.worker }!.memoryBytes
                print(String(
                    format: "  %@  blocks %d..<%d  peak %@ of %@  step share %.0f%%", stage.worker,
                    stage.layers.lowerBound, stage.layers.upperBound, formatBytes(stage.predictedPeakBytes),
                    formatBytes(budget), 100 * stage.secondsPerMicroBatch / max(total, 1e-12)))
            }
        }
        if !plan.idleWorkers.isEmpty { print("idle: \(plan.idleWorkers.joined(separator: ", "))") }
        print("coordinator: text encoder, entry (patch + condition embedding) and exit (norm + projection) pieces, VAE decode")
        return 0
    }
}
