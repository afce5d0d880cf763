// Pins the OpenBLAS kernel family so that every machine computes the same bits.
import COpenBLAS
import Foundation

/// OpenBLAS picks its matrix kernels by CPU at load time, and different kernels round differently, so two
/// machines with different CPUs would produce different bytes for the same job. `pinKernels` makes every
/// process use one kernel family, named by `SORA_BLAS_CORETYPE` (default `Haswell`, which every x86-64 CPU
/// with AVX2 and FMA runs); on a cluster of identical AVX-512 machines `SORA_BLAS_CORETYPE=SkylakeX` is about
/// twice as fast. `SORA_BLAS_CORETYPE=native` leaves the choice to OpenBLAS.
public enum BLASRuntime {
    /// The variable OpenBLAS reads when it loads.
    static let openBLASVariable = "OPENBLAS_CORETYPE"
    /// Our variable naming the wanted kernel family.
    public static let settingVariable = "SORA_BLAS_CORETYPE"

    /// The kernel family OpenBLAS is using in this process (e.g. "Haswell").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The family this process should use, or `nil` to let OpenBLAS choose.
    public static var wantedCoreType: String? {
        let setting = ProcessInfo.processInfo.environment[settingVariable] ?? "Haswell"
        if setting.lowercased() == "native" { return nil }
        if setting == "Haswell" && !cpuHasAVX2AndFMA() { return nil }
        return setting
    }

    /// Ensures OpenBLAS runs the wanted kernels: when `OPENBLAS_CORETYPE` is not already set to them, sets it and
    /// re-executes the current program with the same arguments (OpenBLAS reads the variable only when it loads).
    /// Returns normally when nothing needs to change or re-executing is not possible.
    public static func pinKernels() {
        guard let wanted = wantedCoreType else { return }
        if ProcessInfo.processInfo.environment[openBLASVariable] == wanted { return }
        setenv(openBLASVariable, wanted, 1)
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", arguments)
        // execv returns only on failure: carry on with OpenBLAS's own choice.
        unsetenv(openBLASVariable)
    }

    /// Whether /proc/cpuinfo lists both avx2 and fma.
    static func cpuHasAVX2AndFMA() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let set = Set(flags.split(separator: " "))
        return set.contains("avx2") && set.contains("fma")
    }
}
