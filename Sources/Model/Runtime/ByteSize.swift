// Sizes in bytes as people write them on command lines and in cluster.yaml.

/// Parses sizes such as `4GiB`, `512MiB`, `1.5G`, `300KB` or `1000000`.
///
/// Binary suffixes (`KiB`, `MiB`, `GiB`, `TiB`, and the short `K`, `M`, `G`, `T`) count in powers of 1024,
/// decimal ones (`KB`, `MB`, `GB`, `TB`) in powers of 1000; `B` or no suffix means bytes, and then the
/// number must be a whole one. Spaces around the number and before the suffix are allowed.
public enum ByteSize {
    /// The suffixes, longest first so that `MiB` is not read as `B`.
    private static let units: [(suffix: String, bytes: Int)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
        ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40),
    ]

    /// The size `text` stands for, or `nil` unless it is a positive size below 8 EiB.
    public static func parse(_ text: String) -> Int? {
        var number = Substring(text).trimmingSpaces
        let unit = units.first { number.hasSuffix($0.suffix) }
        if unit == nil && number.hasSuffix("B") { number = number.dropLast().trimmingSpaces }
        guard let unit else { return Int(number).flatMap { $0 > 0 ? $0 : nil } }
        number = number.dropLast(unit.suffix.count).trimmingSpaces
        // Digits and at most one point only: `Double` alone would also take "nan", "inf" or "0x1p3".
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              number.filter({ $0 == "." }).count <= 1, let value = Double(number) else { return nil }
        let bytes = value * Double(unit.bytes)
        guard bytes >= 1, bytes < 9e18 else { return nil }
        return Int(bytes)
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: Substring {
        let isText: (Character) -> Bool = { $0 != " " && $0 != "\t" }
        guard let first = firstIndex(where: isText), let last = lastIndex(where: isText) else { return "" }
        return self[first...last]
    }
}
