// A diffusers-layout Wan model folder: where each component lives, and the optional generation defaults.
import Foundation

/// A model folder in the diffusers layout (`transformer/`, `vae/`, `text_encoder/`, `tokenizer/`,
/// `scheduler/`, `model_index.json`).
public struct ModelFolder: Sendable {
    /// The folder.
    public let path: String

    /// Checks that `path` holds the components a text-to-video pipeline needs; the error names what is missing.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelFolderError(description: "model folder \(path) does not exist")
        }
        self.path = path
        let required = [
            "transformer/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer/tokenizer.json",
            "scheduler/scheduler_config.json",
        ]
        let missing = required.filter { !FileManager.default.fileExists(atPath: component($0)) }
        guard missing.isEmpty else {
            throw ModelFolderError(
                description: "model folder \(path) is incomplete: missing \(missing.joined(separator: ", ")) (a diffusers Wan folder has transformer/, vae/, text_encoder/, tokenizer/ and scheduler/)")
        }
    }

    /// The path of a file or folder inside the model folder.
    public func component(_ relativePath: String) -> String {
        (path as NSString).appendingPathComponent(relativePath)
    }

    /// Generation defaults stored beside the model (`generation_defaults.json`, our own optional file), or the
    /// Wan2.1 defaults when there is none.
    public func generationDefaults() throws -> GenerationDefaults {
        let file = component("generation_defaults.json")
        guard let data = FileManager.default.contents(atPath: file) else { return GenerationDefaults() }
        guard data.count <= 1 << 16 else { throw ModelFolderError(description: "\(file) is larger than 64 KiB") }
        do {
            var defaults = try JSONDecoder().decode(GenerationDefaults.self, from: data)
            defaults.loras = defaults.loras.map { lora in
                var resolved = lora
                if !lora.path.hasPrefix("/") { resolved.path = component(lora.path) }
                return resolved
            }
            return defaults
        } catch {
            throw ModelFolderError(description: "\(file): \(error)")
        }
    }
}

/// The model's preferred job settings, used where the command line says nothing.
public struct GenerationDefaults: Codable, Sendable, Equatable {
    /// Width in pixels.
    public var width: Int = 832
    /// Height in pixels.
    public var height: Int = 480
    /// Video frames.
    public var frames: Int = 81
    /// Frames per second.
    public var fps: Int = 16
    /// Denoising steps.
    public var steps: Int = 50
    /// Guidance scale.
    public var guidance: Double = 5.0
    /// Negative prompt.
    public var negativePrompt: String = ""
    /// The sampler (nil: the model's scheduler config).
    public var scheduler: SchedulerKind?
    /// Flow shift (nil: the model's scheduler config).
    public var shift: Double?
    /// LoRAs every job gets unless it names its own (paths relative to the model folder in the file; made
    /// absolute when the folder reads it), e.g. a step-distillation LoRA with its 4-step recipe.
    public var loras: [LoRAReference] = []

    /// The Wan2.1 defaults.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case width, height, frames, fps, steps, guidance, scheduler, shift, loras
        case negativePrompt = "negative_prompt"
    }

    /// Decodes a defaults file; missing fields keep the Wan2.1 defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        width = try container.decodeIfPresent(Int.self, forKey: .width) ?? width
        height = try container.decodeIfPresent(Int.self, forKey: .height) ?? height
        frames = try container.decodeIfPresent(Int.self, forKey: .frames) ?? frames
        fps = try container.decodeIfPresent(Int.self, forKey: .fps) ?? fps
        steps = try container.decodeIfPresent(Int.self, forKey: .steps) ?? steps
        guidance = try container.decodeIfPresent(Double.self, forKey: .guidance) ?? guidance
        negativePrompt = try container.decodeIfPresent(String.self, forKey: .negativePrompt) ?? negativePrompt
        scheduler = try container.decodeIfPresent(SchedulerKind.self, forKey: .scheduler)
        shift = try container.decodeIfPresent(Double.self, forKey: .shift)
        loras = try container.decodeIfPresent([LoRAReference].self, forKey: .loras) ?? []
    }
}

/// A model folder that cannot be used, and why.
public struct ModelFolderError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, naming the path.
    public let description: String
}
