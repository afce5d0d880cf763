// Contact sheets: evenly spaced frames of one or more videos laid out in a grid, for a quick look.

/// Builds a grid image from frames.
public enum ContactSheet {
    /// The indices of `count` frames spread evenly over `frameCount` frames, first and last included.
    public static func evenlySpacedIndices(frameCount: Int, count: Int) -> [Int] {
        guard frameCount > 0, count > 0 else { return [] }
        if count == 1 || frameCount == 1 { return [0] }
        let taken = min(count, frameCount)
        return (0..<taken).map { ($0 * (frameCount - 1) + (taken - 1) / 2) / (taken - 1) }
    }

    /// Lays out rows of frames (each row one video) with a `gap`-pixel dark border between cells.
    /// Every frame must have the same size.
    public static func grid(rows: [[RGBFrame]], gap: Int = 2) throws -> RGBFrame {
        guard let first = rows.first?.first else { throw MediaError("contact sheet needs at least one frame") }
        let columns = rows.map(\.count).max() ?? 0
        let width = columns * first.width + (columns + 1) * gap
        let height = rows.count * first.height + (rows.count + 1) * gap
        var sheet = RGBFrame(width: width, height: height, red: 24, green: 24, blue: 24)
        for (rowIndex, row) in rows.enumerated() {
            for (columnIndex, frame) in row.enumerated() {
                guard frame.width == first.width, frame.height == first.height else {
                    throw MediaError("contact sheet frames differ in size: \(frame.width)x\(frame.height) vs \(first.width)x\(first.height)")
                }
                let originX = gap + columnIndex * (first.width + gap)
                let originY = gap + rowIndex * (first.height + gap)
                for y in 0..<frame.height {
                    let source = y * frame.width * 3
                    let destination = ((originY + y) * width + originX) * 3
                    sheet.pixels.replaceSubrange(
                        destination..<(destination + frame.width * 3),
                        with: frame.pixels[source..<(source + frame.width * 3)])
                }
            }
        }
        return sheet
    }
}
