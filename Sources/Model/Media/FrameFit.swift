// Fitting an input picture to the job's size: centre-crop, pad, or stretch (the user's choice, --fit).

/// How an input frame of another size is made to fit.
public enum FitMode: String, Codable, Sendable, CaseIterable {
    /// Scale to cover the target, then cut the overflow evenly from both sides.
    case crop
    /// Scale to fit inside the target, then fill the border with black.
    case pad
    /// Stretch to the target size, ignoring the aspect ratio.
    case resize
}

extension RGBFrame {
    /// This frame fitted to `width` x `height`.
    public func fitted(width: Int, height: Int, mode: FitMode) -> RGBFrame {
        if self.width == width && self.height == height { return self }
        switch mode {
        case .resize:
            return resized(width: width, height: height)
        case .crop:
            let scale = max(Double(width) / Double(self.width), Double(height) / Double(self.height))
            let scaledWidth = max(width, Int((Double(self.width) * scale).rounded()))
            let scaledHeight = max(height, Int((Double(self.height) * scale).rounded()))
            let scaled = resized(width: scaledWidth, height: scaledHeight)
            return scaled.cropped(x: (scaledWidth - width) / 2, y: (scaledHeight - height) / 2, width: width, height: height)
        case .pad:
            let scale = min(Double(width) / Double(self.width), Double(height) / Double(self.height))
            let scaledWidth = min(width, max(1, Int((Double(self.width) * scale).rounded())))
            let scaledHeight = min(height, max(1, Int((Double(self.height) * scale).rounded())))
            let scaled = resized(width: scaledWidth, height: scaledHeight)
            var canvas = RGBFrame(width: width, height: height, red: 0, green: 0, blue: 0)
            let originX = (width - scaledWidth) / 2, originY = (height - scaledHeight) / 2
            for y in 0..<scaledHeight {
                let source = y * scaledWidth * 3
                let destination = ((originY + y) * width + originX) * 3
                canvas.pixels.replaceSubrange(destination..<destination + scaledWidth * 3,
                    with: scaled.pixels[source..<source + scaledWidth * 3])
            }
            return canvas
        }
    }

    /// A rectangle of this frame.
    public func cropped(x: Int, y: Int, width: Int, height: Int) -> RGBFrame {
        precondition(x >= 0 && y >= 0 && x + width <= self.width && y + height <= self.height)
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for row in y..<(y + height) {
            let start = (row * self.width + x) * 3
            pixels += self.pixels[start..<start + width * 3]
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }

    /// This frame scaled to `width` x `height`: area averaging when shrinking, bilinear when enlarging.
    public func resized(width: Int, height: Int) -> RGBFrame {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let scaleX = Double(self.width) / Double(width), scaleY = Double(self.height) / Double(height)
        for y in 0..<height {
            for x in 0..<width {
                for channel in 0..<3 {
                    let value: Double
                    if scaleX >= 1 && scaleY >= 1 {
                        value = areaAverage(x0: Double(x) * scaleX, x1: Double(x + 1) * scaleX,
                                            y0: Double(y) * scaleY, y1: Double(y + 1) * scaleY, channel: channel)
                    } else {
                        value = bilinear(x: (Double(x) + 0.5) * scaleX - 0.5, y: (Double(y) + 0.5) * scaleY - 0.5, channel: channel)
                    }
                    out[(y * width + x) * 3 + channel] = UInt8(min(max(value.rounded(), 0), 255))
                }
            }
        }
        return RGBFrame(width: width, height: height, pixels: out)
    }

    private func sample(_ x: Int, _ y: Int, _ channel: Int) -> Double {
        let cx = min(max(x, 0), width - 1), cy = min(max(y, 0), height - 1)
        return Double(pixels[(cy * width + cx) * 3 + channel])
    }

    private func bilinear(x: Double, y: Double, channel: Int) -> Double {
        let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
        let fx = x - Double(x0), fy = y - Double(y0)
        let top = sample(x0, y0, channel) * (1 - fx) + sample(x0 + 1, y0, channel) * fx
        let bottom = sample(x0, y0 + 1, channel) * (1 - fx) + sample(x0 + 1, y0 + 1, channel) * fx
        return top * (1 - fy) + bottom * fy
    }

    private func areaAverage(x0: Double, x1: Double, y0: Double, y1: Double, channel: Int) -> Double {
        var total = 0.0, weightSum = 0.0
        var y = Int(y0.rounded(.down))
        while Double(y) < y1 {
            let wy = min(Double(y + 1), y1) - max(Double(y), y0)
            var x = Int(x0.rounded(.down))
            while Double(x) < x1 {
                let wx = min(Double(x + 1), x1) - max(Double(x), x0)
                total += sample(x, y, channel) * wx * wy
                weightSum += wx * wy
                x += 1
            }
            y += 1
        }
        return total / max(weightSum, 1e-12)
    }
}
