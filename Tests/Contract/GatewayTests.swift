import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing

@testable import Handlers
@testable import Server

/// `/v1`, the OpenAI base URL: the model picks the provider, the body goes on with only the model
/// renamed, the proxy's stages all run, and errors come in OpenAI's shape.
@Suite("Gateway (/v1), live", .serialized)
struct GatewayTests {
    static func chat(_ model: String, marker: String, stream: Bool = false) -> String {
        #"{"model": "\#(model)", "messages": [{"role":"user","content":"\#(marker)"}], "stream": \#(stream)}"#
    }

    @Test func aCallGoesToTheProviderItsModelNamesWithOnlyTheModelRenamed() async throws {
        let marker = "gateway-\(UUID().uuidString)"
        let (headers, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token, json: Self.chat("testai/gpt-4o-mini", marker: marker))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(body.contains(#""model":"gpt-4o-mini""#))
            return response.headers
        }
        #expect(headers.first(name: "x-safeapi-provider") == "testai")
        #expect(headers.first(name: "x-safeapi-model") == "gpt-4o-mini")
        #expect(headers.first(name: "x-safeapi-upstream-status") == "200")
        #expect(headers.first(name: "ratelimit-limit") != nil)
        let sent = try #require(MockProviderServer.shared.requests(marker: marker).first)
        #expect(sent.path == "/openai/v1/chat/completions")
        #expect(sent.headers["authorization"] == "Bearer \(MockProviderServer.upstreamKey)")
        // The body's bytes as sent, but for the model.
        #expect(sent.body == Self.chat("gpt-4o-mini", marker: marker))
        let row = try #require(usage.last)
        #expect(row.provider == "testai")
        #expect(row.model == "gpt-4o-mini")
        #expect(row.inputTokens == 1000 && row.outputTokens == 500 && row.costMicros > 0)
    }

    @Test func aStreamIsRelayedAndAsksForItsUsage() async throws {
        let marker = "gateway-stream-\(UUID().uuidString)"
        let (body, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token, json: Self.chat("testai/gpt-4o-mini", marker: marker, stream: true))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            #expect(response.headers.first(name: "x-safeapi-provider") == "testai")
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        }
        #expect(body.hasSuffix("data: [DONE]\n\n"))
        let sent = try #require(MockProviderServer.shared.requests(marker: marker).first)
        #expect(sent.body.contains(#""model": "gpt-4o-mini""#))
        #expect(sent.body.contains(#""stream_options":{"include_usage":true}"#))
        let row = try #require(usage.last)
        #expect(row.streamed && row.model == "gpt-4o-mini" && row.inputTokens == 1000)
    }

    @Test func theModelsAreThoseOfConfiguredProvidersTheGatewaySpeaksTo() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let response = try await fixture.send(.get, "/v1/models", headers: Fixture.bearer(try await fixture.signIn()))
            let list = try fixture.decode(GatewayModelList.self, response)
            let ids = Set(list.data.map(\.id))
            #expect(ids.contains("testai/gpt-4o-mini"))
            #expect(ids.contains { $0.hasPrefix("mock/") })
            #expect(ids.contains("testclaude/claude-3-5-haiku-latest") && ids.contains("testgemini/gemini-1.5-flash"))
            // OpenAI itself has no key here.
            #expect(!ids.contains { $0.hasPrefix("openai/") })
            #expect(list.data.allSatisfy { $0.object == .model && $0.ownedBy == $0.id.prefix { $0 != "/" }.description })
        }
    }

    /// What the OpenAI SDKs read from an error: the status, and `error.message`, `type`, `code`
    /// and `param` (null when there is none); our request id beside it.
    @Test func errorsOnV1AreInOpenAIsShape() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let missing = try await fixture.send(.post, "/v1/chat/completions", json: Self.chat("testai/gpt-4o-mini", marker: "x"))
            #expect(missing.status == .unauthorized)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(missing.body.readableBytesView)) as? [String: Any])
            let error = try #require(object["error"] as? [String: Any])
            #expect(error["type"] as? String == "authentication_error")
            #expect(error["code"] as? String == "token_missing")
            #expect(error["param"] is NSNull)
            #expect((error["message"] as? String)?.isEmpty == false)
            #expect(object["requestId"] as? String == missing.headers[.requestID])

            let auth = Fixture.bearer(try await fixture.signIn())
            let unknown = try await fixture.send(.post, "/v1/chat/completions", headers: auth, json: Self.chat("acme/x", marker: "x"))
            let body = try fixture.decode(GatewayError.self, unknown)
            #expect(unknown.status == .notFound)
            #expect(body.error.type == .invalidRequestError && body.error.param == "model" && body.error.code == "model_not_found")
            // A path under /v1 that does not exist, and the rest of the API, keep their shapes.
            let noRoute = try await fixture.send(.get, "/v1/nothing", headers: auth)
            #expect(try fixture.decode(GatewayError.self, noRoute).error.code == "not_found")
            let elsewhere = try await fixture.send(.get, "/nothing/here", headers: auth)
            #expect(try fixture.decode(APIError.self, elsewhere).error == "not_found")
        }
    }
}

/// `/v1` to a provider whose API is Anthropic's: the request goes out as a Messages request, the
/// answer comes back as OpenAI's, and usage is metered on the provider's own bytes.
@Suite("Gateway (/v1) to Anthropic, live", .serialized)
struct GatewayAnthropicTests {
    @Test func aCallIsTranslatedBothWays() async throws {
        let marker = "gateway-claude-\(UUID().uuidString)"
        let (answer, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token,
                json:
                    #"{"model":"testclaude/claude-3-5-haiku-latest","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"\#(marker)"}]}"#
            )
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type") == "application/json")
            #expect(response.headers.first(name: "x-safeapi-provider") == "testclaude")
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        }
        let sent = try #require(MockProviderServer.shared.requests(marker: marker).first)
        #expect(sent.path == "/anthropic/v1/messages")
        #expect(sent.headers["x-api-key"] == MockProviderServer.upstreamKey)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(sent.body.utf8)) as? NSDictionary)
        #expect(body["model"] as? String == "claude-3-5-haiku-latest")
        #expect(body["system"] as? String == "Be brief.")
        #expect(body["max_tokens"] as? Int == AnthropicMessages.defaultMaxTokens)
        let completion = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? NSDictionary)
        #expect(completion["object"] as? String == "chat.completion")
        let choice = try #require((completion["choices"] as? [NSDictionary])?.first)
        #expect((choice["message"] as? NSDictionary)?["content"] as? String == "Hi")
        #expect(choice["finish_reason"] as? String == "stop")
        #expect((completion["usage"] as? NSDictionary)?["prompt_tokens"] as? Int == 300)
        let row = try #require(usage.last)
        #expect(row.provider == "testclaude" && row.model == "claude-3-5-haiku-latest")
        #expect(row.inputTokens == 300 && row.outputTokens == 42 && row.costMicros > 0)
    }

    @Test func aStreamIsTranslatedEventByEvent() async throws {
        let marker = "gateway-claude-stream-\(UUID().uuidString)"
        let (events, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token,
                json:
                    #"{"model":"testclaude/claude-3-5-haiku-latest","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"\#(marker)"}]}"#
            )
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            return String(buffer: try await response.body.collect(upTo: 1 << 20)).components(separatedBy: "\n\n").filter { !$0.isEmpty }
        }
        #expect(events.last == "data: [DONE]")
        let chunks = try events.dropLast().map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? NSDictionary)
        }
        let text = chunks.compactMap { ((($0["choices"] as? [NSDictionary])?.first)?["delta"] as? NSDictionary)?["content"] as? String }
        #expect(text.joined() == "Hi")
        #expect((chunks.last?["usage"] as? NSDictionary)?["completion_tokens"] as? Int == 42)
        let sent = try #require(MockProviderServer.shared.requests(marker: marker).first)
        #expect(sent.body.contains(#""stream":true"#))
        let row = try #require(usage.last)
        #expect(row.streamed && row.inputTokens == 300 && row.outputTokens == 42)
    }

    @Test func theProvidersErrorComesInOpenAIsShape() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let refused = try await fixture.send(
                .post, "/v1/chat/completions", headers: auth,
                json: #"{"model":"testclaude/claude-3-5-haiku-latest","messages":[{"role":"user","content":"hi"}],"seed":1}"#)
            #expect(refused.status == .badRequest)
            let error = try fixture.decode(GatewayError.self, refused).error
            #expect(error.code == "unsupported_parameter" && error.param == "seed")
        }
    }
}

/// `/v1` to a provider whose API is Gemini's, through the mock.
@Suite("Gateway (/v1) to Gemini, live", .serialized)
struct GatewayGeminiTests {
    @Test func aCallAndAStreamAreTranslated() async throws {
        let marker = "gateway-gemini-\(UUID().uuidString)"
        let (answers, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            var answers: [String] = []
            for stream in [false, true] {
                let request = ProxyLiveTests.post(
                    "\(base)/v1/chat/completions", token: token,
                    json:
                        #"{"model":"testgemini/gemini-1.5-flash","stream":\#(stream),"messages":[{"role":"user","content":"\#(marker)"}]}"#)
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                #expect(response.status == .ok)
                answers.append(String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            return answers
        }
        let sent = MockProviderServer.shared.requests(marker: marker)
        #expect(
            sent.map(\.path) == [
                "/gemini/v1beta/models/gemini-1.5-flash:generateContent", "/gemini/v1beta/models/gemini-1.5-flash:streamGenerateContent",
            ])
        #expect(sent.last?.query == "alt=sse")
        #expect(sent.allSatisfy { $0.headers["x-goog-api-key"] == MockProviderServer.upstreamKey })
        let completion = try #require(try JSONSerialization.jsonObject(with: Data(answers[0].utf8)) as? NSDictionary)
        let message = try #require(((completion["choices"] as? [NSDictionary])?.first)?["message"] as? NSDictionary)
        #expect(message["content"] as? String == "Hi there")
        #expect(answers[1].hasPrefix("data: ") && answers[1].hasSuffix("data: [DONE]\n\n"))
        #expect(answers[1].contains(#""content":" there""#))
        #expect(usage.suffix(2).allSatisfy { $0.provider == "testgemini" && $0.inputTokens == 80 && $0.outputTokens == 20 })
    }
}

@Suite("Gateway (/v1) embeddings and responses, live", .serialized)
struct GatewayOperationTests {
    @Test func embeddingsAndResponsesReachTheirProviders() async throws {
        let (answers, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            var answers: [(Int, String)] = []
            for (path, json) in [
                ("/v1/embeddings", #"{"model":"testgemini/text-embedding-004","input":["a","b"]}"#),
                ("/v1/responses", #"{"model":"testai/gpt-4o-mini","input":"Hi"}"#),
                ("/v1/embeddings", #"{"model":"testai/text-embedding-3-small","input":"a"}"#),
            ] {
                let response = try await HTTPClient.shared.execute(
                    ProxyLiveTests.post(base + path, token: token, json: json), timeout: .seconds(10))
                answers.append((Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20))))
            }
            return answers
        }
        // Gemini's vectors as OpenAI's list.
        #expect(answers[0].0 == 200)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(answers[0].1.utf8)) as? NSDictionary)
        #expect((list["data"] as? [NSDictionary])?.map { $0["embedding"] as? [Double] } == [[0.5, -1.25, 3], [1, 2, 3]])
        // The Responses API, passed through; its usage metered.
        #expect(answers[1].0 == 200 && answers[1].1.contains(#""object":"response""#))
        // The provider's own error, passed through with its key redacted.
        #expect(answers[2].0 == 401)
        #expect(!answers[2].1.contains(MockProviderServer.upstreamKey) && answers[2].1.contains("[redacted]"))
        let row = try #require(usage.first { $0.endpoint == "/responses" })
        #expect(row.provider == "testai" && row.endpoint == "/responses" && row.inputTokens == 10 && row.outputTokens == 5)
    }
}

/// Aliases of the providers file: fallbacks on failures before the first byte, never on a
/// provider's refusal, within the attempt cap and the deadline; the quota counts the request once
/// and every attempt has its usage row.
@Suite("Gateway (/v1) aliases and fallbacks, live", .serialized)
struct GatewayFallbackTests {
    typealias Deployment = ProvidersFile.Deployment

    static func call(
        _ alias: String, aliases: [String: [Deployment]], retry: RetryPolicy = RetryPolicy(maxAttempts: 3, deadline: .seconds(10))
    )
        async throws -> (status: Int, headers: [String: String], quotaUsed: Int64, usage: [UsageRecord])
    {
        let marker = "fallback-\(UUID().uuidString)"
        let (result, usage) = try await ProxyLiveTests.withLiveAppAndUsage(configure: { config in
            config.providers = ProviderRegistry(providers: config.providers.providers, aliases: aliases)
            config.gatewayRetry = retry
        }) { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token,
                json: #"{"model":"\#(alias)","messages":[{"role":"user","content":"\#(marker)"}]}"#)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
            _ = try await response.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for header in response.headers { headers[header.name.lowercased()] = header.value }
            var quota = HTTPClientRequest(url: "\(base)/api/me/quota")
            quota.headers.add(name: "Authorization", value: "Bearer \(token)")
            let standing = try await HTTPClient.shared.execute(quota, timeout: .seconds(5)).body.collect(upTo: 1 << 16)
            let used = try APICoding.decoder.decode(MyQuota.self, from: Data(standing.readableBytesView)).day.requests.used
            return (Int(response.status.code), headers, used)
        }
        return (result.0, result.1, result.2, usage)
    }

    @Test func aDeadProviderFallsBackToTheNext() async throws {
        let result = try await Self.call(
            "resilient", aliases: ["resilient": [Deployment(model: "dead/x"), Deployment(model: "testai/gpt-4o-mini")]])
        // The weight spreads the first attempt: either order serves from testai.
        #expect(result.status == 200)
        #expect(result.headers["x-safeapi-provider"] == "testai" && result.headers["x-safeapi-model"] == "gpt-4o-mini")
        let attempts = Int(result.headers["x-safeapi-attempts"] ?? "") ?? 0
        #expect((1...2).contains(attempts))
        #expect(result.quotaUsed == 1)
        #expect(result.usage.map(\.status).sorted() == (attempts == 2 ? [200, 502] : [200]))
    }

    @Test func aBusyProviderFallsBackAndItsAttemptIsRecorded() async throws {
        let result = try await Self.call(
            "steady",
            aliases: ["steady": [Deployment(model: "busy/x", weight: 1_000_000), Deployment(model: "testai/gpt-4o-mini", weight: 1)]])
        #expect(result.status == 200)
        #expect(result.headers["x-safeapi-attempts"] == "2" && result.headers["x-safeapi-provider"] == "testai")
        #expect(result.quotaUsed == 1)
        #expect(result.usage.map(\.provider) == ["busy", "testai"] && result.usage.map(\.status) == [429, 200])
    }

    @Test func aProvidersRefusalIsTheAnswer() async throws {
        let result = try await Self.call(
            "strict",
            aliases: ["strict": [Deployment(model: "picky/x", weight: 1_000_000), Deployment(model: "testai/gpt-4o-mini", weight: 1)]])
        #expect(result.status == 400)
        #expect(result.headers["x-safeapi-attempts"] == "1" && result.headers["x-safeapi-provider"] == "picky")
        #expect(result.headers["x-safeapi-upstream-status"] == "400")
    }

    /// One busy deployment: tried again only if its Retry-After (1 s) fits the deadline.
    @Test func retryAfterIsHonouredWithinTheDeadline() async throws {
        let short = try await Self.call(
            "busy", aliases: ["busy": [Deployment(model: "busy/x")]], retry: RetryPolicy(maxAttempts: 3, deadline: .milliseconds(500)))
        #expect(short.status == 429 && short.headers["x-safeapi-attempts"] == "1")
        let started = ContinuousClock.now
        let long = try await Self.call(
            "busy", aliases: ["busy": [Deployment(model: "busy/x")]], retry: RetryPolicy(maxAttempts: 2, deadline: .seconds(10)))
        #expect(long.status == 429 && long.headers["x-safeapi-attempts"] == "2")
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(long.quotaUsed == 1 && long.usage.count == 2)
    }
}

/// Several server keys for one provider (`TESTAI_API_KEYS`): a key the provider refuses with 401
/// leaves the pool, is logged by its place and fingerprint only, and the next calls use the others.
@Suite("Key pools, live", .serialized)
struct KeyPoolLiveTests {
    @Test func aRefusedKeyLeavesThePoolAndTheOthersServe() async throws {
        let keys = ["sk-canary-pool-first-0123456789", "sk-canary-pool-second-0123456789"]
        let sink = MemorySink()
        let marker = "pool-\(UUID().uuidString)"
        let port = try await MockProviderServer.shared.port()
        let statuses = try await ProxyLiveTests.withLiveApp(
            sink: sink,
            configure: { config in
                config.providers = ProviderRegistry.resolve(
                    (try? MockProviderServer.shared.providers(port: port)) ?? [], mockEnabled: false
                ) { $0 == "TESTAI_API_KEYS" ? keys.joined(separator: ",") : nil }
            }
        ) { base, token, _ in
            var statuses: [Int] = []
            for path in ["/proxy/testai/embeddings", "/proxy/testai/chat/completions", "/proxy/testai/chat/completions"] {
                let response = try await HTTPClient.shared.execute(
                    ProxyLiveTests.post(
                        base + path, token: token, json: #"{"model":"gpt-4o-mini","input":"\#(marker)","note":"\#(marker)"}"#),
                    timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                statuses.append(Int(response.status.code))
            }
            return statuses
        }
        #expect(statuses == [401, 200, 200])
        let sent = MockProviderServer.shared.requests(marker: marker).map { $0.headers["authorization"] ?? "" }
        #expect(sent == ["Bearer \(keys[0])", "Bearer \(keys[1])", "Bearer \(keys[1])"])
        let lines = sink.contents
        #expect(lines.contains { $0.contains("a provider key was taken out of the pool") && $0.contains("#1 (sha256 ") })
        #expect(!lines.contains { line in keys.contains { line.contains($0) } }, "a key reached a log line")
    }
}

/// BYOK on `/v1`: the caller's split key pins the call to its provider, and no server key is used.
@Suite("Gateway (/v1) with a split key", .serialized)
struct GatewayByokTests {
    @Test func aSplitKeyPinsTheCallToItsProvider() async throws {
        let marker = "gateway-byok-\(UUID().uuidString)"
        let sink = MemorySink()
        try await Harness.withApp(
            .sqlite, sink: sink,
            configure: { config in
                config.providers = ProviderRegistry(
                    providers: config.providers.providers,
                    aliases: [
                        "either": [
                            .init(model: "testclaude/claude-3-5-haiku-latest", weight: 1_000_000), .init(model: "testai/gpt-4o-mini"),
                        ]
                    ])
            }
        ) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let key = try await ByokTests.split(fixture, auth)  // a testai key
            let headers = ContractCases.withPart(auth, id: key.keyId, part: key.clientPart)
            // The alias's first choice is Claude, but the key is testai's: only testai is tried.
            let served = try await fixture.send(
                .post, "/v1/chat/completions", headers: headers,
                json: #"{"model":"either","messages":[{"role":"user","content":"\#(marker)"}]}"#)
            #expect(served.status == .ok)
            #expect(served.headers[HTTPField.Name("x-safeapi-provider")!] == "testai")
            let sent = try #require(MockProviderServer.shared.requests(marker: marker).first)
            #expect(sent.headers["authorization"] == "Bearer \(ByokTests.userKey)")
            // The alias is narrowed to the key's provider before anything is tried: no deployment of
            // another provider is offered the key (which the security log would report).
            #expect(!sink.contents.contains { $0.contains("split_key_wrong_provider") })
            let other = try await fixture.send(
                .post, "/v1/chat/completions", headers: headers, json: #"{"model":"testclaude/claude-3-5-haiku-latest","messages":[]}"#)
            #expect(other.status == .forbidden)
            #expect(try fixture.decode(GatewayError.self, other).error.code == "split_key_wrong_provider")
            let wrongPart = try await fixture.send(
                .post, "/v1/chat/completions",
                headers: ContractCases.withPart(auth, id: key.keyId, part: String(repeating: "A", count: 43)),
                json: #"{"model":"testai/gpt-4o-mini","messages":[]}"#)
            #expect(wrongPart.status == .unauthorized)
            #expect(try fixture.decode(GatewayError.self, wrongPart).error.type == .authenticationError)
        }
    }
}

extension GatewayAnthropicTests {
    /// A client that leaves a translated stream: the provider's stream is cancelled, and what it
    /// reported before is billed.
    @Test func aClientThatHangsUpCancelsTheProviderAndIsBilledForWhatWasSeen() async throws {
        let before = MockProviderServer.shared.cancelledStreams
        let (_, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token,
                json: #"{"model":"testclaude/claude-3-5-haiku-latest","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            let reader = Task {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()  // the first chunk, then hang up
            }
            _ = try await reader.value
            let deadline = ContinuousClock.now + .seconds(3)
            while MockProviderServer.shared.cancelledStreams == before && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(MockProviderServer.shared.cancelledStreams > before, "the provider's stream ran on after the client left")
        let row = try #require(usage.last)
        #expect(row.cancelled && row.streamed && row.provider == "testclaude")
        #expect(row.inputTokens == 300, "message_start's input tokens, seen before the hang-up")
    }
}

extension GatewayAnthropicTests {
    /// The provider breaks its stream off after it began: the client's stream ends with an error
    /// event (which the OpenAI SDKs raise), and the usage row says the call failed.
    @Test func aStreamTheProviderBreaksOffEndsInAnErrorEvent() async throws {
        let (text, usage) = try await ProxyLiveTests.withLiveAppAndUsage { base, token, _ in
            let request = ProxyLiveTests.post(
                "\(base)/v1/chat/completions", token: token,
                json: #"{"model":"testclaude/claude-3-5-haiku-latest","stream":true,"messages":[{"role":"user","content":"break-off"}]}"#)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        }
        let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.first?.contains(#""role":"assistant""#) == true)
        #expect(events.last?.contains(#""code":"upstream_incomplete""#) == true)
        #expect(!text.contains("[DONE]"))
        let row = try #require(usage.last)
        #expect(row.status == 502 && row.inputTokens == 300)
    }
}
