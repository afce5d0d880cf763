// `coordinator submit`: sends a job to the cluster's coordinator; optionally waits and downloads the result.
import Foundation
import Model
import Wire
import Cluster

/// Submits a job.
enum SubmitCommand: Command {
    static let name = "submit"
    static let summary = "send a job to the cluster (prints its id; --wait --out FILE waits and downloads it)"
    /// `generate`'s options that describe the job (not --model, --threads, --latents, --out, --quiet, --memory).
    static let jobOptionNames: Set<String> = Set(GenerateCommand.specs.map(\.name))
        .subtracting(["--model", "--threads", "--latents", "--out", "--quiet", "--memory"])
    static let specs: [OptionSpec] = GenerateCommand.specs.filter { jobOptionNames.contains($0.name) } + [
        ClusterClient.configSpec,
        .value("--out", "FILE", "with --wait: where to write the result (.y4m, .mp4, .png, .safetensors)"),
        .value("--format", "y4m|mp4|png|safetensors", "result format without --out (default y4m)"),
        .flag("--wait", "wait for the job with a progress bar, then download the result to --out"),
        .flag("--quiet", "no progress bar"),
    ]

    /// LoRA files travel with the job too (the coordinator keeps them by content, like media): each becomes an
    /// attachment `lora-N.safetensors`, which the request names instead of the path.
    static func attachLoRAs(_ loras: [LoRAReference]?, to attachments: inout [Attachment]) throws -> [LoRAReference]? {
        try loras?.map { lora in
            let size = (try? FileManager.default.attributesOfItem(atPath: lora.path)[.size] as? Int) ?? 0
            guard size <= JobMedia.maxTotalBytes else {
                throw CommandLineError(
                    "option '--lora': \(lora.path) holds \(size) bytes; a cluster job takes at most \(JobMedia.maxTotalBytes)")
            }
            guard let data = FileManager.default.contents(atPath: lora.path) else {
                throw CommandLineError("option '--lora': cannot read \(lora.path)")
            }
            let name = "lora-\(attachments.count).safetensors"
            attachments.append(Attachment(name: name, bytes: ArraySlice(data)))
            return LoRAReference(path: name, scale: lora.scale)
        }
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator submit --prompt TEXT [job options] [--config FILE] [--wait --out FILE]",
                description: "Sends a job to the coordinator named in cluster.yaml and prints its id. The job options "
                    + "are those of `generate`; what is not given comes from the coordinator's model defaults and "
                    + "cluster.yaml's scheduler section.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(JobOptions.normalize(arguments), specs: specs)
        let (config, _) = try ClusterClient.config(options)
        var request = try JobOptions.request(from: options)
        // Media travels with the job: PNG and Y4M as they are, anything else as the Y4M our ffmpeg decodes it to;
        // the request names the attachments.
        var attachments: [Attachment] = []
        if var task = request.task {
            task.media = try task.media.map { path in
                let (bytes, ext) = try MediaLoader.portableBytes(path: path)
                let name = "media-\(attachments.count).\(ext)"
                attachments.append(Attachment(name: name, bytes: ArraySlice(bytes)))
                return name
            }
            request.task = task
        }
        request.loras = try attachLoRAs(request.loras, to: &attachments)
        let media = attachments
        let attachmentBytes = attachments.reduce(0) { $0 + $1.bytes.count }
        guard attachmentBytes <= JobMedia.maxTotalBytes else {
            throw CommandLineError("the media holds \(attachmentBytes) bytes; a cluster job takes at most \(JobMedia.maxTotalBytes)")
        }
        let wait = options.flag("--wait")
        let out = options.string("--out")
        if wait && out == nil { throw CommandLineError("--wait needs --out FILE") }
        if let out {
            request.output = try VideoOutputKind(path: out)
        } else if let format = options.string("--format") {
            guard let kind = VideoOutputKind(rawValue: format) else {
                throw CommandLineError("option '--format' must be y4m, mp4, png or safetensors, got '\(format)'")
            }
            request.output = kind
        }
        let specJSON = try request.encoded()
        let expandPrompt = request.expandPrompt
        let quiet = options.flag("--quiet")
        return try ClusterClient.runAsync {
            let connection = try await ClusterClient.connect(config)
            defer { connection.abort(reason: "done") }
            let reply = try await connection.request(
                .submit(Submit(specJSON: ArraySlice(specJSON), attachments: media)),
                timeoutSeconds: 600)
            guard case .submitted(let job) = reply else { throw ClusterError("unexpected answer to submit: \(reply.kind)") }
            if expandPrompt {
                // The coordinator expanded the prompt and stored it as the job's prompt: show it.
                let status = try await connection.request(.jobStatusRequest(JobID(job.jobID)))
                if case .jobStatus(let document) = status,
                   let record = try? JSONDecoder().decode(JobRecord.self, from: Data(document.json)) {
                    printError("expanded prompt: \(record.spec.prompt)")
                }
            }
            guard wait, let out else {
                print(job.jobID)
                return 0
            }
            printError("submitted \(job.jobID)")
            return try await ClusterClient.waitAndFetch(connection, job: job.jobID, out: out, quiet: quiet)
        }
    }
}
