// Where `coordinator generate` finds a model when none is named: the built-in demo model.
import Foundation
import Model

/// Locates the built-in model.
enum DefaultModel {
    /// `$SORA_MODEL`, else `models/demo` in the current folder, else `models/demo` of the checkout the
    /// executable was built in (`<repo>/.build/<config>/coordinator`).
    static func locate() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SORA_MODEL"], !path.isEmpty { return path }
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
        throw CommandLineError(
            "no --model given and the built-in demo model (models/demo) was not found; run from the repository folder, set SORA_MODEL, or pass --model DIR (coordinator init-model --preset tiny --out DIR makes one)")
    }
}
