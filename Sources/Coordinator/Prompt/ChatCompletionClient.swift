// An OpenAI-compatible chat-completions request (POST {base}/chat/completions) with a deadline and a bounded
// response body, answered by the first choice's message content.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One blocking chat-completion call.
struct ChatCompletionClient {
    let configuration: PromptExpansionConfiguration

    /// The request body.
    struct Request: Encodable {
        struct Message: Encodable {
            let role: String
            let content: String
        }
        let model: String
        let messages: [Message]
        let temperature: Double
        let seed: Int?
        let maxTokens: Int

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature, seed
            case maxTokens = "max_tokens"
        }
    }

    /// The part of the response that is read.
    struct Response: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let message: Message
        }
        let choices: [Choice]
    }

    /// The endpoint: the base URL without trailing slashes, then `/chat/completions`.
    var endpoint: String {
        var base = configuration.baseURL ?? ""
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/chat/completions"
    }

    /// Sends `system` and `user` messages at temperature 0 and returns the reply's text, trimmed.
    func complete(system: String, user: String, maxTokens: Int = 400) throws(PromptExpansionError) -> String {
        try configuration.validate()
        guard let url = URL(string: endpoint) else { throw PromptExpansionError("bad prompt API URL '\(endpoint)'") }
        let body: Data
        do {
            body = try JSONEncoder().encode(Request(
                model: configuration.model ?? "",
                messages: [
                    Request.Message(role: "system", content: system), Request.Message(role: "user", content: user),
                ],
                temperature: 0, seed: configuration.seed, maxTokens: maxTokens))
        } catch {
            throw PromptExpansionError("cannot encode the chat request: \(error)")
        }
        var request = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: configuration.timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key = configuration.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        request.httpBody = body

        let (status, data) = try BoundedDownload.run(
            request, limitBytes: configuration.maxResponseBytes, timeoutSeconds: configuration.timeoutSeconds,
            endpoint: endpoint)
        guard (200..<300).contains(status) else {
            throw PromptExpansionError("\(endpoint) answered HTTP \(status): \(Self.excerpt(data))")
        }
        let response: Response
        do { response = try JSONDecoder().decode(Response.self, from: data) } catch {
            throw PromptExpansionError(
                "the answer of \(endpoint) is not a chat completion (\(error)): \(Self.excerpt(data))")
        }
        guard let content = response.choices.first?.message.content else {
            throw PromptExpansionError(
                "the answer of \(endpoint) has no choices[0].message.content: \(Self.excerpt(data))")
        }
        let text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw PromptExpansionError("\(endpoint) returned an empty completion") }
        return text
    }

    /// The first 300 bytes of a body, as text, for messages.
    static func excerpt(_ data: Data) -> String {
        let text = String(decoding: data.prefix(300), as: UTF8.self)
        return data.count > 300 ? text + "... (\(data.count) bytes)" : text
    }
}

/// Runs one URLSession data task to completion, keeping at most `limitBytes` of its body.
///
/// `@unchecked Sendable`: URLSession calls the delegate methods on its own queue while `run` waits on the
/// semaphore; every mutable field is read and written only while holding `lock`.
final class BoundedDownload: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private let limitBytes: Int
    private var body = Data()
    private var status = 0
    private var failure: Error?
    private var exceeded = false

    private init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// The HTTP status and body; throws on a transport error, an oversized body, or no answer in time.
    static func run(
        _ request: URLRequest, limitBytes: Int, timeoutSeconds: Double, endpoint: String
    ) throws(PromptExpansionError) -> (Int, Data) {
        let download = BoundedDownload(limitBytes: limitBytes)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        let session = URLSession(configuration: configuration, delegate: download, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        let task = session.dataTask(with: request)
        task.resume()
        // The session's own timeouts end the task; this deadline is a backstop a little later.
        if download.done.wait(timeout: .now() + timeoutSeconds + 2) == .timedOut {
            task.cancel()
            throw PromptExpansionError("no answer from \(endpoint) within \(timeoutSeconds) s")
        }
        download.lock.lock()
        defer { download.lock.unlock() }
        if download.exceeded {
            throw PromptExpansionError("the answer of \(endpoint) is larger than the \(limitBytes)-byte limit")
        }
        if let error = download.failure {
            if let error = error as? URLError, error.code == .timedOut {
                throw PromptExpansionError("no answer from \(endpoint) within \(timeoutSeconds) s")
            }
            throw PromptExpansionError("request to \(endpoint) failed: \(error.localizedDescription)")
        }
        return (download.status, download.body)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let http = response as? HTTPURLResponse
        lock.lock()
        status = http?.statusCode ?? 0
        let tooLarge = response.expectedContentLength > Int64(limitBytes)
        if tooLarge { exceeded = true }
        lock.unlock()
        completionHandler(tooLarge ? .cancel : .allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        if body.count + data.count > limitBytes {
            exceeded = true
            lock.unlock()
            dataTask.cancel()
            return
        }
        body.append(data)
        lock.unlock()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.lock()
        failure = error
        lock.unlock()
        done.signal()
    }
}
