import HTTPTypes
import NIOCore
import Synchronization

/// The one usage record of a call. The upstream and relay stages fill it in as the call goes; it
/// is recorded exactly once, when the call is over and the last stage lets go of it (`deinit`),
/// however the call ended: answered, a provider error, broken off, timed out, or the client hung
/// up (then it stays `cancelled`; with no answer yet, status 499 as nginx logs it). For a stream
/// that is when the relay of the body ends, after `ProxyService.forward` has returned.
final class UsageReport: Sendable {
    private struct Facts {
        var status = 499
        var cancelled = true
        var streamed = false
        var meter: UsageMeter?
        var firstByte: ContinuousClock.Instant?
    }

    private let facts = Mutex(Facts())
    private let template: UsageRecord
    private let prices: [String: ProviderDefinition.Price]
    /// The call's own price (a gateway alias's), over the provider's for the model.
    private let price: ProviderDefinition.Price?
    private let started: ContinuousClock.Instant
    private let sink: @Sendable (UsageRecord) -> Void

    /// Kept until the usage is recorded: the key lease of the call, back in its pool when the call is over.
    private let holding: (any Sendable & AnyObject)?

    init(
        _ call: ProxyCall, path: String, started: ContinuousClock.Instant, holding: (any Sendable & AnyObject)? = nil,
        sink: @escaping @Sendable (UsageRecord) -> Void
    ) {
        self.holding = holding
        self.template = UsageRecord(
            requestId: call.requestId, userId: call.user.userId, appId: call.user.appId, provider: call.provider.id, endpoint: path,
            model: nil,
            status: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: 0, latencyMs: 0, ttfbMs: nil, streamed: false,
            cancelled: false, keySource: call.splitKey == nil ? "server" : "byok", splitKeyId: call.splitKey?.id, clientIp: call.clientIP,
            userAgent: call.clientHeaders[.userAgent], createdAtMs: 0
        )
        self.prices = call.provider.definition.prices
        self.price = call.price
        self.started = started
        self.sink = sink
    }

    /// The provider answered with `status`; its body is metered by `format` as it passes.
    func answered(status: Int, format: ProviderDefinition.UsageFormat, isEventStream: Bool) {
        facts.withLock {
            $0.status = status
            $0.meter = UsageMeter(format: format, isEventStream: isEventStream)
        }
    }

    /// The body is relayed as an event stream.
    func streaming() { facts.withLock { $0.streamed = true } }

    /// A chunk of the answer went by: the first one marks the time to first byte.
    func sawBytes(metering chunk: ByteBuffer? = nil) {
        facts.withLock {
            if $0.firstByte == nil { $0.firstByte = .now }
            if let chunk { $0.meter?.observe(chunk) }
        }
    }

    /// Meters a body read whole.
    func meter(_ body: ByteBuffer) { facts.withLock { $0.meter?.observe(body) } }

    /// The client got the whole answer.
    func completed() { facts.withLock { $0.cancelled = false } }

    /// The call failed on the provider's side (no answer, broken off, silent): the bridge answers
    /// with `status` (502 or 504).
    func failed(status: Int) {
        facts.withLock {
            $0.status = status
            $0.cancelled = false
        }
    }

    deinit {
        var facts = self.facts.withLock { $0 }
        let tokens = facts.meter?.finish() ?? TokenUsage()
        let now = ContinuousClock.now
        var record = template
        record.model = tokens.model
        record.status = Int64(facts.status)
        record.inputTokens = tokens.input
        record.outputTokens = tokens.output
        record.cachedTokens = tokens.cached
        record.costMicros = tokens.costMicros(price ?? tokens.model.flatMap { prices[$0] })
        record.latencyMs = (now - started).milliseconds
        record.ttfbMs = facts.firstByte.map { ($0 - started).milliseconds }
        record.streamed = facts.streamed
        record.cancelled = facts.cancelled
        record.createdAtMs = Millis.now()
        sink(record)
    }
}
