// The process's memory figures as Linux reports them in /proc/self/status.
import Foundation

/// Resident memory of this process.
public enum ResourceUsage {
    /// Peak resident set size in bytes (VmHWM), or `nil` where /proc is not available.
    public static var peakResidentBytes: Int? { statusField("VmHWM") }

    /// Current resident set size in bytes (VmRSS), or `nil` where /proc is not available.
    public static var residentBytes: Int? { statusField("VmRSS") }

    /// A field of /proc/self/status given in kB, in bytes.
    private static func statusField(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let number = line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first
            return number.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }
}
