// `--expand-prompt`: a short prompt made into one detailed video caption, by a chat model when one is configured,
// else by the deterministic template expander.
import Foundation
import Model

/// Expands prompts as the Sora report does with a language model: subject, motion, scene, camera and lighting in
/// one paragraph.
public struct PromptExpander: Sendable {
    /// Where prompts go.
    public let configuration: PromptExpansionConfiguration

    /// The instruction sent as the system message.
    public static let systemPrompt = """
        You write captions for video generation. Rewrite the user's short prompt as one detailed caption of the \
        video, in the style of the captions video models are trained on: describe the main subject and its \
        appearance, its motion and actions, the scene and background, the camera framing and movement, and the \
        lighting and mood. Keep every element the user asked for and do not contradict it. Answer with one \
        paragraph of plain text in English, at most 120 words, with no preamble, no quotes, no lists and no notes.
        """

    /// Creates an expander; the configuration is checked when a prompt is expanded.
    public init(configuration: PromptExpansionConfiguration) {
        self.configuration = configuration
    }

    /// What expands prompts, for logs: "template" or "chat model M at URL".
    public var source: String {
        guard let base = configuration.baseURL else { return "template" }
        return "chat model \(configuration.model ?? "?") at \(base)"
    }

    /// The expanded prompt. Throws `PromptExpansionError` for an empty prompt, a bad configuration, or a failed
    /// or malformed answer from the endpoint (the message names the endpoint and what it returned).
    public func expand(_ prompt: String) throws -> String {
        let trimmed = prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw PromptExpansionError("the prompt to expand is empty") }
        guard configuration.baseURL != nil else { return try TemplatePromptExpander.expand(trimmed) }
        let client = ChatCompletionClient(configuration: configuration)
        let text = try client.complete(system: Self.systemPrompt, user: trimmed)
        let limit = VideoJobSpec.Limits.maxPromptBytes
        guard text.utf8.count <= limit else {
            throw PromptExpansionError("the expanded prompt is \(text.utf8.count) bytes; the limit for a prompt is \(limit)")
        }
        return text
    }
}
