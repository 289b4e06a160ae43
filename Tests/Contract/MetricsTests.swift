import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import Handlers
@testable import Server

/// `/metrics`: what a call, a refusal and the writers leave there; no secret and no client-chosen
/// text in it; a bounded number of series whatever the users and models; the listener without
/// the admin key.
@Suite("Metrics")
struct MetricsTests {
    /// `/metrics` read with the admin key, checked to be Prometheus' text format.
    static func scrape(_ fixture: Fixture) async throws -> String {
        let response = try await fixture.send(.get, "/metrics", headers: Fixture.admin)
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        return String(buffer: response.body)
    }

    /// The samples (every line but the comments), each `name{labels} value`.
    static func samples(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    /// The value of one series, named with its labels as Prometheus prints them.
    static func value(_ text: String, _ series: String) -> Double? {
        samples(text).first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
    }

    /// Scrapes until `series` reaches `expected` (calls are counted when their usage is recorded,
    /// just after the answer), for 10 s at most.
    static func scrape(_ fixture: Fixture, until series: String, reaches expected: Double) async throws -> String {
        var text = try await scrape(fixture)
        for _ in 0..<200 where (value(text, series) ?? 0) < expected {
            try await Task.sleep(for: .milliseconds(50))
            text = try await scrape(fixture)
        }
        return text
    }

    static func call(_ fixture: Fixture, _ auth: HTTPFields, model: String, endpoint: String = "chat/completions") async throws
        -> HTTPResponse.Status
    {
        try await fixture.send(.post, "/proxy/testai/\(endpoint)", headers: auth, json: #"{"model":"\#(model)"}"#).status
    }

    @Test(arguments: Harness.kinds)
    func callsRefusalsAndTheWritersAreCounted(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: { $0.defaultDailyQuota = 4 }) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            for _ in 0..<3 { #expect(try await Self.call(fixture, auth, model: "gpt-4o-mini") == .ok) }
            #expect(try await Self.call(fixture, auth, model: "a-model-nobody-prices") == .ok)
            // Refusals: the quota (4 a day), the endpoint allow-list, no token.
            #expect(try await Self.call(fixture, auth, model: "gpt-4o-mini") == .tooManyRequests)
            #expect(try await Self.call(fixture, auth, model: "gpt-4o-mini") == .tooManyRequests)
            #expect(try await Self.call(fixture, [:], model: "gpt-4o-mini") == .unauthorized)
            #expect(try await Self.call(fixture, auth, model: "gpt-4o-mini", endpoint: "not/allowed") == .forbidden)

            let ok = #"safeapi_proxy_calls_total{provider="testai",model="gpt-4o-mini",outcome="ok"}"#
            _ = try await Self.scrape(fixture, until: ok, reaches: 3)
            // Calls are counted as their usage is queued; the writer flushes 20 ms later.
            let text = try await Self.scrape(fixture, until: "safeapi_usage_flush_seconds_count", reaches: 1)
            #expect(Self.value(text, ok) == 3)
            #expect(Self.value(text, #"safeapi_proxy_calls_total{provider="testai",model="other",outcome="ok"}"#) == 1)
            // The mock answers 1,000 input, 500 output and 400 cached tokens a call.
            #expect(Self.value(text, #"safeapi_tokens_total{provider="testai",model="gpt-4o-mini",kind="input"}"#) == 3000)
            #expect(Self.value(text, #"safeapi_tokens_total{provider="testai",model="gpt-4o-mini",kind="output"}"#) == 1500)
            #expect(Self.value(text, #"safeapi_tokens_total{provider="testai",model="gpt-4o-mini",kind="cached"}"#) == 1200)
            #expect((Self.value(text, #"safeapi_cost_micros_total{provider="testai",model="gpt-4o-mini"}"#) ?? 0) > 0)
            #expect(Self.value(text, #"safeapi_refusals_total{reason="quota"}"#) == 2)
            // Announced once per user and period, however many calls it refuses.
            #expect(Self.value(text, #"safeapi_events_total{event="quota.exceeded"}"#) == 1)
            #expect(Self.value(text, #"safeapi_refusals_total{reason="endpoint_policy"}"#) == 1)
            #expect((Self.value(text, #"safeapi_refusals_total{reason="auth"}"#) ?? 0) >= 1)
            #expect(Self.value(text, #"safeapi_http_requests_total{operation="sdkProxyPost",status="200"}"#) == 4)
            #expect(Self.value(text, #"safeapi_http_requests_total{operation="sdkProxyPost",status="429"}"#) == 2)
            // Histograms: one observation per answered call.
            #expect(Self.value(text, #"safeapi_upstream_response_seconds_count{provider="testai"}"#) == 4)
            #expect(Self.value(text, #"safeapi_proxy_time_to_first_byte_seconds_count{provider="testai"}"#) == 4)
            #expect(Self.value(text, "safeapi_overhead_seconds_count") == 4)
            // The writers, the pool, the outbox and the process.
            #expect((Self.value(text, "safeapi_usage_flush_seconds_count") ?? 0) >= 1)
            #expect(Self.value(text, "safeapi_usage_queue_depth") != nil)
            #expect(Self.value(text, "safeapi_db_connections_in_use") != nil)
            #expect(Self.value(text, "safeapi_webhook_outbox_pending") != nil)
            #expect(Self.value(text, #"safeapi_events_total{event="user.created"}"#) == 1)
            #expect((Self.value(text, "process_resident_memory_bytes") ?? 0) > 0)
            #expect((Self.value(text, "process_open_fds") ?? 0) > 0)
            #expect((Self.value(text, "process_cpu_seconds_total") ?? 0) > 0)
        }
    }

    @Test func noSecretAndNoClientTextReachesTheMetrics() async throws {
        let sink = MemorySink()
        let userCanary = "canary-user-5d1e9a7c3b"
        let modelCanary = "canary-model-8f2b6d4a1c"
        try await Harness.withApp(.sqlite, sink: sink) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let token = try await fixture.token(userCanary, app: app)
            let auth = Fixture.bearer(token)
            let key = try await ByokTests.split(fixture, auth)
            _ = try await ByokTests.proxy(fixture, auth: auth, keyId: key.keyId, part: key.clientPart, marker: "metrics")
            #expect(try await Self.call(fixture, auth, model: modelCanary) == .ok)
            _ = try await fixture.send(.get, "/metrics", headers: [.adminKey: "a-wrong-admin-key-canary"])
            let text = try await Self.scrape(
                fixture, until: #"safeapi_proxy_calls_total{provider="testai",model="other",outcome="ok"}"#, reaches: 1)
            let canaries = [
                Harness.adminKeyCanary, Harness.jwtSecretCanary, token.token, token.refreshToken, app.appSecret, key.clientPart,
                ByokTests.userKey, MockProviderServer.upstreamKey, userCanary, modelCanary, app.app.appId, "a-wrong-admin-key-canary",
            ]
            for canary in canaries {
                #expect(!text.contains(canary), "the metrics hold \(canary.prefix(12))…")
            }
        }
    }

    @Test func seriesStayBoundedWithAThousandUsersAndAHundredUnknownModels() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            func calls(_ users: Range<Int>) async throws {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<8 {
                        group.addTask {
                            for user in users where user % 8 == lane {
                                let auth = Fixture.bearer(try await fixture.token("user-\(user)", app: app))
                                #expect(try await Self.call(fixture, auth, model: "unknown-model-\(user % 100)") == .ok)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let series = #"safeapi_proxy_calls_total{provider="testai",model="other",outcome="ok"}"#
            try await calls(0..<10)
            _ = try await Self.scrape(fixture, until: series, reaches: 10)
            let few = try await Self.scrape(fixture, until: "safeapi_usage_flush_seconds_count", reaches: 1)
            try await calls(10..<1000)
            let many = try await Self.scrape(fixture, until: series, reaches: 1000)
            #expect(Self.value(many, series) == 1000)
            // The same series after 1,000 users and 100 models as after 10 of each (but the first
            // scrape's own count), and few of them.
            let names = { (text: String) in
                Set(Self.samples(text).map { String($0.prefix { $0 != " " }) }.filter { !$0.contains(#"operation="getMetrics""#) })
            }
            #expect(names(many) == names(few), "new series: \(names(many).subtracting(names(few)).sorted().prefix(10))")
            #expect(names(many).count < 400, "\(names(many).count) series")
            #expect(!many.contains("user-"))
            #expect(!many.contains("unknown-model"))
        }
    }

    /// A free port on 127.0.0.1, found by binding to port 0 and letting go.
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    @Test func theMetricsListenerServesAScraperWithoutTheAdminKey() async throws {
        let metricsPort = try await Self.freePort()
        try await EdgeLiveTests.withLiveApp(configure: { $0.metricsPort = metricsPort }) { base, _, _ in
            #expect(try await EdgeLiveTests.get(base + "/metrics").status == 401)
            let scraped = try await EdgeLiveTests.get("http://127.0.0.1:\(metricsPort)/metrics")
            #expect(scraped.status == 200)
            #expect(scraped.headers["Content-Type"].first == "text/plain; version=0.0.4; charset=utf-8")
            #expect(scraped.body.contains("safeapi_http_requests_total{operation=\"getMetrics\",status=\"401\"} 1"))
            // It serves nothing else.
            #expect(try await EdgeLiveTests.get("http://127.0.0.1:\(metricsPort)/health").status == 404)
        }
    }
}
