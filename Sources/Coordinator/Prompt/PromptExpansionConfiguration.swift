// Where `--expand-prompt` sends a prompt: an OpenAI-compatible chat endpoint from the environment or cluster.yaml,
// or nothing (the deterministic template expander).
import Foundation

/// How prompts are expanded: through a chat-completions endpoint when `baseURL` is set, else by the template
/// expander.
public struct PromptExpansionConfiguration: Sendable, Equatable {
    /// The API root, e.g. `https://api.openai.com/v1` (`/chat/completions` is appended); nil: template expander.
    public var baseURL: String?
    /// The chat model's name (required with `baseURL`).
    public var model: String?
    /// The bearer token (never read from a file: from the environment variable the configuration names).
    public var apiKey: String?
    /// The most seconds one request may take, connection included.
    public var timeoutSeconds: Double = 60
    /// The largest response body accepted.
    public var maxResponseBytes: Int = 1 << 20
    /// Sent as `seed` when set, for endpoints that sample reproducibly.
    public var seed: Int?

    /// The environment variables read by `fromEnvironment`.
    public static let baseVariable = "SORA_PROMPT_API_BASE"
    public static let keyVariable = "SORA_PROMPT_API_KEY"
    public static let modelVariable = "SORA_PROMPT_MODEL"

    /// The template expander (no endpoint).
    public static let template = PromptExpansionConfiguration()

    /// Creates a configuration.
    public init(
        baseURL: String? = nil, model: String? = nil, apiKey: String? = nil, timeoutSeconds: Double = 60,
        maxResponseBytes: Int = 1 << 20, seed: Int? = nil
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.timeoutSeconds = timeoutSeconds
        self.maxResponseBytes = maxResponseBytes
        self.seed = seed
    }

    /// `SORA_PROMPT_API_BASE`, `SORA_PROMPT_API_KEY`, `SORA_PROMPT_MODEL`; the template expander when the base is
    /// unset or empty.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> PromptExpansionConfiguration {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let base = value(baseVariable) else { return .template }
        return PromptExpansionConfiguration(baseURL: base, model: value(modelVariable), apiKey: value(keyVariable))
    }

    /// The environment's endpoint when `SORA_PROMPT_API_BASE` is set, else cluster.yaml's `prompt_expansion`
    /// section (its key read from the variable `api_key_env` names), else the template expander.
    static func resolve(
        settings: PromptExpansionSettings?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> PromptExpansionConfiguration {
        let fromEnvironment = fromEnvironment(environment)
        if fromEnvironment.baseURL != nil { return fromEnvironment }
        guard let settings else { return .template }
        return PromptExpansionConfiguration(
            baseURL: settings.baseURL, model: settings.model,
            apiKey: settings.apiKeyVariable.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 },
            timeoutSeconds: settings.timeoutSeconds ?? 60)
    }

    /// Checks the endpoint settings; errors name the setting.
    func validate() throws(PromptExpansionError) {
        guard let baseURL else { return }
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host?.isEmpty == false else {
            throw PromptExpansionError(
                "the prompt API base URL must be http:// or https:// with a host, got '\(baseURL)'")
        }
        guard let model, !model.isEmpty else {
            throw PromptExpansionError(
                "a prompt API base URL is set (\(baseURL)) but no model (\(Self.modelVariable) or prompt_expansion.model)")
        }
        guard timeoutSeconds > 0, timeoutSeconds <= 3600 else {
            throw PromptExpansionError(
                "the prompt expansion timeout must be in (0, 3600] seconds, got \(timeoutSeconds)")
        }
        guard maxResponseBytes > 0, maxResponseBytes <= 64 << 20 else {
            throw PromptExpansionError(
                "the prompt expansion response limit must be 1 byte to 64 MiB, got \(maxResponseBytes)")
        }
    }
}

/// cluster.yaml's `prompt_expansion:` section as written (the key itself is never in the file).
struct PromptExpansionSettings: Equatable, Sendable {
    /// `base_url`.
    var baseURL: String
    /// `model`.
    var model: String
    /// `api_key_env`: the environment variable that holds the key, if the endpoint needs one.
    var apiKeyVariable: String?
    /// `timeout_seconds`.
    var timeoutSeconds: Double?
}

/// Why a prompt could not be expanded.
public struct PromptExpansionError: Error, CustomStringConvertible, Sendable {
    /// The explanation, naming the endpoint or setting and what was seen.
    public let description: String
    init(_ description: String) { self.description = description }
}
