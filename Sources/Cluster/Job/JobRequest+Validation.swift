// The checks a request passes before anything reads its media or model: every value within its range, and the
// options that go together going together. Errors name the field and the value.
import Model

extension JobRequest {
    /// Checks every given value; the first problem is thrown, naming the field (and its option) and the value.
    public func validate() throws(JobRequestError) {
        try checkTexts()
        try check(.width, width, in: 1...VideoJobSpec.Limits.maxSide)
        try check(.height, height, in: 1...VideoJobSpec.Limits.maxSide)
        try check(.frames, frames, in: 1...VideoJobSpec.Limits.maxFrames)
        try check(.fps, fps, in: 1...240)
        try check(.steps, steps, in: 1...VideoJobSpec.Limits.maxSteps)
        try check(.maxSequenceLength, maxSequenceLength, in: 1...VideoJobSpec.Limits.maxSequenceLength)
        try check(.windowFrames, windowFrames, in: 1...1024)
        try check(.windowOverlap, windowOverlap, in: 0...1023)
        try check(.durationSeconds, durationSeconds, in: 0.001...3600)
        try check(.guidance, guidance, in: 0...100)
        try check(.shift, shift, in: 0.0001...100)
        try check(.pinStrength, pinStrength, in: 0...1)
        try checkLoRAs()
        if frames != nil && durationSeconds != nil {
            throw JobRequestError(field: Field.frames.label, "and duration_seconds (--duration) exclude each other: give one")
        }
        try checkTask()
    }

    private func checkLoRAs() throws(JobRequestError) {
        do { try VideoJobSpec.validate(loras: loras ?? []) } catch {
            throw JobRequestError(field: Field.loras.label, "\(error)")
        }
    }

    private func checkTexts() throws(JobRequestError) {
        guard prompt.utf8.count <= VideoJobSpec.Limits.maxPromptBytes else {
            throw JobRequestError(field: Field.prompt.label, "is \(prompt.utf8.count) bytes; the limit is \(VideoJobSpec.Limits.maxPromptBytes)")
        }
        if let negativePrompt, negativePrompt.utf8.count > VideoJobSpec.Limits.maxPromptBytes {
            throw JobRequestError(
                field: Field.negativePrompt.label,
                "is \(negativePrompt.utf8.count) bytes; the limit is \(VideoJobSpec.Limits.maxPromptBytes)")
        }
    }

    private func check<T: Comparable>(_ field: Field, _ value: T?, in range: ClosedRange<T>) throws(JobRequestError) {
        guard let value else { return }
        if let double = value as? Double, !double.isFinite {
            throw JobRequestError(field: field.label, "must be a finite number, got \(double)")
        }
        guard range.contains(value) else {
            throw JobRequestError(field: field.label, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }

    /// The task's media count and the options that only go with some tasks.
    private func checkTask() throws(JobRequestError) {
        if let task {
            guard task.media.count == task.kind.mediaCount else {
                throw JobRequestError(
                    field: "task.media (\(task.kind.option))",
                    "takes \(task.kind.mediaCount) media for \(task.kind.rawValue), got \(task.media.count)")
            }
            for name in task.media where name.isEmpty || name.utf8.count > VideoJobSpec.Limits.maxMediaNameBytes {
                throw JobRequestError(field: "task.media (\(task.kind.option))", "names must be 1 to 4096 bytes")
            }
            if let strength = task.strength {
                guard task.kind == .edit else { throw JobRequestError(field: "task.strength (--strength)", "goes with --edit") }
                guard (0...1).contains(strength) else {
                    throw JobRequestError(field: "task.strength (--strength)", "must be in 0.0...1.0, got \(strength)")
                }
            }
        }
        if let pinStrength {
            guard let kind = task?.kind, kind != .edit else {
                throw JobRequestError(
                    field: Field.pinStrength.label, "goes with --image, --extend-forward, --extend-backward or --connect")
            }
            guard pinStrength > 0 else { throw JobRequestError(field: Field.pinStrength.label, "must be above 0, got 0") }
        }
    }
}
