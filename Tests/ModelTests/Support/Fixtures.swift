// Finds the committed reference fixtures (made by scripts/make_fixtures.py) and compares numbers to them.
import Foundation
import Model

/// The committed fixtures under `Tests/Fixtures`.
enum Fixtures {
    /// `Tests/Fixtures`, found from this source file's location.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // ModelTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")

    /// The path of a fixture file or folder, relative to `Tests/Fixtures`.
    static func path(_ relativePath: String) -> String {
        root.appendingPathComponent(relativePath).path
    }
}

/// Compares tensors the way the design's parity rule states it.
enum Numerics {
    /// max |actual - expected| / max |expected| (the denominator floored at 1e-12).
    static func maxRelativeError(_ actual: [Float], _ expected: [Float]) -> Float {
        precondition(actual.count == expected.count, "count \(actual.count) != \(expected.count)")
        var maxDifference: Float = 0
        var maxMagnitude: Float = 0
        for (a, e) in zip(actual, expected) {
            if a.isNaN || e.isNaN { return .infinity }
            maxDifference = max(maxDifference, abs(a - e))
            maxMagnitude = max(maxMagnitude, abs(e))
        }
        return maxDifference / max(maxMagnitude, 1e-12)
    }

    /// `maxRelativeError` of two tensors, which must have the same shape.
    static func maxRelativeError(_ actual: Tensor, _ expected: Tensor) -> Float {
        precondition(actual.shape == expected.shape, "shape \(actual.shape) != \(expected.shape)")
        return maxRelativeError(actual.scalars, expected.scalars)
    }
}
