// `--expand-prompt`: the template expander's determinism and content, the chat-completions client against a tiny
// HTTP server on 127.0.0.1 (request checked, canned answers, HTTP errors, garbage, oversize, timeout), and the
// configuration from the environment and from cluster.yaml.
import Foundation
import Testing
@testable import Coordinator
#if canImport(Glibc)
import Glibc
#endif

/// A one-thread HTTP/1.1 server on 127.0.0.1 that answers each connection with the next scripted reply and
/// records what it was sent.
final class CannedHTTPServer: @unchecked Sendable {
    // @unchecked Sendable: `requests` is only touched under `lock`; the listening socket is closed in deinit,
    // after the accept thread has served its script.
    enum Reply {
        case respond(status: Int, body: String, contentLength: Bool)
        case stall(seconds: Double)
    }

    struct Request {
        let head: String
        let body: Data
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var received: [Request] = []
    private let finished = DispatchSemaphore(value: 0)

    var requests: [Request] { lock.withLock { received } }

    init(_ script: [Reply]) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HTTPTestError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else {
            close(descriptor)
            throw HTTPTestError("bind/listen: errno \(errno)")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        listener = descriptor
        port = UInt16(bigEndian: address.sin_port)
        let listener = descriptor
        Thread.detachNewThread { [self] in
            for reply in script {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { break }
                if let request = Self.readRequest(client) { lock.withLock { received.append(request) } }
                switch reply {
                case .respond(let status, let body, let contentLength):
                    var head = "HTTP/1.1 \(status) Canned\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    if contentLength { head += "Content-Length: \(body.utf8.count)\r\n" }
                    Self.send(client, Array((head + "\r\n").utf8) + Array(body.utf8))
                case .stall(let seconds):
                    usleep(UInt32(seconds * 1e6))
                }
                close(client)
            }
            finished.signal()
        }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// The request head (request line and headers) and its Content-Length body; answers `Expect: 100-continue`.
    static func readRequest(_ client: Int32) -> Request? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var continued = false
        while true {
            if let end = find(Array("\r\n\r\n".utf8), in: bytes) {
                let head = String(decoding: bytes[..<end], as: UTF8.self)
                let lower = head.lowercased()
                if lower.contains("expect: 100-continue") && !continued {
                    continued = true
                    send(client, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                }
                let lengthLine = lower.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                let length = lengthLine.flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if bytes.count - end - 4 >= length {
                    return Request(head: head, body: Data(bytes[(end + 4)..<(end + 4 + length)]))
                }
            }
            let count = recv(client, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            bytes += chunk[0..<count]
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    static func send(_ client: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }
}

struct HTTPTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite(.serialized) struct PromptExpanderTests {
    // MARK: - Template expander

    @Test func templateExpansionIsDeterministicAndKeepsTheWordsFirst() throws {
        let prompt = "a red fox trotting through fresh snow"
        let text = try TemplatePromptExpander.expand(prompt)
        #expect(text.hasPrefix(prompt + ". "))
        #expect(try TemplatePromptExpander.expand(prompt) == text)
        #expect(try PromptExpander(configuration: .template).expand("  \(prompt)\n") == text)
        // One sentence from each table, in order.
        var rest = Substring(text.dropFirst(prompt.count + 2))
        for table in TemplatePromptExpander.tables {
            let phrase = try #require(table.phrases.first { rest.hasPrefix($0) }, "no \(table.name) phrase at: \(rest)")
            rest = rest.dropFirst(phrase.count).drop { $0 == " " }
        }
        #expect(rest.isEmpty)
        // Punctuation at the end of the prompt is kept, not doubled.
        #expect(try TemplatePromptExpander.expand("Waves at dusk!").hasPrefix("Waves at dusk! "))
        #expect(throws: PromptExpansionError.self) { try TemplatePromptExpander.expand(" \n ") }
    }

    @Test func templateChoicesFollowAFixedHash() throws {
        // FNV-1a 64 reference values (the published test vectors).
        #expect(TemplatePromptExpander.fnv1a64([]) == 0xCBF2_9CE4_8422_2325)
        #expect(TemplatePromptExpander.fnv1a64(Array("a".utf8)) == 0xAF63_DC4C_8601_EC8C)
        #expect(TemplatePromptExpander.fnv1a64(Array("foobar".utf8)) == 0x8594_4171_F739_67E8)
        // Different prompts spread over the tables: 40 prompts give several distinct camera sentences.
        let cameras = Set(try (0..<40).map { index -> String in
            let text = try TemplatePromptExpander.expand("scene number \(index)")
            return TemplatePromptExpander.tables[2].phrases.first { text.contains($0) } ?? "none"
        })
        #expect(cameras.count >= 5 && !cameras.contains("none"), "\(cameras)")
    }

    // MARK: - Chat endpoint

    static func completion(_ content: String) -> String {
        let escaped = String(data: try! JSONEncoder().encode(content), encoding: .utf8)!
        return #"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"#
            + escaped + #"},"finish_reason":"stop"}]}"#
    }

    static func configuration(_ server: CannedHTTPServer, timeoutSeconds: Double = 10, maxBytes: Int = 1 << 20) -> PromptExpansionConfiguration {
        PromptExpansionConfiguration(
            baseURL: "http://127.0.0.1:\(server.port)/v1/", model: "caption-model", apiKey: "sk-test-123",
            timeoutSeconds: timeoutSeconds, maxResponseBytes: maxBytes, seed: 42)
    }

    @Test func chatRequestIsWellFormedAndTheAnswerIsUsed() throws {
        let answer = "A red fox trots through deep fresh snow in a quiet pine forest, its breath visible in the cold air."
        let server = try CannedHTTPServer([.respond(status: 200, body: Self.completion("  \(answer)\n"), contentLength: true)])
        let expander = PromptExpander(configuration: Self.configuration(server))
        #expect(try expander.expand("a red fox in the snow") == answer)
        let request = try #require(server.requests.first)
        #expect(request.head.hasPrefix("POST /v1/chat/completions HTTP/1.1"))
        #expect(request.head.lowercased().contains("authorization: bearer sk-test-123"))
        #expect(request.head.lowercased().contains("content-type: application/json"))
        let json = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        #expect(json["model"] as? String == "caption-model")
        #expect(json["temperature"] as? Double == 0)
        #expect(json["seed"] as? Int == 42)
        let messages = try #require(json["messages"] as? [[String: String]])
        #expect(messages.count == 2)
        #expect(messages[0]["role"] == "system" && messages[0]["content"] == PromptExpander.systemPrompt)
        #expect(messages[1] == ["role": "user", "content": "a red fox in the snow"])
        #expect(expander.source == "chat model caption-model at http://127.0.0.1:\(server.port)/v1/")
    }

    @Test func httpErrorsAreReportedWithTheStatusAndBody() throws {
        let server = try CannedHTTPServer([.respond(status: 500, body: #"{"error":"model overloaded"}"#, contentLength: true)])
        let error = try #require(throws: PromptExpansionError.self) {
            try PromptExpander(configuration: Self.configuration(server)).expand("a fox")
        }
        #expect(error.description.contains("answered HTTP 500"), "\(error)")
        #expect(error.description.contains("model overloaded"), "\(error)")
        #expect(error.description.contains("/v1/chat/completions"), "\(error)")
    }

    @Test func garbageAndEmptyAnswersAreRefused() throws {
        let server = try CannedHTTPServer([
            .respond(status: 200, body: "<html>not json</html>", contentLength: true),
            .respond(status: 200, body: #"{"choices":[]}"#, contentLength: true),
            .respond(status: 200, body: Self.completion("   "), contentLength: true),
        ])
        let expander = PromptExpander(configuration: Self.configuration(server))
        let garbage = try #require(throws: PromptExpansionError.self) { try expander.expand("a fox") }
        #expect(garbage.description.contains("is not a chat completion") && garbage.description.contains("<html>"), "\(garbage)")
        let noChoice = try #require(throws: PromptExpansionError.self) { try expander.expand("a fox") }
        #expect(noChoice.description.contains("no choices[0].message.content"), "\(noChoice)")
        let empty = try #require(throws: PromptExpansionError.self) { try expander.expand("a fox") }
        #expect(empty.description.contains("empty completion"), "\(empty)")
    }

    @Test(arguments: [true, false])
    func oversizedAnswersAreRefused(contentLength: Bool) throws {
        let body = Self.completion(String(repeating: "snow ", count: 2000))
        let server = try CannedHTTPServer([.respond(status: 200, body: body, contentLength: contentLength)])
        let error = try #require(throws: PromptExpansionError.self) {
            try PromptExpander(configuration: Self.configuration(server, maxBytes: 4096)).expand("a fox")
        }
        #expect(error.description.contains("larger than the 4096-byte limit"), "\(error)")
    }

    @Test func aSilentEndpointTimesOut() throws {
        let server = try CannedHTTPServer([.stall(seconds: 4)])
        let start = Date()
        let error = try #require(throws: PromptExpansionError.self) {
            try PromptExpander(configuration: Self.configuration(server, timeoutSeconds: 1)).expand("a fox")
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(error.description.contains("no answer from") && error.description.contains("within 1.0 s"), "\(error)")
        #expect(elapsed < 3.5, "took \(elapsed) s with a 1 s timeout")
    }

    @Test func aClosedPortIsAClearError() throws {
        let port = try { () throws -> UInt16 in
            let server = try CannedHTTPServer([])
            return server.port
        }()
        let configuration = PromptExpansionConfiguration(
            baseURL: "http://127.0.0.1:\(port)", model: "m", timeoutSeconds: 5)
        let error = try #require(throws: PromptExpansionError.self) {
            try PromptExpander(configuration: configuration).expand("a fox")
        }
        #expect(error.description.contains("request to http://127.0.0.1:\(port)/chat/completions failed"), "\(error)")
    }

    // MARK: - Configuration

    @Test func configurationFromTheEnvironment() throws {
        #expect(PromptExpansionConfiguration.fromEnvironment([:]) == .template)
        #expect(PromptExpansionConfiguration.fromEnvironment(["SORA_PROMPT_API_BASE": ""]) == .template)
        let configured = PromptExpansionConfiguration.fromEnvironment([
            "SORA_PROMPT_API_BASE": "https://api.example.com/v1", "SORA_PROMPT_API_KEY": "k", "SORA_PROMPT_MODEL": "m",
        ])
        #expect(configured.baseURL == "https://api.example.com/v1" && configured.apiKey == "k" && configured.model == "m")
        // A base without a model, or a base that is not http(s), is refused when used.
        let noModel = PromptExpansionConfiguration.fromEnvironment(["SORA_PROMPT_API_BASE": "http://localhost:8080"])
        let error = try #require(throws: PromptExpansionError.self) { try PromptExpander(configuration: noModel).expand("x") }
        #expect(error.description.contains("SORA_PROMPT_MODEL"), "\(error)")
        let ftp = PromptExpansionConfiguration(baseURL: "ftp://host/v1", model: "m")
        #expect(throws: PromptExpansionError.self) { try PromptExpander(configuration: ftp).expand("x") }
    }

    static let yamlHead = "coordinator:\n  listen: 127.0.0.1:7700\n  state_dir: s\ntoken_file: t\nmodel: m\nworkers:\n  - name: a\n    address: h:1\n"

    @Test func configurationFromClusterYAML() throws {
        let config = try ClusterConfig.parse(Self.yamlHead + """
            prompt_expansion:
              base_url: http://127.0.0.1:8080/v1
              model: qwen2.5-7b-instruct
              api_key_env: MY_PROMPT_KEY
              timeout_seconds: 30

            """)
        let settings = try #require(config.promptExpansion)
        #expect(settings == PromptExpansionSettings(
            baseURL: "http://127.0.0.1:8080/v1", model: "qwen2.5-7b-instruct", apiKeyVariable: "MY_PROMPT_KEY", timeoutSeconds: 30))
        let resolved = PromptExpansionConfiguration.resolve(settings: settings, environment: ["MY_PROMPT_KEY": "secret"])
        #expect(resolved.baseURL == "http://127.0.0.1:8080/v1" && resolved.apiKey == "secret" && resolved.timeoutSeconds == 30)
        // The environment wins over the file; without either, the template.
        let overridden = PromptExpansionConfiguration.resolve(
            settings: settings, environment: ["SORA_PROMPT_API_BASE": "http://other:1", "SORA_PROMPT_MODEL": "x"])
        #expect(overridden.baseURL == "http://other:1")
        #expect(PromptExpansionConfiguration.resolve(settings: nil, environment: [:]) == .template)
        #expect(try ClusterConfig.parse(Self.yamlHead).promptExpansion == nil)
    }

    static let badSections: [(text: String, expected: String)] = [
        ("prompt_expansion:\n  base_url: http://h/v1\n  model: m\n  api_key: sk-123\n", "line 12: prompt_expansion.api_key is not allowed"),
        ("prompt_expansion:\n  base_url: file:///etc/passwd\n  model: m\n", "line 10: prompt_expansion.base_url must be an http:// or https:// URL"),
        ("prompt_expansion:\n  base_url: http://h/v1\n", "prompt_expansion is missing 'model'"),
        ("prompt_expansion:\n  base_url: http://h/v1\n  model: m\n  api_key_env: 9KEY\n", "line 12: prompt_expansion.api_key_env must name an environment variable"),
        ("prompt_expansion:\n  base_url: http://h/v1\n  model: m\n  timeout_seconds: -1\n", "line 12: prompt_expansion.timeout_seconds must be a number"),
        ("prompt_expansion:\n  base_url: http://h/v1\n  model: m\n  temperature: 1\n", "line 12: unknown field 'temperature' in prompt_expansion"),
        ("prompt_expansion: http://h/v1\n", "prompt_expansion must be a map"),
    ]

    @Test(arguments: badSections.indices)
    func badPromptExpansionSectionsAreRefused(index: Int) {
        let (text, expected) = Self.badSections[index]
        do {
            _ = try ClusterConfig.parse(Self.yamlHead + text)
            Issue.record("accepted a bad prompt_expansion section; expected \(expected)")
        } catch {
            #expect("\(error)".contains(expected), "got: \(error)")
        }
    }
}
