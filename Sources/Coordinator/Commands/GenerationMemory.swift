// How much memory `generate` will need for a job, so that a size the machine cannot hold is refused up front
// (naming the largest size that fits) instead of failing after minutes of work.
import Foundation
import Model
import Cluster

/// The predicted peak resident memory of a single-process job, by part.
///
/// - weights: every safetensors file of the model folder (float32 files are used straight from the mapping,
///   16-bit ones stay 16-bit), plus a fixed 64 MiB for the process (runtime, BLAS buffers, text encoding);
/// - latents: six latent-sized buffers (the latent, the blended output, the scheduler's history, the next latent;
///   docs/BENCHMARKS.md "Generation memory");
/// - transformer: one window's working memory, the cluster planner's figures for one micro-batch
///   (`TransformerFigures`: activations, one block's workspace, the projected texts);
/// - VAE: the family's figures for decoding (and for encoding known media), `VideoAutoencoder.decodingBytes` and
///   `encodingBytes`. The transformer and the VAE run one after the other, so the larger of the two counts.
struct GenerationMemory: Equatable {
    var weightBytes: Int
    var latentBytes: Int
    var transformerBytes: Int
    var vaeBytes: Int
    /// The transformer's prompt cache: every block's cross-attention keys and values for each branch's prompt,
    /// resident from the first step to the end (also while the VAE decodes).
    var promptCacheBytes: Int = 0

    /// The fixed cost of the process.
    static let processBytes = ClusterConstants.processOverheadBytes

    /// The predicted peak.
    var totalBytes: Int { Self.processBytes + weightBytes + latentBytes + promptCacheBytes + max(transformerBytes, vaeBytes) }

    /// The prediction for `spec` on `family`'s model, whose files weigh `weightBytes`.
    static func estimate(spec: VideoJobSpec, family: any VideoModelFamily, weightBytes: Int) throws -> GenerationMemory {
        let figures = family.figures
        let tokens = try family.layout.largestWindowTokens(of: spec)
        let textLength = spec.maxSequenceLength
        let branches = spec.usesGuidance ? 2 : 1
        let latentElements = family.layout.latentShape(for: spec).reduce(1, *)
        let vae = family.autoencoder
        let decoding = vae.decodingBytes(width: spec.width, height: spec.height, frames: spec.frames)
        let encoding = (spec.media ?? []).isEmpty ? 0 : vae.encodingBytes(width: spec.width, height: spec.height)
        return GenerationMemory(
            weightBytes: weightBytes, latentBytes: 6 * 4 * latentElements,
            transformerBytes: figures.workspaceBytes(tokens: tokens, textLength: textLength)
                + figures.activationBytes(tokens: tokens) + branches * figures.textBytes(textLength: textLength),
            vaeBytes: max(decoding, encoding),
            promptCacheBytes: branches * figures.blockCount * figures.promptCacheBytesPerBlock(textLength: textLength))
    }

    /// "1.2 GiB (weights 11 MiB, latents 2 MiB, transformer 40 MiB, VAE decoding 1.1 GiB)".
    var summary: String {
        "\(formatBytes(totalBytes)) (weights \(formatBytes(weightBytes)), latents \(formatBytes(latentBytes)), "
            + "transformer \(formatBytes(transformerBytes)), prompt cache \(formatBytes(promptCacheBytes)), "
            + "VAE \(formatBytes(vaeBytes)))"
    }

    /// Bytes of every `.safetensors` file under `folder` (the weights a run maps).
    static func weightBytes(folder: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return 0 }
        var total = 0
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".safetensors") else { continue }
            let attributes = try? FileManager.default.attributesOfItem(atPath: (folder as NSString).appendingPathComponent(relative))
            total += (attributes?[.size] as? NSNumber)?.intValue ?? 0
        }
        return total
    }

    /// `MemAvailable` of /proc/meminfo, or nil where there is none.
    static func availableBytes(meminfo: String = "/proc/meminfo") -> Int? {
        guard let text = try? String(contentsOfFile: meminfo, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kibibytes = Int(fields[1]) else { return nil }
            return kibibytes * 1024
        }
        return nil
    }

    /// The largest size with `spec`'s aspect ratio, in steps of `multiple` pixels, whose prediction fits `budget`;
    /// nil when not even the smallest does.
    static func largestFittingSize(
        spec: VideoJobSpec, multiple: Int, budget: Int, predict: (VideoJobSpec) throws -> GenerationMemory
    ) rethrows -> (width: Int, height: Int)? {
        let longer = max(spec.width, spec.height)
        func size(_ steps: Int) -> (width: Int, height: Int) {
            let side = steps * multiple
            let width = spec.width >= spec.height ? side : max(multiple, (side * spec.width / longer) / multiple * multiple)
            let height = spec.height >= spec.width ? side : max(multiple, (side * spec.height / longer) / multiple * multiple)
            return (width, height)
        }
        func fits(_ steps: Int) throws -> Bool {
            var candidate = spec
            (candidate.width, candidate.height) = size(steps)
            return try predict(candidate).totalBytes <= budget
        }
        var (low, high) = (1, max(1, longer / multiple))
        guard try fits(low) else { return nil }
        while low < high {
            let middle = (low + high + 1) / 2
            if try fits(middle) { low = middle } else { high = middle - 1 }
        }
        return size(low)
    }
}
