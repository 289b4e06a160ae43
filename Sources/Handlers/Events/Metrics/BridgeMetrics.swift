import Foundation
import Generated
import Metrics
public import Prometheus
import Synchronization

/// Every metric the bridge exports, named and labelled in this one place, through swift-metrics
/// into a Prometheus registry of its own (one per application, so two in one process, as in the
/// tests, never mix). `/metrics` and the metrics listener print `exposition()`.
///
/// Labels carry only values from closed sets: an operation id of the spec, a status code, a
/// configured provider, a model the provider's price list names (any other model is `other`), an
/// outcome, a refusal reason, a webhook event type. Never a user, an app, a key, a token or text
/// a client or a provider chose, so a client cannot grow the number of series.
public final class BridgeMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    /// The models each provider prices: the only model names a label may carry.
    private let models: [String: Set<String>]
    /// Read when the metrics are printed: values that are sampled rather than counted.
    private let samplers: Mutex<[@Sendable (BridgeMetrics) async -> Void]> = Mutex([])
    private let process = ProcessStats()
    /// The once-only events already counted (`emit(_:onceFor:)` is called each time the condition
    /// holds; the outbox keeps one): forgotten in bulk past 10,000.
    private let countedOnce = Mutex<Set<String>>([])
    private let cpuSeen = Mutex<Double>(0)

    /// `models`: for each provider id, the models its price list names.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), models: [String: Set<String>] = [:]) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        let fine: [Duration] = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000].map { .microseconds($0) }
        let upstream: [Duration] = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000].map { .milliseconds($0) }
        factory.durationHistogramBuckets = [
            Name.overhead: fine, Name.usageFlush: fine.map { $0 * 10 }, Name.upstreamHead: upstream, Name.timeToFirstByte: upstream,
            Name.callDuration: upstream,
        ]
        self.factory = factory
        self.models = models
    }

    /// The metric names: `safeapi_` and what is measured, Prometheus' unit suffixes.
    enum Name {
        static let httpRequests = "safeapi_http_requests_total"
        static let calls = "safeapi_proxy_calls_total"
        static let upstreamHead = "safeapi_upstream_response_seconds"
        static let timeToFirstByte = "safeapi_proxy_time_to_first_byte_seconds"
        static let callDuration = "safeapi_proxy_call_seconds"
        static let overhead = "safeapi_overhead_seconds"
        static let tokens = "safeapi_tokens_total"
        static let cost = "safeapi_cost_micros_total"
        static let refusals = "safeapi_refusals_total"
        static let usageQueue = "safeapi_usage_queue_depth"
        static let usageFlush = "safeapi_usage_flush_seconds"
        static let usageDropped = "safeapi_usage_dropped_total"
        static let databaseInUse = "safeapi_db_connections_in_use"
        static let webhookOutbox = "safeapi_webhook_outbox_pending"
        static let webhookDeliveries = "safeapi_webhook_deliveries_total"
        static let events = "safeapi_events_total"
    }

    // MARK: HTTP

    /// One answered request: its operation (`none` when no route matched) and status.
    public func request(operation: String?, status: Int) {
        Counter(label: Name.httpRequests, dimensions: [("operation", operation ?? "none"), ("status", String(status))], factory: factory)
            .increment()
    }

    /// The bridge's own time for a proxied request: all of it but the wait for the provider.
    public func overhead(_ duration: Duration) {
        Metrics.Timer(label: Name.overhead, factory: factory).record(duration: duration)
    }

    /// Why the bridge refused a request, when the reason is one an operator watches.
    public func refused(_ error: AppError) {
        guard let reason = Refusal(error) else { return }
        Counter(label: Name.refusals, dimensions: [("reason", reason.rawValue)], factory: factory).increment()
    }

    // MARK: Proxy

    /// The model as a label: one the provider prices, else `other` (or `none`).
    func modelLabel(provider: String, model: String?) -> String {
        guard let model else { return "none" }
        return models[provider]?.contains(model) == true ? model : "other"
    }

    /// One attempt of a proxied call, once it is over: its outcome, times, tokens and cost.
    func call(_ record: UsageRecord) {
        let model = modelLabel(provider: record.provider, model: record.model)
        let outcome: String =
            switch (record.cancelled, record.status) {
            case (true, _): "cancelled"
            case (_, 500...): "upstream_error"
            case (_, 400...): "client_error"
            default: "ok"
            }
        let provider = ("provider", record.provider)
        Counter(label: Name.calls, dimensions: [provider, ("model", model), ("outcome", outcome)], factory: factory).increment()
        Metrics.Timer(label: Name.callDuration, dimensions: [provider], factory: factory).record(duration: .milliseconds(record.latencyMs))
        if let ttfb = record.ttfbMs {
            Metrics.Timer(label: Name.timeToFirstByte, dimensions: [provider], factory: factory).record(duration: .milliseconds(ttfb))
        }
        for (kind, count) in [("input", record.inputTokens), ("output", record.outputTokens), ("cached", record.cachedTokens)]
        where count > 0 {
            Counter(label: Name.tokens, dimensions: [provider, ("model", model), ("kind", kind)], factory: factory).increment(by: count)
        }
        if record.costMicros > 0 {
            Counter(label: Name.cost, dimensions: [provider, ("model", model)], factory: factory).increment(by: record.costMicros)
        }
    }

    /// The provider's answer head arrived `duration` after it was asked.
    func upstreamAnswered(provider: String, after duration: Duration) {
        Metrics.Timer(label: Name.upstreamHead, dimensions: [("provider", provider)], factory: factory).record(duration: duration)
    }

    // MARK: Writers and the database

    public func usageQueue(depth: Int) { Gauge(label: Name.usageQueue, factory: factory).record(depth) }

    func usageFlushed(after duration: Duration) { Metrics.Timer(label: Name.usageFlush, factory: factory).record(duration: duration) }

    func usageDropped() { Counter(label: Name.usageDropped, factory: factory).increment() }

    func databaseInUse(_ count: Int) { Gauge(label: Name.databaseInUse, factory: factory).record(count) }

    public func webhookOutbox(pending: Int) { Gauge(label: Name.webhookOutbox, factory: factory).record(pending) }

    /// One delivery attempt's result: `delivered`, `retry` (to be tried again) or `failed` (given up).
    func webhookDelivery(result: String) {
        Counter(label: Name.webhookDeliveries, dimensions: [("result", result)], factory: factory).increment()
    }

    /// An event was raised (whether or not a webhook listens to it); one announced once per key
    /// (`onceFor`) is counted once per key on this instance.
    func event(_ event: WebhookEvent, onceFor key: String?) {
        if let key {
            let first = countedOnce.withLock { seen in
                if seen.count >= 10_000 { seen.removeAll() }
                return seen.insert(event.rawValue + "|" + key).inserted
            }
            guard first else { return }
        }
        Counter(label: Name.events, dimensions: [("event", event.rawValue)], factory: factory).increment()
    }

    // MARK: Printing

    /// Adds a value read when the metrics are printed (the outbox's depth, say). It is handed the
    /// metrics, so that it need not hold them (they hold it).
    public func sample(_ read: @escaping @Sendable (BridgeMetrics) async -> Void) {
        samplers.withLock { $0.append(read) }
    }

    /// The metrics in the Prometheus text format (version 0.0.4), sampled values read now.
    public func exposition() async -> [UInt8] {
        for read in samplers.withLock({ $0 }) { await read(self) }
        if let stats = process.read() {
            Gauge(label: "process_resident_memory_bytes", factory: factory).record(stats.residentBytes)
            Gauge(label: "process_virtual_memory_bytes", factory: factory).record(stats.virtualBytes)
            Gauge(label: "process_open_fds", factory: factory).record(stats.openDescriptors)
            Gauge(label: "process_max_fds", factory: factory).record(stats.maxDescriptors)
            Gauge(label: "process_start_time_seconds", factory: factory).record(stats.startTimeSeconds)
            // A counter: the CPU time since the last print is added.
            let added = cpuSeen.withLock { seen in
                defer { seen = max(seen, stats.cpuSeconds) }
                return max(0, stats.cpuSeconds - seen)
            }
            FloatingPointCounter(label: "process_cpu_seconds_total", factory: factory).increment(by: added)
        }
        return registry.emitToBuffer()
    }
}

/// The refusals an operator watches, by reason.
enum Refusal: String {
    case quota, budget
    case appCap = "app_cap"
    case rate
    case ipRule = "ip_rule"
    case endpointPolicy = "endpoint_policy"
    case auth, cors

    init?(_ error: AppError) {
        switch error {
        case .quotaExceeded(let breach, _):
            switch (breach.scope, breach.metric) {
            case (.app, _): self = .appCap
            case (.splitKey, _), (_, .tokens), (_, .costMicros): self = .budget
            default: self = .quota
            }
        case .appCapReached, .guestLimitReached: self = .appCap
        case .rateLimited: self = .rate
        case .ipForbidden: self = .ipRule
        case .endpointNotAllowed: self = .endpointPolicy
        case .corsForbidden: self = .cors
        case .tokenMissing, .tokenMalformed, .tokenInvalidSignature, .tokenExpired, .tokenNotYetValid, .tokenInvalidIssuer,
            .tokenInvalidAudience, .tokenRevoked, .tokenRequiresDPoP, .invalidDPoPProof, .invalidAppCredentials, .adminKeyRequired,
            .invalidAdminKey, .adminLockedOut, .splitKeyInvalid, .splitKeyRevoked, .userInactive, .sessionInvalid, .csrfInvalid:
            self = .auth
        default: return nil
        }
    }
}
