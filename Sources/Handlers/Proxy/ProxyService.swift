import Generated
public import Logging
public import NIOCore

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
    let logger: Logger

    public init(
        registry: ProviderRegistry, keys: KeyResolver, admission: Admission, network: any Upstream, mock: any Upstream = MockUpstream(),
        deadline: Duration, usage: UsageRecorder, events: WebhookEvents?, logger: Logger
    ) {
        self.registry = registry
        self.keys = keys
        self.admission = admission
        self.network = network
        self.mock = mock
        self.deadline = deadline
        self.usage = usage
        self.events = events
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
        let started = ContinuousClock.now
        let path = try EndpointPolicy.allow(call, logger: logger)
        let key = try await keys.resolve(call)
        let standing = try await admission.admit(userId: call.user.userId, appId: call.user.appId, splitKey: key.splitKey)
        let request = UpstreamRequestBuilder.build(call, path: path, key: key.key)
        let report = UsageReport(call, path: path, started: started, sink: usage.record)
        let asked = ContinuousClock.now
        let response = try await send(request, call: call, path: path, report: report)
        let waited = ContinuousClock.now - asked
        var answer = try await Relay.answer(
            response, provider: call.provider, key: key.key, report: report, translation: call.translation,
            connectionClosed: connectionClosed)
        answer.standing = standing
        answer.upstreamWait = waited
        return answer
    }

    /// The upstream call, to the built-in mock or the network. No answer in time is a 504, no
    /// answer at all a 502; both are announced as `api.error`.
    func send(_ request: UpstreamRequest, call: ProxyCall, path: String, report: UsageReport) async throws -> UpstreamResponse {
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
