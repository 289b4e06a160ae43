import Foundation
import Generated
import HTTPTypes
import Logging
import NIOCore
import Synchronization
import Testing

@testable import Handlers

/// An upstream that records every request it gets and answers with a fixed JSON body.
final class RecordingUpstream: Upstream {
    private let requests = Mutex<[UpstreamRequest]>([])
    var received: [UpstreamRequest] { requests.withLock { $0 } }

    func send(_ request: UpstreamRequest, deadline: Duration) async throws -> UpstreamResponse {
        requests.withLock { $0.append(request) }
        return UpstreamResponse(status: 200, headers: [.contentType: "application/json"]) { handler in
            try await handler(ByteBuffer(string: #"{"ok":true}"#))
        }
    }
}

enum ProxyFixtures {
    static let openAILike = try! JSONDecoder().decode(
        ProviderDefinition.self,
        from: Data(
            #"""
            {"id":"acme","baseURL":"https://api.acme.test/v1","keyEnv":"ACME_API_KEY","auth":{"style":"bearer"},
             "headers":{"acme-version":"7"},"passHeaders":["acme-beta"],
             "endpoints":[{"path":"/chat/completions","methods":["POST"]},{"path":"/models","methods":["GET"]},
                          {"path":"/models/{model}:generateContent","methods":["POST"]},{"path":"/files/{id}","methods":["GET","DELETE"]}],
             "usage":"openai","requestStreamUsage":true,
             "prices":{"m":{"inputMicrosPerMillion":1000000,"outputMicrosPerMillion":3000000,"cachedInputMicrosPerMillion":250000}}}
            """#.utf8))
    static let key = "sk-canary-provider-key-000111222333"
    static let provider = Provider(definition: openAILike, baseURL: openAILike.baseURL, keys: [Secret(key)])

    /// One in-memory database for the process: the recorder needs one, these tests read none.
    static let database = Task { try await SQLiteBackend.open(path: ":memory:", logger: TestDatabases.logger) }

    static func service(_ upstream: RecordingUpstream) async throws -> ProxyService {
        let database = try await database.value
        let registry = ProviderRegistry(providers: [provider])
        return ProxyService(
            registry: registry, keys: KeyResolver(splitKeys: nil),
            admission: Admission(quotas: nil, userLimiter: nil, logger: TestDatabases.logger),
            network: upstream, deadline: .seconds(5),
            usage: UsageRecorder(database: database, followers: [], metrics: BridgeMetrics(), logger: TestDatabases.logger),
            events: nil, metrics: BridgeMetrics(),
            logger: TestDatabases.logger
        )
    }

    static let user = AuthenticatedUser(
        userId: "u-1", appId: "app", tokenId: "t", familyId: "f", generation: 0, issuedAt: Date(), expiresAt: Date().addingTimeInterval(60))

    static func call(_ endpoint: String, method: HTTPRequest.Method = .post, headers: HTTPFields = [:], body: String? = "{}") -> ProxyCall {
        ProxyCall(
            provider: provider, method: method, endpoint: endpoint,
            body: body.map { .asSent(ByteBuffer(string: $0)) } ?? .none, clientHeaders: headers, user: user, clientIP: "127.0.0.1",
            requestId: "r"
        )
    }
}

@Suite("Endpoint policy: traversal and SSRF payloads never reach the upstream")
struct EndpointPolicyTests {
    /// Each is refused as 400 invalid_endpoint, and the upstream sees nothing.
    static let invalid: [String] = [
        "/models/../files", "/models/..", "/../secrets", "/./chat/completions", "/chat/./completions", "/chat/completions/..",
        "/models/%2e%2e/files", "/models/%2E%2E/files", "/models/.%2e/files", "/models/%2e./files", "/%2e%2e/%2e%2e/etc/passwd",
        "/models/%252e%252e/files", "/models%2f..%2ffiles", "/models%2F..%2Ffiles", "/chat%2fcompletions", "/models/%252f",
        "/models/..%5cfiles", "/models\\..\\files", "/chat\\completions", "/models%5c..%5cfiles",
        "//evil.example.com/v1/chat/completions", "/chat//completions", "///chat/completions",
        "https://evil.example.com/chat/completions", "http://169.254.169.254/latest/meta-data", "evil.example.com/chat/completions",
        "chat/completions", "/chat/completions?admin=true", "/chat/completions#frag", "/chat/completions%3Fx=1",
        "/chat/completions%23x", "/@evil.example.com/chat/completions", "/chat/completions@evil", "/models/x%40evil",
        "/chat/completions\u{0}", "/chat/completions%00", "/chat/completions%0d%0aHost:%20evil", "/chat/completions\r\nX: y",
        "/chat/com pletions", "/chat/completions%20", "/chat/completions\t", "/chat/completions%7f",
        "/models/%", "/models/%zz", "/models/%2", "", "/", "/chat/completions/",
        "/%2e", "/.%2E/models", "/models/%u002e%u002e", String(repeating: "/a", count: 1100),
    ]

    /// Clean paths that match no pattern: 403 endpoint_not_allowed, upstream untouched.
    static let notAllowed: [(String, HTTPRequest.Method)] = [
        ("/files", .post), ("/chat/completions/extra", .post), ("/models", .post), ("/chat", .post), ("/completions", .post),
        ("/models/m:generateContentX", .post), ("/models/:generateContent", .post), ("/files/1/content", .get),
        ("/CHAT/COMPLETIONS", .post),
        ("/chat/completionsx", .post), ("/fine_tuning/jobs", .post), ("/files/1", .post),
    ]

    @Test func atLeastFortyInvalidPayloads() {
        #expect(Self.invalid.count >= 40)
    }

    @Test(arguments: invalid)
    func invalidEndpointIsRefusedBeforeAnyUpstreamRequest(endpoint: String) async throws {
        let upstream = RecordingUpstream()
        let service = try await ProxyFixtures.service(upstream)
        await #expect {
            _ = try await service.forward(ProxyFixtures.call(endpoint), connectionClosed: nil)
        } throws: { error in
            if case .invalidEndpoint = error as? AppError { return true }
            return false
        }
        #expect(upstream.received.isEmpty)
    }

    @Test(arguments: notAllowed)
    func unlistedEndpointIsForbiddenBeforeAnyUpstreamRequest(endpoint: String, method: HTTPRequest.Method) async throws {
        let upstream = RecordingUpstream()
        let service = try await ProxyFixtures.service(upstream)
        await #expect(throws: AppError.endpointNotAllowed) {
            _ = try await service.forward(ProxyFixtures.call(endpoint, method: method), connectionClosed: nil)
        }
        #expect(upstream.received.isEmpty)
    }

    @Test(arguments: [
        ("/chat/completions", HTTPRequest.Method.post), ("/models", .get), ("/models/gemini-1.5-flash:generateContent", .post),
        ("/files/file-abc", .get), ("/files/file-abc", .delete), ("/models/m%3AgenerateContent", .post),
    ])
    func listedEndpointsGoToTheBaseURLPlusTheCleanPath(endpoint: String, method: HTTPRequest.Method) async throws {
        let upstream = RecordingUpstream()
        let service = try await ProxyFixtures.service(upstream)
        _ = try await service.forward(ProxyFixtures.call(endpoint, method: method), connectionClosed: nil)
        let sent = try #require(upstream.received.first)
        let decoded = endpoint.removingPercentEncoding!
        #expect(sent.url == "https://api.acme.test/v1" + decoded)
        #expect(sent.method == method)
    }

    @Test func upstreamHeadersAreBuiltFromScratch() async throws {
        let upstream = RecordingUpstream()
        let service = try await ProxyFixtures.service(upstream)
        var client: HTTPFields = [
            .authorization: "Bearer the-bridge-jwt", .cookie: "session=1", .contentType: "application/json",
            HTTPField.Name("acme-beta")!: "tools", HTTPField.Name("x-forwarded-for")!: "1.2.3.4", .connection: "keep-alive",
        ]
        client[HTTPField.Name("x-api-key")!] = "someone-else"
        _ = try await service.forward(ProxyFixtures.call("/chat/completions", headers: client), connectionClosed: nil)
        let headers = try #require(upstream.received.first).headers
        #expect(headers[.authorization] == "Bearer \(ProxyFixtures.key)")
        #expect(headers[HTTPField.Name("acme-version")!] == "7")
        #expect(headers[HTTPField.Name("acme-beta")!] == "tools")
        #expect(headers[.cookie] == nil)
        #expect(headers[HTTPField.Name("x-forwarded-for")!] == nil)
        #expect(headers[HTTPField.Name("x-api-key")!] == nil)
        #expect(headers[.connection] == nil)
        #expect(!headers.contains { $0.value.contains("the-bridge-jwt") })
    }

    @Test func queryStyleKeysAndForwardedParametersAreEncoded() {
        let definition = try! JSONDecoder().decode(
            ProviderDefinition.self,
            from: Data(#"{"id":"q","baseURL":"https://q.test/v1","auth":{"style":"query","name":"key"},"endpoints":[]}"#.utf8))
        let provider = Provider(definition: definition, baseURL: definition.baseURL, keys: [Secret("k&y=1")])
        let url = UpstreamRequestBuilder.url(provider: provider, key: provider.keys?.keys.first, path: "/search", query: [("q", "a b&c=d")])
        #expect(url == "https://q.test/v1/search?q=a%20b%26c%3Dd&key=k%26y%3D1")
    }

    @Test func anErrorBodyQuotingTheKeyIsRedacted() {
        let body = ByteBuffer(string: #"{"error":"Incorrect API key provided: \#(ProxyFixtures.key)"}"#)
        let safe = Relay.redacting(Secret(ProxyFixtures.key), in: body)
        #expect(String(buffer: safe) == #"{"error":"Incorrect API key provided: [redacted]"}"#)
    }
}

@Suite("Usage and cost: OpenAI, Anthropic and Gemini, streamed and not")
struct UsageTests {
    static func meter(_ format: ProviderDefinition.UsageFormat, stream: Bool, _ chunks: [String]) -> TokenUsage {
        var meter = UsageMeter(format: format, isEventStream: stream)
        for chunk in chunks { meter.observe(ByteBuffer(string: chunk)) }
        return meter.finish()
    }

    @Test func openAIBody() {
        let usage = Self.meter(
            .openai, stream: false,
            [
                #"{"model":"gpt-4o-mini","usage":{"prompt_tokens":"#,
                #"120,"completion_tokens":30,"prompt_tokens_details":{"cached_tokens":100}}}"#,
            ])
        #expect(usage == TokenUsage(input: 120, output: 30, cached: 100, model: "gpt-4o-mini"))
    }

    @Test func openAIStreamWithTheFinalUsageChunkSplitAcrossReads() {
        let stream = [
            "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,",
            "\"completion_tokens\":7}}\r\n\r\ndata: [DONE]\n\n",
        ]
        #expect(Self.meter(.openai, stream: true, stream) == TokenUsage(input: 11, output: 7, cached: 0, model: "gpt-4o"))
    }

    /// Events without a usage object are not parsed once the model is known; the usage object is
    /// found however it is spaced, and a text that only mentions "usage" changes nothing.
    @Test func openAIStreamWithNullUsageOnEveryChunkAndASpacedFinalOne() {
        let stream = [
            "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n",
            "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"the \\\"usage\\\": {\\\"prompt_tokens\\\": 999}\"}}],\"usage\":null}\n\n",
            // One event over two data lines: its data is joined with a newline.
            "data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\" :\ndata:  {\"prompt_tokens\":11,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n",
        ]
        #expect(Self.meter(.openai, stream: true, stream) == TokenUsage(input: 11, output: 7, cached: 0, model: "gpt-4o"))
        #expect(UsageMeter.hasObject(named: Array("\"usage\"".utf8), in: Array(#"{"usage" :  {"a":1}}"#.utf8)))
        #expect(!UsageMeter.hasObject(named: Array("\"usage\"".utf8), in: Array(#"{"usage":null,"text":"\"usage\": {"}"#.utf8)))
    }

    /// A field of an unexpected type is ignored, not fatal to the rest; a count written as a
    /// whole decimal still counts.
    @Test func oddlyTypedFieldsDoNotHideTheOthers() {
        let body = #"{"model":7,"usage":{"prompt_tokens":12.0,"completion_tokens":"3","prompt_tokens_details":null}}"#
        #expect(Self.meter(.openai, stream: false, [body]) == TokenUsage(input: 12, output: 0, cached: 0, model: nil))
        let gemini =
            #"[{"modelVersion":"gemini-2.5-flash","usageMetadata":"none"},{"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2}}]"#
        #expect(Self.meter(.gemini, stream: false, [gemini]) == TokenUsage(input: 5, output: 2, cached: 0, model: "gemini-2.5-flash"))
    }

    /// Usage is read by a scan of the bytes: numbers however they are spelled, a count too large
    /// to be one ignored, the last of duplicate fields, and nothing at all from a broken body.
    @Test func numbersDuplicatesAndBrokenBodies() {
        let spelled =
            #"{"model":"a","usage":{"prompt_tokens":1.5e2,"completion_tokens":-0,"prompt_tokens_details":{"cached_tokens":99999999999999999999}},"model":"b"}"#
        #expect(Self.meter(.openai, stream: false, [spelled]) == TokenUsage(input: 150, output: 0, cached: 0, model: "b"))
        #expect(Self.meter(.openai, stream: false, [#"{"model":"m","usage":{"prompt_tokens":5}"#]) == TokenUsage())
        #expect(Self.meter(.openai, stream: false, [#"{"model":"m","usage":{"prompt_tokens":5}} x"#]) == TokenUsage())
        let array = #" [1, "x", {"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4e0}}] "#
        #expect(Self.meter(.gemini, stream: false, [array]) == TokenUsage(input: 3, output: 4))
    }

    @Test func anthropicBodyAndStream() {
        let body = #"{"model":"claude-3-5-haiku-latest","usage":{"input_tokens":50,"cache_read_input_tokens":200,"output_tokens":12}}"#
        #expect(
            Self.meter(.anthropic, stream: false, [body])
                == TokenUsage(input: 250, output: 12, cached: 200, model: "claude-3-5-haiku-latest"))
        let stream = [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-3-5-haiku-latest\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
        ]
        #expect(
            Self.meter(.anthropic, stream: true, stream) == TokenUsage(input: 25, output: 15, cached: 0, model: "claude-3-5-haiku-latest"))
    }

    @Test func geminiBodyStreamAndArray() {
        let body =
            #"{"modelVersion":"gemini-1.5-flash","usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":20,"cachedContentTokenCount":4}}"#
        #expect(Self.meter(.gemini, stream: false, [body]) == TokenUsage(input: 8, output: 20, cached: 4, model: "gemini-1.5-flash"))
        let stream = [
            "data: {\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":3},\"modelVersion\":\"gemini-1.5-flash\"}\r\n\r\n",
            "data: {\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":9,\"thoughtsTokenCount\":2},\"modelVersion\":\"gemini-1.5-flash\"}\r\n\r\n",
        ]
        #expect(Self.meter(.gemini, stream: true, stream) == TokenUsage(input: 8, output: 11, cached: 0, model: "gemini-1.5-flash"))
        let array =
            #"[{"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}},{"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":6}}]"#
        #expect(Self.meter(.gemini, stream: false, [array]) == TokenUsage(input: 5, output: 6))
    }

    @Test func aStreamCutShortKeepsWhatItSaw() {
        let partial = [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":40,\"output_tokens\":1}}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_del",
        ]
        #expect(Self.meter(.anthropic, stream: true, partial) == TokenUsage(input: 40, output: 1))
    }

    @Test func costIsIntegerMicroDollars() {
        let price = ProviderDefinition.Price(
            inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000, cachedInputMicrosPerMillion: 75_000)
        // 1000 uncached input + 1000 cached + 500 output: 150 + 75 + 300 micro-dollars.
        #expect(TokenUsage(input: 2000, output: 500, cached: 1000).costMicros(price) == 525)
        #expect(TokenUsage(input: 1, output: 0).costMicros(price) == 0)
        #expect(TokenUsage(input: 4, output: 0).costMicros(price) == 1)
        #expect(TokenUsage(input: 10, output: 10).costMicros(nil) == 0)
    }
}

@Suite("Providers file")
struct ProvidersFileTests {
    @Test func theBuiltInProvidersLoad() throws {
        let file = try ProvidersFile.defaults()
        let ids = Set(file.providers.map(\.id))
        #expect(
            ids.isSuperset(of: [
                "openai", "gemini", "claude", "groq", "mistral", "deepseek", "together", "openrouter", "fireworks", "perplexity", "mock",
            ]))
        let claude = try #require(file.providers.first { $0.id == "claude" })
        #expect(claude.headers["anthropic-version"] == "2023-06-01")
        let gemini = try #require(file.providers.first { $0.id == "gemini" })
        #expect(gemini.auth == .header(name: "x-goog-api-key", prefix: ""))
    }

    /// Everything the old product supported can be expressed: the example file ships them.
    @Test func theExampleFileWithTheOldProductsOtherProvidersLoads() throws {
        let url = Paths.root.appendingPathComponent("docs/examples/providers.example.json")
        let file = try ProvidersFile.decode(try Data(contentsOf: url), source: "example")
        let ids = Set(file.providers.map(\.id))
        #expect(ids == ["zai", "github", "replicate", "stability", "fal", "elevenlabs", "brave", "deepl", "openmeteo"])
        let deepl = try #require(file.providers.first { $0.id == "deepl" })
        #expect(deepl.auth == .header(name: "Authorization", prefix: "DeepL-Auth-Key "))
        #expect(file.providers.first { $0.id == "openmeteo" }?.auth == ProviderDefinition.AuthStyle.none)
        let merged = ProvidersFile.merged(defaults: try ProvidersFile.defaults(), user: file)
        #expect(merged.count == 11 + 9)
    }

    @Test func mergingOverridesByIdAndReplaceReplaces() throws {
        let user = try ProvidersFile.decode(
            Data(
                #"{"providers":[{"id":"openai","baseURL":"https://proxy.internal/v1","endpoints":[{"path":"/chat/completions","methods":["POST"]}]}]}"#
                    .utf8), source: "t")
        let merged = ProvidersFile.merged(defaults: try ProvidersFile.defaults(), user: user)
        #expect(merged.first { $0.id == "openai" }?.baseURL == "https://proxy.internal/v1")
        #expect(merged.contains { $0.id == "claude" })
        var replacing = user
        replacing.replace = true
        #expect(ProvidersFile.merged(defaults: try ProvidersFile.defaults(), user: replacing).map(\.id) == ["openai"])
    }

    @Test(arguments: [
        (#"{"providers":[{"id":"Bad Id","baseURL":"https://x.test","endpoints":[]}]}"#, "provider id"),
        (#"{"providers":[{"id":"x","baseURL":"ftp://x.test","endpoints":[]}]}"#, "baseURL"),
        (#"{"providers":[{"id":"x","baseURL":"https://x.test?key=1","endpoints":[]}]}"#, "baseURL"),
        (#"{"providers":[{"id":"x","baseURL":"https://x.test","endpoints":[{"path":"models","methods":["GET"]}]}]}"#, "endpoint 'models'"),
        (#"{"providers":[{"id":"x","baseURL":"https://x.test","endpoints":[{"path":"/a/{b","methods":["GET"]}]}]}"#, "unclosed"),
        (#"{"providers":[{"id":"x","baseURL":"https://x.test","endpoints":[{"path":"/a","methods":["TRACE"]}]}]}"#, "TRACE"),
        (#"{"providers":[{"id":"x","baseURL":"https://x.test","auth":{"style":"magic"},"endpoints":[]}]}"#, "auth style"),
        (#"{"providers":[{"id":"x","endpoints":[]}]}"#, "baseURL is required"),
        (
            #"{"providers":[{"id":"x","baseURL":"https://x.test","endpoints":[]},{"id":"x","baseURL":"https://y.test","endpoints":[]}]}"#,
            "twice"
        ),
    ])
    func aBadFileIsRefusedWithAReason(json: String, reason: String) {
        let error = #expect(throws: ProvidersFile.LoadError.self) { _ = try ProvidersFile.decode(Data(json.utf8), source: "t") }
        #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func environmentSuppliesKeysAndBaseURLs() throws {
        let env = ["OPENAI_API_KEY": "sk-1", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"]
        let registry = ProviderRegistry.resolve(try ProvidersFile.defaults().providers, mockEnabled: false) { env[$0] }
        #expect(registry.provider("openai")?.keys?.keys.map(\.value) == ["sk-1"])
        #expect(registry.provider("openai")?.baseURL == "http://127.0.0.1:9/v1")
        #expect(registry.provider("OpenAI")?.isConfigured == true)
        #expect(registry.provider("claude")?.isConfigured == false)
        #expect(registry.provider("mock") == nil)
    }
}

@Suite("Key pools: several server keys per provider")
struct KeyPoolTests {
    @Test func theEnvironmentGivesOnePoolOfDistinctKeys() throws {
        let env = ["OPENAI_API_KEYS": "sk-1, sk-2,,sk-3", "OPENAI_API_KEY": "sk-2", "CLAUDE_API_KEY": "ck-1"]
        let registry = ProviderRegistry.resolve(try ProvidersFile.defaults().providers, mockEnabled: false) { env[$0] }
        #expect(registry.provider("openai")?.keys?.keys.map(\.value) == ["sk-1", "sk-2", "sk-3"])
        #expect(registry.provider("claude")?.keys?.keys.map(\.value) == ["ck-1"])
    }

    @Test func callsGoToTheKeyWithTheFewestInFlight() throws {
        let pool = KeyPool(keys: [Secret("a"), Secret("b"), Secret("c")])
        var leases = (0..<6).compactMap { _ in pool.take() }
        #expect(leases.map(\.index).sorted() == [0, 0, 1, 1, 2, 2])
        leases.removeAll { $0.index == 1 }  // both calls on b end: their leases go back
        let next = pool.take()
        #expect(next?.index == 1)
        #expect(leases.count == 4)
    }

    @Test func a429CoolsAKeyAndA401TakesItOut() throws {
        let pool = KeyPool(keys: [Secret("sk-canary-first-key"), Secret("sk-canary-second-key")])
        #expect(!pool.observe(0, status: 429, retryAfter: .seconds(60)))
        // Only the second is ready; while the first cools, every call goes to it, however many are in flight.
        let onSecond = (0..<3).compactMap { _ in pool.take() }
        #expect(onSecond.allSatisfy { $0.index == 1 })
        #expect(pool.observe(1, status: 401, retryAfter: nil))
        #expect(!pool.observe(1, status: 403, retryAfter: nil), "announced once")
        // The second is out; the first still cools, but it is the only key left: the provider, not
        // the bridge, says no.
        #expect(pool.take()?.index == 0)
        // A key is named by its place and a fingerprint, never by itself.
        #expect(pool.name(1).hasPrefix("#2 (sha256 ") && !pool.name(1).contains("canary"))
        // The last key left stays in: the provider's own 401 reaches the client, not the bridge's 503.
        #expect(!pool.observe(0, status: 403, retryAfter: nil))
        #expect(pool.take()?.index == 0)
    }
}
