import Generated
import HTTPTypes
public import Logging
public import NIOCore
import ServiceContextModule
import Tracing

/// The proxy's request path after authentication, as stages in the order they run. Every check
/// that can refuse a call runs before any byte goes upstream; the call's usage is recorded once,
/// however it ends (`UsageReport`).
public struct ProxyService: Sendable {
    let registry: ProviderRegistry
    let keys: KeyResolver
    let admission: Admission
    let network: any Upstream
    let mock: any Upstream
    let deadline: Duration
    let usage: UsageRecorder
    let events: WebhookEvents?
    let metrics: BridgeMetrics
    let tracer: RequestTracer
    let logger: Logger
    /// How the gateway tries an alias's deployments.
    let gatewayRetry: RetryPolicy

    public init(
        registry: ProviderRegistry, keys: KeyResolver, admission: Admission, network: any Upstream, mock: any Upstream = MockUpstream(),
        deadline: Duration, usage: UsageRecorder, events: WebhookEvents?, metrics: BridgeMetrics, tracer: RequestTracer = .none,
        logger: Logger,
        gatewayRetry: RetryPolicy = RetryPolicy(maxAttempts: 3, deadline: .seconds(30))
    ) {
        self.gatewayRetry = gatewayRetry
        self.registry = registry
        self.keys = keys
        self.admission = admission
        self.network = network
        self.mock = mock
        self.deadline = deadline
        self.usage = usage
        self.events = events
        self.metrics = metrics
        self.tracer = tracer
        self.logger = logger
    }

    /// The provider a route names (its shape checked by the spec's pattern): 404 for an unknown one.
    public func provider(_ id: String) throws -> Provider {
        guard let provider = registry.provider(id) else { throw AppError.providerNotFound }
        return provider
    }

    /// One call, stage by stage. A streamed answer is still being relayed when this returns; it
    /// stops as soon as `connectionClosed` completes (the client hung up).
    public func forward(_ call: ProxyCall, connectionClosed: EventLoopFuture<Void>?) async throws -> ProxyAnswer {
        try await forward([call], retry: .once, connectionClosed: connectionClosed)
    }

    /// One client request with fallbacks (the gateway's aliases): `calls` are its deployments in
    /// the order to try them. A deployment whose endpoint or key refuses is left out; admission
    /// counts the request once, whatever the attempts. An attempt that fails before the answer's
    /// first byte goes to the client (no connection, no answer head in time, 429, 5xx) is recorded
    /// with what it used, and the next deployment is tried; a deployment tried before is tried again
    /// only after an exponential backoff with full jitter, or its `Retry-After` if longer, within
    /// the policy's deadline and attempt cap. Any other answer, or the last failure, is the answer.
    public func forward(_ calls: [ProxyCall], retry: RetryPolicy, connectionClosed: EventLoopFuture<Void>?) async throws -> ProxyAnswer {
        let started = ContinuousClock.now
        var deployments: [(index: Int, call: ProxyCall, path: String, key: KeyResolver.Resolved)] = []
        var refusal: (any Error)?
        for (index, call) in calls.enumerated() {
            do {
                deployments.append((index, call, try EndpointPolicy.allow(call, logger: logger), try await keys.resolve(call)))
            } catch {
                refusal = refusal ?? error
            }
        }
        guard let first = deployments.first else { throw refusal ?? AppError.providerNotFound }
        let standing = try await tracer.withSpan("admission") { _ in
            try await admission.admit(userId: first.call.user.userId, appId: first.call.user.appId, splitKey: first.key.splitKey)
        }
        var schedule = AttemptSchedule(policy: retry, deployments: deployments.count, started: started)
        var waited = Duration.zero
        while true {
            let (served, call, path, resolved) = deployments[schedule.index]
            let (key, lease) = try resolved.lease()
            let request = UpstreamRequestBuilder.build(call, path: path, key: key)
            let report = UsageReport(
                call, path: path, started: schedule.attempt == 1 ? started : .now, holding: lease,
                sink: recording())
            let asked = ContinuousClock.now
            let response: UpstreamResponse
            do {
                response = try await send(request, call: call, path: path, report: report)
                metrics.upstreamAnswered(provider: call.provider.id, after: .now - asked)
            } catch let error as AppError where error == .upstreamUnreachable || error == .upstreamTimeout {
                guard let delay = schedule.failed(retryAfter: nil) else { throw error }
                waited += (ContinuousClock.now - asked) + delay
                try await Task.sleep(for: delay)
                continue
            }
            let retryAfter = response.headers[.retryAfter].flatMap(Int64.init).map { Duration.seconds($0) }
            if let lease, lease.pool.observe(lease.index, status: response.status, retryAfter: retryAfter) {
                await keyDisabled(call.provider, name: lease.pool.name(lease.index), status: response.status)
            }
            if RetryPolicy.retries(status: response.status), let delay = schedule.failed(retryAfter: retryAfter) {
                try await Relay.discard(response, provider: call.provider, report: report)
                waited += (ContinuousClock.now - asked) + delay
                try await Task.sleep(for: delay)
                continue
            }
            waited += ContinuousClock.now - asked
            var answer = try await Relay.answer(
                response, provider: call.provider, key: key, report: report, translation: call.translation,
                connectionClosed: connectionClosed)
            answer.standing = standing
            answer.upstreamWait = waited
            answer.attempts = schedule.attempt
            answer.served = served
            return answer
        }
    }

    /// A server key the provider refused (401, 403) left the pool: logged and announced, by its
    /// place and fingerprint, never the key.
    func keyDisabled(_ provider: Provider, name: String, status: Int) async {
        logger.warning(
            "a provider key was taken out of the pool",
            metadata: ["provider": .string(provider.id), "key": .string(name), "upstream.status": .stringConvertible(status)])
        await events?.emit(.providerKeyDisabled, ["provider": provider.id, "key": name, "status": String(status)])
    }

    /// Where a call's usage goes: the writer; with tracing on, also a `usage.record` span with the
    /// GenAI usage attributes, in the request's trace (its context taken now, as the call starts: a
    /// stream's usage is known after the request's own span has ended). Off, it reads nothing.
    func recording() -> @Sendable (UsageRecord) -> Void {
        guard tracer.isEnabled else { return usage.record }
        let context = ServiceContext.current
        return { [usage, tracer] record in
            tracer.mark("usage.record", context: context) { GenAISpan.usage(record, into: &$0) }
            usage.record(record)
        }
    }

    /// The upstream call, to the built-in mock or the network, in a client span named as
    /// OpenTelemetry's GenAI conventions say (`chat gpt-4o-mini`). No answer in time is a 504, no
    /// answer at all a 502; both are announced as `api.error`.
    func send(_ request: UpstreamRequest, call: ProxyCall, path: String, report: UsageReport) async throws -> UpstreamResponse {
        try await tracer.withSpan("upstream", kind: .client) { span in
            if tracer.isEnabled { GenAISpan.describe(span, call: call, path: path) }
            let response = try await sendUntraced(request, call: call, path: path, report: report)
            span.attributes["http.response.status_code"] = response.status
            if response.status >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        }
    }

    private func sendUntraced(_ request: UpstreamRequest, call: ProxyCall, path: String, report: UsageReport) async throws
        -> UpstreamResponse
    {
        do {
            return try await (call.provider.isMock ? mock : network).send(request, deadline: deadline)
        } catch let error as UpstreamError {
            let (status, refusal) = error == .timeout ? (504, AppError.upstreamTimeout) : (502, AppError.upstreamUnreachable)
            report.failed(status: status)
            await events?.emit(
                .apiError,
                [
                    "userId": call.user.userId, "provider": call.provider.id, "endpoint": path, "status": String(status),
                    "error": refusal.code,
                    "requestId": call.requestId,
                ])
            throw refusal
        }
    }
}

/// How a request with several deployments (a gateway alias) is tried (docs/gateway.md).
public struct RetryPolicy: Sendable {
    /// Attempts in all, over every deployment (`GATEWAY_MAX_ATTEMPTS`).
    public var maxAttempts: Int
    /// From the request's arrival to the last attempt's start (`GATEWAY_DEADLINE_MS`).
    public var deadline: Duration
    public var baseDelay: Duration = .milliseconds(100)
    public var maxDelay: Duration = .seconds(2)

    public init(maxAttempts: Int, deadline: Duration) {
        self.maxAttempts = maxAttempts
        self.deadline = deadline
    }

    /// One attempt: the proxy routes.
    public static let once = RetryPolicy(maxAttempts: 1, deadline: .seconds(3600))

    /// A provider's answer worth another attempt: too many requests, or its own failure.
    static func retries(status: Int) -> Bool { status == 429 || status >= 500 }

    /// Exponential backoff with full jitter: a random wait up to `baseDelay` × 2^round, at most
    /// `maxDelay`.
    func backoff(round: Int) -> Duration {
        let ceiling = min(maxDelay, baseDelay * (1 << min(round, 16)))
        return .nanoseconds(Int64.random(in: 0...max(0, ceiling.nanoseconds)))
    }
}

/// Which deployment each attempt of one request goes to, and how long to wait before the next:
/// the deployments in turn; one tried before only after `RetryPolicy.backoff`, or its last
/// `Retry-After` if longer; no attempt past the cap, none starting after the deadline.
struct AttemptSchedule {
    let policy: RetryPolicy
    let deployments: Int
    let deadline: ContinuousClock.Instant
    /// The attempt under way, from 1.
    private(set) var attempt = 1
    /// The last `Retry-After` of each deployment.
    private var retryAfter: [Int: Duration] = [:]

    init(policy: RetryPolicy, deployments: Int, started: ContinuousClock.Instant) {
        self.policy = policy
        self.deployments = deployments
        self.deadline = started + policy.deadline
    }

    /// The deployment of the attempt under way.
    var index: Int { (attempt - 1) % deployments }

    /// The attempt under way failed (with the provider's `Retry-After`, if any): the wait before
    /// the next one, which is then under way; nil when there is none to make.
    mutating func failed(retryAfter: Duration?) -> Duration? {
        self.retryAfter[index] = retryAfter
        guard attempt < policy.maxAttempts else { return nil }
        var delay = Duration.zero
        if attempt >= deployments {  // the next deployment was tried before
            delay = max(policy.backoff(round: attempt / deployments), self.retryAfter[attempt % deployments] ?? .zero)
        }
        guard ContinuousClock.now + delay < deadline else { return nil }
        attempt += 1
        return delay
    }
}
