// A progress bar on standard error: redrawn in place on a terminal, one line per 10% otherwise (logs, CI).
import Foundation

/// Shows the progress of a long task on standard error.
final class ProgressBar {
    private let label: String
    private let total: Int
    private let isTerminal: Bool
    private let start = Date()
    private var lastDecile = -1
    private var lastDraw = Date.distantPast
    private(set) var current = 0

    /// Starts a bar for `total` units of work.
    init(label: String, total: Int) {
        self.label = label
        self.total = max(1, total)
        self.isTerminal = isatty(STDERR_FILENO) == 1
    }

    /// Moves to `value` (out of `total`) with an optional detail (`step 3/50 window 2/4`).
    func update(_ value: Int, detail: String = "") {
        current = min(value, total)
        let fraction = Double(current) / Double(total)
        let elapsed = Date().timeIntervalSince(start)
        let remaining = current > 0 ? elapsed / fraction - elapsed : 0
        if isTerminal {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || current == total else { return }
            lastDraw = Date()
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = String(format: "\r%@ [%@] %3d%% %@ elapsed %@ eta %@\u{1B}[K",
                label, bar, Int(fraction * 100), detail, formatDuration(elapsed), formatDuration(remaining))
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            let decile = Int(fraction * 10)
            guard decile != lastDecile else { return }
            lastDecile = decile
            let line = String(format: "%@ %3d%% %@ elapsed %@\n", label, decile * 10, detail, formatDuration(elapsed))
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Ends the bar's line.
    func finish() {
        update(total)
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// `1h02m`, `3m05s`, `12.3s`.
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    if seconds >= 3600 { return String(format: "%dh%02dm", Int(seconds) / 3600, Int(seconds) % 3600 / 60) }
    if seconds >= 60 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
    return String(format: "%.1fs", seconds)
}
