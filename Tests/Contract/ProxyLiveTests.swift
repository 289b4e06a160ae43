import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// The proxy on a live server, read with a real HTTP client: streaming, cancellation, binary
/// bodies, usage and cost, and the provider key.
@Suite("Proxy, live", .serialized)
struct ProxyLiveTests {
    /// Runs the app on a real port; `body` gets the base URL and a signed-in user's token.
    /// Runs the app on a real port, then stops it (flushing usage) and returns the usage rows too.
    static func withLiveApp<Result: Sendable>(
        sink: MemorySink = MemorySink(),
        configure: (inout AppConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (_ base: String, _ token: String, _ config: AppConfig) async throws -> Result
    ) async throws -> Result {
        try await withLiveAppAndUsage(sink: sink, configure: configure, body).result
    }

    static func withLiveAppAndUsage<Result: Sendable>(
        sink: MemorySink = MemorySink(),
        configure: (inout AppConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (_ base: String, _ token: String, _ config: AppConfig) async throws -> Result
    ) async throws -> (result: Result, usage: [UsageRecord]) {
        let providers = try await Harness.providers()
        return try await Harness.withFreshConfig(.sqlite) { config in
            var config = config
            config.providers = providers
            configure(&config)
            let final = config
            let app = try await buildApplication(config: final, logger: Harness.logger(sink))
            let box = Box<Result>()
            try await app.test(.live) { client in
                let token = try await Fixture(client: client).signIn().token
                let port = try #require(client.port)
                await box.set(try await body("http://127.0.0.1:\(port)", token, final))
            }
            return (try await box.get(), try await usageRows(final))
        }
    }

    static func post(_ url: String, token: String, json: String, header: String = "Authorization") -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: header, value: header == "Authorization" ? "Bearer \(token)" : token)
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        return request
    }

    /// The usage rows written for the requests, read after the server has stopped (and flushed).
    static func usageRows(_ config: AppConfig) async throws -> [UsageRecord] {
        try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
            try await database.withSQL { sql in
                try await sql.raw("SELECT * FROM usage_records ORDER BY id").all(
                    decoding: UsageRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            }
        }
    }

    @Test func eventsAreRelayedOneByOneAsTheyArrive() async throws {
        let arrivals = try await Self.withLiveApp { base, token, _ in
            let request = Self.post(
                "\(base)/proxy/testai/chat/completions", token: token, json: #"{"model":"gpt-4o-mini","stream":true,"chunks":6}"#)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            var arrivals: [(ContinuousClock.Instant, String)] = []
            for try await chunk in response.body { arrivals.append((.now, String(buffer: chunk))) }
            return arrivals.map { ($0.0, $0.1) }
        }
        // When each event's text first went by. The mock sleeps 50 ms between events, so relayed as
        // they come they spread over about 250 ms, in order; buffered, they would all land at once.
        let times = (0..<6).compactMap { index in arrivals.first { $0.1.contains("w\(index) ") }?.0 }
        #expect(times.count == 6)
        #expect(times == times.sorted())
        let span = times.last! - times.first!
        #expect(span >= .milliseconds(200), "all events arrived within \(span): buffered")
    }

    /// Sends one request on an open connection and reads its whole response (by `Content-Length`
    /// or to the last chunk).
    static func exchange(
        _ inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        _ request: String
    ) async throws -> String {
        try await outbound.write(ByteBuffer(string: request))
        var text = ""
        while let chunk = try await inbound.next() {
            text += String(buffer: chunk)
            guard let split = text.range(of: "\r\n\r\n") else { continue }
            let head = text[..<split.lowerBound].lowercased()
            if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
            {
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: split.upperBound) >= length { return text }
            } else if text.hasSuffix("\r\n0\r\n\r\n") {
                return text
            }
        }
        throw CancellationError()
    }

    @Test func streamsAndAnswersShareOneKeptAliveConnection() async throws {
        try await Self.withLiveApp { base, token, _ in
            let port = try #require(URL(string: base)?.port)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) {
                channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
            func request(_ json: String) -> String {
                "POST /proxy/testai/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
            }
            let stream = request(#"{"model":"gpt-4o-mini","stream":true,"chunks":2}"#)
            let plain = request(#"{"model":"gpt-4o-mini","messages":[]}"#)
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                for (index, request) in [stream, plain, stream, plain].enumerated() {
                    let response = try await Self.exchange(&iterator, outbound, request)
                    #expect(response.hasPrefix("HTTP/1.1 200"), "answer \(index): \(response.prefix(200))")
                    if request == stream {
                        #expect(response.contains("data: "), "answer \(index) is the stream")
                    } else {
                        // A small JSON answer goes out whole, with its length, in one write.
                        let head = response.components(separatedBy: "\r\n\r\n")[0].lowercased()
                        #expect(head.contains("content-length: "))
                        #expect(!head.contains("transfer-encoding"))
                    }
                }
            }
        }
    }

    @Test func aClientThatHangsUpCancelsTheUpstreamRequestAndItsTokensAreRecorded() async throws {
        let before = MockProviderServer.shared.cancelledStreams
        let (_, usage) = try await Self.withLiveAppAndUsage { base, token, config in
            let request = Self.post(
                "\(base)/proxy/testclaude/v1/messages", token: token, json: #"{"model":"claude-3-5-haiku-latest","stream":true}"#,
                header: "x-api-key")
            let reader = Task {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()  // message_start, then hang up
            }
            _ = try await reader.value
            let deadline = ContinuousClock.now + .seconds(3)
            while MockProviderServer.shared.cancelledStreams == before && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            return config
        }
        #expect(MockProviderServer.shared.cancelledStreams > before, "the upstream stream ran on after the client left")
        let row = try #require(usage.last)
        #expect(row.cancelled)
        #expect(row.streamed)
        #expect(row.inputTokens == 300, "message_start's input tokens, seen before the hang-up")
    }

    @Test func anAnswerTheProviderBreaksOffIsA502NotHalfAnAnswer() async throws {
        try await Self.withLiveApp { base, token, _ in
            let response = try await HTTPClient.shared.execute(
                Self.post("\(base)/proxy/testai/truncated", token: token, json: "{}"), timeout: .seconds(10))
            #expect(response.status.code == 502)
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(body.contains("\"upstream_unreachable\""), "\(body)")
        }
    }

    /// `x-safeapi-overhead-us` is the bridge's own time: the provider's 300 ms before its answer's
    /// head are left out.
    @Test func theOverheadHeaderLeavesOutTheProvidersWait() async throws {
        try await Self.withLiveApp { base, token, _ in
            let started = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(
                Self.post("\(base)/proxy/testai/delayed", token: token, json: "{}"), timeout: .seconds(10))
            let total = ContinuousClock.now - started
            #expect(response.status.code == 200)
            #expect(total >= .milliseconds(300))
            let overhead = try #require(response.headers.first(name: "x-safeapi-overhead-us").flatMap { Int64($0) })
            #expect(overhead >= 0 && overhead < 300_000, "\(overhead) µs holds the provider's wait")
        }
    }

    @Test func anErrorAnswerTheProviderBreaksOffIsA502NotA500() async throws {
        try await Self.withLiveApp { base, token, _ in
            let response = try await HTTPClient.shared.execute(
                Self.post("\(base)/proxy/testai/truncated-error", token: token, json: "{}"), timeout: .seconds(10))
            #expect(response.status.code == 502)
            #expect(response.headers.first(name: "x-safeapi-upstream-status") == nil, "the 502 is the bridge's, not the provider's")
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(body.contains("\"upstream_unreachable\""), "\(body)")
        }
    }

    @Test func binaryAnswersPassThroughByteForByte() async throws {
        try await Self.withLiveApp { base, token, _ in
            let request = Self.post("\(base)/proxy/testai/audio/speech", token: token, json: #"{"input":"hello","voice":"alloy"}"#)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.headers.first(name: "content-type") == "audio/mpeg")
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(Array(body.readableBytesView) == MockProviderServer.audio)
        }
    }

    struct Expectation: Sendable, CustomTestStringConvertible {
        let name: String
        let path: String
        let header: String
        let json: String
        let input: Int64
        let output: Int64
        let cached: Int64
        let cost: Int64
        let streamed: Bool
        var testDescription: String { name }
    }

    /// Token counts from the mock's answers, and the costs worked out by hand from the test prices.
    static let formats: [Expectation] = [
        // (600 × 0.15 + 400 × 0.075 + 500 × 0.60) µ$ = 90 + 30 + 300 = 420
        Expectation(
            name: "OpenAI JSON", path: "/proxy/testai/chat/completions", header: "Authorization", json: #"{"model":"gpt-4o-mini"}"#,
            input: 1000, output: 500, cached: 400, cost: 420, streamed: false),
        // the same input, 3 output tokens: 90 + 30 + 1.8 = 121.8, rounded: 122
        Expectation(
            name: "OpenAI stream (usage asked for by the bridge)", path: "/proxy/testai/chat/completions", header: "Authorization",
            json: #"{"model":"gpt-4o-mini","stream":true,"chunks":3}"#, input: 1000, output: 3, cached: 400, cost: 122, streamed: true),
        // 300 × 0.8 + 42 × 4 = 240 + 168 = 408
        Expectation(
            name: "Anthropic JSON", path: "/proxy/testclaude/v1/messages", header: "x-api-key",
            json: #"{"model":"claude-3-5-haiku-latest"}"#, input: 300, output: 42, cached: 0, cost: 408, streamed: false),
        Expectation(
            name: "Anthropic stream", path: "/proxy/testclaude/v1/messages", header: "x-api-key",
            json: #"{"model":"claude-3-5-haiku-latest","stream":true}"#, input: 300, output: 42, cached: 0, cost: 408, streamed: true),
        // 80 × 0.075 + 20 × 0.3 = 6 + 6 = 12
        Expectation(
            name: "Gemini JSON", path: "/proxy/testgemini/v1beta/models/gemini-1.5-flash:generateContent", header: "x-goog-api-key",
            json: #"{"contents":[]}"#, input: 80, output: 20, cached: 0, cost: 12, streamed: false),
        Expectation(
            name: "Gemini SSE", path: "/proxy/testgemini/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse",
            header: "x-goog-api-key", json: #"{"contents":[]}"#, input: 80, output: 20, cached: 0, cost: 12, streamed: true),
    ]

    @Test(arguments: formats)
    func usageAndCostAreRecordedExactly(expected: Expectation) async throws {
        let (_, usage) = try await Self.withLiveAppAndUsage { base, token, _ in
            let response = try await HTTPClient.shared.execute(
                Self.post(base + expected.path, token: token, json: expected.json, header: expected.header), timeout: .seconds(10))
            #expect(response.status == .ok)
            _ = try await response.body.collect(upTo: 1 << 20)
        }
        #expect(usage.count == 1)
        let row = try #require(usage.last)
        #expect(row.inputTokens == expected.input)
        #expect(row.outputTokens == expected.output)
        #expect(row.cachedTokens == expected.cached)
        #expect(row.costMicros == expected.cost)
        #expect(row.streamed == expected.streamed)
        #expect(!row.cancelled)
        #expect(row.status == 200)
        #expect(row.userId == "user-1")
        #expect(row.keySource == "server")
        #expect(row.ttfbMs != nil)
    }

    @Test func theProviderKeyGoesUpstreamButNeverToALogAResponseOrTheDatabase() async throws {
        let sink = MemorySink()
        let marker = "marker-\(UUID().uuidString)"
        let ((databaseBytes, bodies, token), usage) = try await Self.withLiveAppAndUsage(sink: sink) { base, token, config in
            var bodies: [String] = []
            for (path, json) in [
                ("/proxy/testai/chat/completions", #"{"model":"gpt-4o-mini","note":"\#(marker)"}"#),
                ("/proxy/testai/embeddings", #"{"input":"\#(marker)"}"#),
                ("/proxy/testai/chat/completions", #"{"model":"gpt-4o-mini","stream":true,"note":"\#(marker)"}"#),
            ] {
                let response = try await HTTPClient.shared.execute(Self.post(base + path, token: token, json: json), timeout: .seconds(10))
                bodies.append(String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            try await Task.sleep(for: .milliseconds(600))  // past the usage writer's flush interval
            var bytes = Data()
            if case .sqlite(let path) = config.database {
                for suffix in ["", "-wal"] { bytes.append((try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()) }
            }
            return (bytes, bodies, token)
        }
        #expect(usage.count == 3)
        let received = MockProviderServer.shared.requests(marker: marker)
        #expect(received.count == 3)
        for request in received {
            #expect(request.headers["authorization"] == "Bearer \(MockProviderServer.upstreamKey)")
            #expect(!request.headers.values.contains { $0.contains(token) }, "the client's token went upstream")
        }
        // The provider's error quoted the key; the client sees it redacted.
        #expect(bodies[1].contains("[redacted]"))
        let key = MockProviderServer.upstreamKey
        for body in bodies { #expect(!body.contains(key)) }
        for line in sink.contents { #expect(!line.contains(key), "a log line holds the provider key") }
        #expect(databaseBytes.range(of: Data("/chat/completions".utf8)) != nil, "the usage rows are not in the bytes read")
        #expect(databaseBytes.range(of: Data(key.utf8)) == nil, "the database holds the provider key")
    }

    @Test func refusedEndpointsNeverReachTheProvider() async throws {
        let marker = "marker\(UInt32.random(in: 0...UInt32.max))"
        try await Self.withLiveApp { base, token, _ in
            for path in [
                "/proxy/testai/\(marker)/%2e%2e/chat/completions", "/proxy/testai/files/\(marker)",
                "/proxy/testai/chat/completions%3F\(marker)",
            ] {
                let response = try await HTTPClient.shared.execute(Self.post(base + path, token: token, json: "{}"), timeout: .seconds(10))
                #expect([400, 403].contains(response.status.code), "\(path): \(response.status)")
            }
        }
        #expect(MockProviderServer.shared.requests(marker: marker).isEmpty)
    }
}
