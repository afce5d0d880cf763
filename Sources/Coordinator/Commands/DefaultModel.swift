// Where `coordinator generate` finds a model when none is named: the built-in demo model, or a seeded tiny
// model made on first use when the demo model is not there.
import Foundation
import Model
import Cluster

/// Locates (or makes) the built-in model.
enum DefaultModel {
    /// `$SORA_MODEL`; else `models/demo` in the current folder or in the checkout the executable was built in
    /// (`<repo>/.build/<config>/coordinator`); else a `tiny` preset with seed 0, written once into
    /// `$XDG_CACHE_HOME/sora-cpu/tiny-seed0` (or `~/.cache/...`).
    static func locate(log: (String) -> Void) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["SORA_MODEL"], !path.isEmpty { return path }
        var candidates = ["models/demo"]
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(folder.appendingPathComponent("models/demo").path)
            folder = folder.deletingLastPathComponent()
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/model_index.json") {
            return candidate
        }
        let cacheRoot = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        let tiny = (cacheRoot as NSString).appendingPathComponent("sora-cpu/tiny-seed0")
        if FileManager.default.fileExists(atPath: tiny + "/model_index.json") { return tiny }
        log("no --model given and no demo model found: making a seeded tiny model (random weights) in \(tiny)")
        let staging = tiny + ".partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 0), to: staging)
        try? FileManager.default.removeItem(atPath: tiny)
        try FileManager.default.moveItem(atPath: staging, toPath: tiny)
        return tiny
    }
}
