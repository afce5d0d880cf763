// Writes a diffusers-layout model folder (model_index.json plus one subfolder per component) from a preset.
import Foundation

/// Writes one component (`transformer/`, `scheduler/`, ...) of a model folder.
public protocol ModelComponentWriter: Sendable {
    /// The component's subfolder and its key in `model_index.json`.
    var component: String { get }
    /// Its `model_index.json` entry: library and class name, e.g. `("diffusers", "WanTransformer3DModel")`.
    var modelIndexEntry: (library: String, className: String) { get }
    /// Writes the component into `directory` (which exists and is empty).
    func write(_ options: ModelFolderOptions, to directory: String, progress: (String) -> Void) throws
}

/// What to write: a preset, a seed for the random weights, and the weights' dtype.
public struct ModelFolderOptions: Sendable {
    /// The model size.
    public var preset: ModelPreset
    /// Seed of every random weight (each weight draws from the stream named by its key).
    public var seed: UInt64
    /// The weights' stored dtype.
    public var dtype: DType
    /// Largest size of one weights file in bytes; bigger components are sharded with an index.
    public var maxShardBytes: Int

    /// Creates options; `dtype` defaults to the preset's.
    public init(preset: ModelPreset, seed: UInt64, dtype: DType? = nil, maxShardBytes: Int = 2 << 30) {
        self.preset = preset
        self.seed = seed
        self.dtype = dtype ?? preset.defaultDType
        self.maxShardBytes = maxShardBytes
    }
}

/// Writes whole model folders.
public enum ModelFolderWriter {
    /// The components written, in order. Each component's owner adds one line here.
    public static let componentWriters: [any ModelComponentWriter] = [
        TransformerComponentWriter(),
        SchedulerComponentWriter(),
        VAEComponentWriter(),
        UMT5ComponentWriter(),
        TokenizerComponentWriter(),
    ]

    /// Writes `model_index.json` and every component of `options.preset` into `directory`.
    ///
    /// Refuses a directory that exists and is not empty unless `force` (then the components' subfolders and
    /// `model_index.json` are replaced; other files are left alone).
    public static func write(
        _ options: ModelFolderOptions, to directory: String, force: Bool = false,
        writers: [any ModelComponentWriter] = componentWriters, progress: (String) -> Void = { _ in }
    ) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw PresetError.io("\(directory) exists and is not a folder") }
            let contents = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
            if !contents.isEmpty && !force { throw PresetError.outputNotEmpty(directory) }
        }
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw PresetError.io("cannot create \(directory): \(error.localizedDescription)")
        }
        for writer in writers {
            let folder = (directory as NSString).appendingPathComponent(writer.component)
            if manager.fileExists(atPath: folder) {
                do { try manager.removeItem(atPath: folder) } catch {
                    throw PresetError.io("cannot replace \(folder): \(error.localizedDescription)")
                }
            }
            do {
                try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw PresetError.io("cannot create \(folder): \(error.localizedDescription)")
            }
            progress("writing \(writer.component)/")
            try writer.write(options, to: folder, progress: progress)
        }
        try writeFile(
            modelIndex(writers: writers), to: (directory as NSString).appendingPathComponent("model_index.json"))
        try writeFile(
            generationDefaults(for: options.preset),
            to: (directory as NSString).appendingPathComponent("generation_defaults.json"))
    }

    /// The text of `generation_defaults.json` (our own optional file, read by `ModelFolder`): the tiny preset
    /// gets a size it generates in seconds; the others get the Wan2.1 defaults.
    public static func generationDefaults(for preset: ModelPreset) -> String {
        let defaults = preset.name == "tiny"
            ? (width: 128, height: 128, frames: 33, steps: 20)
            : (width: 832, height: 480, frames: 81, steps: 50)
        return """
            {
              "width": \(defaults.width),
              "height": \(defaults.height),
              "frames": \(defaults.frames),
              "fps": 16,
              "steps": \(defaults.steps),
              "guidance": 5.0,
              "negative_prompt": ""
            }

            """
    }

    /// The text of `model_index.json` for `writers`, keys sorted as diffusers writes them.
    public static func modelIndex(writers: [any ModelComponentWriter]) -> String {
        var lines = ["  \"_class_name\": \"WanPipeline\"", "  \"_diffusers_version\": \"0.42.1\""]
        for writer in writers.sorted(by: { $0.component < $1.component }) {
            let entry = writer.modelIndexEntry
            lines.append("  \"\(writer.component)\": [\n    \"\(entry.library)\",\n    \"\(entry.className)\"\n  ]")
        }
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes `text` to `path` atomically.
    public static func writeFile(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw PresetError.io("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
