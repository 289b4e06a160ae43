import Foundation
import Generated
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import Testing

@testable import Handlers

/// The stages of a proxied call, each on its own: no HTTP server, no database.
@Suite("Proxy stages")
struct ProxyStageTests {
    /// Usage records handed to a report's sink.
    final class Sink: Sendable {
        private let records = Mutex<[UsageRecord]>([])
        var all: [UsageRecord] { records.withLock { $0 } }
        func take(_ record: UsageRecord) { records.withLock { $0.append(record) } }
    }

    static func call(body: ProxyBody = .none, splitKey: (id: String, part: String)? = nil, key: String? = ProxyFixtures.key) -> ProxyCall {
        let definition = ProxyFixtures.openAILike
        return ProxyCall(
            provider: Provider(definition: definition, baseURL: definition.baseURL, keys: key.map { [Secret($0)] } ?? []), method: .post,
            endpoint: "/chat/completions", body: body, clientHeaders: [.userAgent: "tests/1"], user: ProxyFixtures.user,
            clientIP: "192.0.2.7",
            requestId: "req-1", splitKey: splitKey
        )
    }

    static func response(
        status: Int, headers: HTTPFields = [.contentType: "application/json"], chunks: [String], thenFail: (any Error)? = nil
    )
        -> UpstreamResponse
    {
        UpstreamResponse(status: status, headers: headers) { handler in
            for chunk in chunks { try await handler(ByteBuffer(string: chunk)) }
            if let thenFail { throw thenFail }
        }
    }

    // MARK: key

    @Test func theServerKeyUnlessTheCallNamesASplitKey() async throws {
        let resolved = try await KeyResolver(splitKeys: nil).resolve(Self.call())
        #expect(try resolved.lease().key?.value == ProxyFixtures.key)
        #expect(resolved.splitKey == nil)
    }

    @Test func noServerKeyIsNotConfiguredAndASplitKeyWithoutTheServiceIsDisabled() async throws {
        await #expect(throws: AppError.providerNotConfigured) { try await KeyResolver(splitKeys: nil).resolve(Self.call(key: nil)) }
        await #expect(throws: AppError.byokDisabled) {
            try await KeyResolver(splitKeys: nil).resolve(Self.call(splitKey: (id: "key-12345", part: "x")))
        }
    }

    // MARK: admission

    @Test func admissionCountsTheUserRateAndRefusesPastIt() async throws {
        let admission = Admission(quotas: nil, userLimiter: RateLimiter(limit: 2, window: .seconds(60)), logger: TestDatabases.logger)
        let first = try await admission.admit(userId: "u-1", appId: "app", splitKey: nil)
        #expect(first?.limit == 2)
        #expect(first?.remaining == 1)
        _ = try await admission.admit(userId: "u-1", appId: "app", splitKey: nil)
        await #expect {
            _ = try await admission.admit(userId: "u-1", appId: "app", splitKey: nil)
        } throws: { error in
            if case .rateLimited(_, let limit) = error as? AppError { return limit == 2 }
            return false
        }
        // Another user has a count of its own.
        #expect(try await admission.admit(userId: "u-2", appId: "app", splitKey: nil)?.remaining == 1)
        #expect(
            try await Admission(quotas: nil, userLimiter: nil, logger: TestDatabases.logger).admit(
                userId: "u-1", appId: "app", splitKey: nil) == nil)
    }

    // MARK: upstream request

    @Test func theOldFormLosesItsEndpointAndStrippedFieldsAndAsksForStreamUsage() throws {
        let body = #"{"endpoint":"/chat/completions","apiKey":"sk-client","model":"m","stream":true,"token":"t","password":"p"}"#
        let request = UpstreamRequestBuilder.build(
            Self.call(body: .oldForm(ByteBuffer(string: body))), path: "/chat/completions", key: Secret("k-1"))
        let sent = try #require(request.body)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(sent.readableBytesView)) as? [String: Any])
        #expect(Set(object.keys) == ["model", "stream", "stream_options"])
        #expect((object["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(request.url == "https://api.acme.test/v1/chat/completions")
        #expect(request.headers[.authorization] == "Bearer k-1")
        #expect(request.headers[.userAgent] == "safeapi-bridge/\(RouteTable.version)")
    }

    @Test func aBodyAsSentIsLeftByteForByteWhenNothingIsToBeAdded() throws {
        let body = ByteBuffer(string: #"{ "model" : "m", "endpoint": "kept: this is the provider's field" }"#)
        let request = UpstreamRequestBuilder.build(Self.call(body: .asSent(body)), path: "/chat/completions", key: nil)
        #expect(request.body == body)
        #expect(request.headers[.authorization] == nil)
    }

    // MARK: relay and the usage report

    @Test func aWholeAnswerIsMeteredAndRecordedOnce() async throws {
        let sink = Sink()
        let json = #"{"model":"m","usage":{"prompt_tokens":10,"completion_tokens":5}}"#
        var headers: HTTPFields = [.contentType: "application/json", .contentLength: String(json.utf8.count)]
        headers[HTTPField.Name("set-cookie")!] = "tracking=1"
        headers[HTTPField.Name("x-request-id")!] = "up-1"
        do {
            let report = UsageReport(Self.call(), path: "/chat/completions", started: .now, sink: sink.take)
            let answer = try await Relay.answer(
                Self.response(status: 200, headers: headers, chunks: [json]), provider: Self.call().provider, key: nil, report: report,
                connectionClosed: nil
            )
            #expect(answer.status == .ok)
            #expect(answer.headers[HTTPField.Name("set-cookie")!] == nil)
            #expect(answer.headers[HTTPField.Name("x-upstream-request-id")!] == "up-1")
            #expect(answer.headers[.upstreamStatus] == "200")
            #expect(sink.all.isEmpty)
        }
        let record = try #require(sink.all.first)
        #expect(sink.all.count == 1)
        #expect(record.status == 200 && !record.cancelled && !record.streamed)
        #expect(record.inputTokens == 10 && record.outputTokens == 5 && record.model == "m")
        #expect(record.costMicros == 25)  // 10 at 1 $/M + 5 at 3 $/M = 25 micro-dollars
        #expect(record.requestId == "req-1" && record.endpoint == "/chat/completions" && record.keySource == "server")
        #expect(record.userAgent == "tests/1" && record.clientIp == "192.0.2.7" && record.ttfbMs != nil)
    }

    @Test func anErrorBodyIsRedactedAndRecordedWithTheProvidersStatus() async throws {
        let sink = Sink()
        do {
            let report = UsageReport(Self.call(), path: "/chat/completions", started: .now, sink: sink.take)
            let answer = try await Relay.answer(
                Self.response(status: 401, chunks: [#"{"error":"bad key \#(ProxyFixtures.key)"}"#]), provider: Self.call().provider,
                key: Secret(ProxyFixtures.key), report: report, connectionClosed: nil
            )
            let body = Collected()
            try await answer.body.write(CollectingWriter(into: body))
            #expect(String(buffer: body.buffer) == #"{"error":"bad key [redacted]"}"#)
        }
        #expect(sink.all.map(\.status) == [401])
        #expect(sink.all.first?.cancelled == false)
    }

    @Test(arguments: [(UpstreamError.unreachable, 502), (UpstreamError.timeout, 504)])
    func anAnswerBrokenOffBeforeTheClientGotAnythingIsTheBridgesError(error: UpstreamError, status: Int) async throws {
        let sink = Sink()
        do {
            let report = UsageReport(Self.call(), path: "/chat/completions", started: .now, sink: sink.take)
            await #expect(throws: status == 502 ? AppError.upstreamUnreachable : AppError.upstreamTimeout) {
                _ = try await Relay.answer(
                    Self.response(status: 500, chunks: [#"{"err"#], thenFail: error), provider: Self.call().provider, key: nil,
                    report: report,
                    connectionClosed: nil
                )
            }
        }
        #expect(sink.all.map(\.status) == [Int64(status)])
        #expect(sink.all.first?.cancelled == false)
    }

    @Test func aCallThatEndsBeforeAnyAnswerIsRecordedAsCancelled() throws {
        let sink = Sink()
        do {
            _ = UsageReport(Self.call(splitKey: (id: "key-12345", part: "p")), path: "/chat/completions", started: .now, sink: sink.take)
        }
        let record = try #require(sink.all.first)
        #expect(sink.all.count == 1)
        #expect(record.status == 499 && record.cancelled)
        #expect(record.keySource == "byok" && record.splitKeyId == "key-12345")
    }
}

/// What a `CollectingWriter` was given; one test task uses it at a time.
final class Collected: @unchecked Sendable {
    var buffer = ByteBuffer()
}

/// A response body writer that keeps what it is given.
struct CollectingWriter: ResponseBodyWriter {
    let into: Collected
    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        into.buffer.writeBuffer(&buffer)
    }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

@Suite("Attempts of a request with fallbacks")
struct AttemptScheduleTests {
    @Test func deploymentsInTurnThenBackoffThenTheCap() {
        var schedule = AttemptSchedule(policy: RetryPolicy(maxAttempts: 4, deadline: .seconds(60)), deployments: 2, started: .now)
        #expect(schedule.index == 0)
        #expect(schedule.failed(retryAfter: nil) == .zero)  // to the second deployment at once
        #expect(schedule.attempt == 2 && schedule.index == 1)
        let backoff = schedule.failed(retryAfter: nil)  // back to the first: a jittered wait
        #expect(backoff != nil && backoff! <= .milliseconds(200))
        #expect(schedule.index == 0)
        // The first asks for 5 s: the second is next, with its own (shorter) wait.
        let next = schedule.failed(retryAfter: .seconds(5))
        #expect(next != nil && next! <= .milliseconds(200) && schedule.index == 1 && schedule.attempt == 4)
        #expect(schedule.failed(retryAfter: nil) == nil, "the cap: 4 attempts")
    }

    @Test func aDeploymentWaitsItsOwnRetryAfter() {
        var schedule = AttemptSchedule(policy: RetryPolicy(maxAttempts: 4, deadline: .seconds(60)), deployments: 2, started: .now)
        #expect(schedule.failed(retryAfter: .seconds(3)) == .zero)  // the first said 3 s; the second is untried
        #expect(schedule.failed(retryAfter: nil) == .seconds(3))  // back to the first: its Retry-After
    }

    @Test func retryAfterIsHonouredAndTheDeadlineAndCapHold() {
        var one = AttemptSchedule(policy: RetryPolicy(maxAttempts: 3, deadline: .seconds(60)), deployments: 1, started: .now)
        #expect(one.failed(retryAfter: .seconds(2)) == .seconds(2))
        #expect(one.attempt == 2)
        var late = AttemptSchedule(policy: RetryPolicy(maxAttempts: 3, deadline: .seconds(1)), deployments: 1, started: .now)
        #expect(late.failed(retryAfter: .seconds(2)) == nil, "a wait past the deadline is not made")
        var capped = AttemptSchedule(policy: RetryPolicy(maxAttempts: 1, deadline: .seconds(60)), deployments: 3, started: .now)
        #expect(capped.failed(retryAfter: nil) == nil)
    }
}
