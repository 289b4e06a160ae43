import Foundation
public import HTTPTypes
import Generated
public import Hummingbird
public import Logging
public import NIOCore

/// What a client asked the proxy for, whichever route it came by.
public struct ProxyCall: Sendable {
    public var provider: String
    public var method: HTTPRequest.Method
    /// The endpoint exactly as the client sent it; `EndpointPolicy` decodes and checks it.
    public var endpoint: String
    /// Query parameters to forward (the GET forms), already decoded.
    public var query: [(name: String, value: String)]
    /// The body to forward, or nil.
    public var body: ByteBuffer?
    public var clientHeaders: HTTPFields
    public var user: AuthenticatedUser
    public var clientIP: String
    public var requestId: String
    /// `X-Partial-Key-Id` and `X-Partial-Key`: use the caller's split key instead of the server's.
    public var splitKey: (id: String, part: String)?

    public init(provider: String, method: HTTPRequest.Method, endpoint: String, query: [(name: String, value: String)], body: ByteBuffer?, clientHeaders: HTTPFields, user: AuthenticatedUser, clientIP: String, requestId: String, splitKey: (id: String, part: String)? = nil) {
        self.splitKey = splitKey
        self.provider = provider
        self.method = method
        self.endpoint = endpoint
        self.query = query
        self.body = body
        self.clientHeaders = clientHeaders
        self.user = user
        self.clientIP = clientIP
        self.requestId = requestId
    }
}

/// The proxy's request path after authentication: provider, endpoint policy, key, upstream call
/// (streamed back as it arrives), usage. Every check that can refuse a request runs before any
/// byte goes upstream.
public struct ProxyService: Sendable {
    let registry: ProviderRegistry
    let network: any Upstream
    let mock: any Upstream
    let usage: UsageRecorder
    let deadline: Duration
    let logger: Logger
    let splitKeys: SplitKeyService?
    let quotas: QuotaLedger?
    let userLimiter: RateLimiter?
    let events: WebhookEvents?

    public init(registry: ProviderRegistry, network: any Upstream, mock: any Upstream = MockUpstream(), usage: UsageRecorder, deadline: Duration, logger: Logger, splitKeys: SplitKeyService? = nil, quotas: QuotaLedger? = nil, userLimiter: RateLimiter? = nil, events: WebhookEvents? = nil) {
        self.userLimiter = userLimiter
        self.events = events
        self.splitKeys = splitKeys
        self.quotas = quotas
        self.registry = registry
        self.network = network
        self.mock = mock
        self.usage = usage
        self.deadline = deadline
        self.logger = logger
    }

    /// Body fields the old product stripped before forwarding; they never go upstream.
    static let strippedFields = ["endpoint", "apiKey", "token", "password"]

    /// Upstream response headers a client may see; everything else (cookies, hop-by-hop, server
    /// details) stays behind.
    static let forwardedResponseHeaders: Set<String> = [
        "content-type", "content-disposition", "retry-after", "openai-processing-ms", "openai-version",
    ]
    static let forwardedResponsePrefixes = ["x-ratelimit-", "anthropic-ratelimit-"]

    public func provider(_ id: String) throws(AppError) -> Provider {
        try Validate.providerId(id, location: .path)
        guard let provider = registry.provider(id) else { throw .providerNotFound }
        return provider
    }

    /// A non-streamed answer up to this size, with its length declared, is read whole and sent in
    /// one write with its `Content-Length`; anything else is relayed chunk by chunk as it arrives.
    static let wholeBodyLimit = 1 << 20

    /// Runs a call and answers with the provider's response. An event stream (and any large or
    /// unsized body) is relayed as it arrives; a stream stops as soon as `connectionClosed`
    /// completes (the client hung up), without closing a connection that stays open.
    public func forward(_ call: ProxyCall, connectionClosed: EventLoopFuture<Void>?) async throws -> Response {
        let started = ContinuousClock.now
        let provider = try provider(call.provider)
        let path: String
        switch EndpointPolicy.check(call.endpoint, method: call.method.rawValue, endpoints: provider.definition.endpoints) {
        case .allowed(let clean): path = clean
        case .invalid(let reason):
            logger.info("security: endpoint refused", metadata: ["security.event": "invalid_endpoint", "provider": .string(provider.id), "client.ip": .string(call.clientIP)])
            throw AppError.invalidEndpoint(reason: reason)
        case .notAllowed:
            logger.info("security: endpoint not allowed", metadata: ["security.event": "endpoint_not_allowed", "provider": .string(provider.id), "client.ip": .string(call.clientIP)])
            throw AppError.endpointNotAllowed
        }
        // The key: the caller's split key when named (and it must open), else the server's.
        var key = provider.key
        if let splitKey = call.splitKey {
            guard let splitKeys else { throw AppError.byokDisabled }
            let opened = try await splitKeys.keyForRequest(keyId: splitKey.id, part: splitKey.part, user: call.user, provider: provider.id)
            key = opened.key
            try await quotas?.checkSplitKey(userId: call.user.userId, keyId: splitKey.id, budgets: opened.budgets)
        } else if !provider.isConfigured {
            throw AppError.providerNotConfigured
        }
        // The user's rate (in memory), then quota admission: the last check, so a request refused
        // for any other reason is never counted.
        var userRate: LimitStanding?
        if let userLimiter {
            let decision = userLimiter.admit("user:" + call.user.userId)
            guard decision.allowed else {
                logger.info("security: rate limit hit", metadata: ["security.event": "rate_limited", "limit.scope": "user", "user.id": .string(call.user.userId)])
                throw AppError.rateLimited(retryAfter: decision.standing.resetSeconds, limit: decision.standing.limit)
            }
            userRate = decision.standing
        }
        let standing = try await quotas?.admit(userId: call.user.userId).tighter(userRate) ?? userRate
        let keyed = Provider(definition: provider.definition, baseURL: provider.baseURL, key: key)

        let body = provider.definition.requestStreamUsage ? Self.askingForStreamUsage(call.body) : call.body
        let outbound = UpstreamRequest(
            method: call.method,
            url: Self.url(provider: keyed, path: path, query: call.query),
            headers: Self.upstreamHeaders(provider: keyed, client: call.clientHeaders, hasBody: body != nil),
            body: body
        )
        let upstream: UpstreamResponse
        do {
            upstream = try await (provider.isMock ? mock : network).send(outbound, deadline: deadline)
        } catch UpstreamError.timeout {
            record(call, provider: provider, path: path, status: 504, usage: TokenUsage(), started: started, firstByte: nil, streamed: false, cancelled: false)
            await events?.emit("api.error", ["userId": call.user.userId, "provider": provider.id, "endpoint": path, "status": "504", "error": "upstream_timeout", "requestId": call.requestId])
            throw AppError.upstreamTimeout
        } catch is UpstreamError {
            record(call, provider: provider, path: path, status: 502, usage: TokenUsage(), started: started, firstByte: nil, streamed: false, cancelled: false)
            await events?.emit("api.error", ["userId": call.user.userId, "provider": provider.id, "endpoint": path, "status": "502", "error": "upstream_unreachable", "requestId": call.requestId])
            throw AppError.upstreamUnreachable
        }

        var headers = HTTPFields()
        for field in upstream.headers {
            let name = field.name.canonicalName
            if Self.forwardedResponseHeaders.contains(name) || Self.forwardedResponsePrefixes.contains(where: name.hasPrefix) {
                headers.append(field)
            }
        }
        if let upstreamId = upstream.headers[HTTPField.Name("x-request-id")!] ?? upstream.headers[HTTPField.Name("request-id")!] {
            headers[HTTPField.Name("x-upstream-request-id")!] = upstreamId
        }
        headers[.upstreamStatus] = String(upstream.status)
        headers[.cacheControl] = headers[.cacheControl] ?? "no-store"
        standing?.write(to: &headers)
        let isEventStream = upstream.headers[.contentType]?.lowercased().hasPrefix("text/event-stream") == true
        let status = HTTPResponse.Status(code: upstream.status)

        // An error body is small: read it whole, so a provider that quotes the key cannot leak it.
        if upstream.status >= 400 {
            var collected = ByteBuffer()
            do {
                try await upstream.body { chunk in
                    var chunk = chunk
                    if collected.readableBytes < 1 << 20 { collected.writeBuffer(&chunk) }
                }
            } catch {
                throw brokenAnswer(error, call, provider: provider, path: path, status: upstream.status, usage: TokenUsage(), started: started, firstByte: nil)
            }
            let safe = Self.redacting(key, in: collected)
            record(call, provider: provider, path: path, status: upstream.status, usage: TokenUsage(), started: started, firstByte: nil, streamed: false, cancelled: false)
            return Response(status: status, headers: headers, body: .init(byteBuffer: safe))
        }

        let format = provider.definition.usage
        // A small answer of known length (a JSON completion): one read, one write, no chunking.
        if !isEventStream, let length = upstream.headers[.contentLength].flatMap(Int.init), length <= Self.wholeBodyLimit {
            var collected = ByteBuffer()
            collected.reserveCapacity(length)
            var meter = UsageMeter(format: format, isEventStream: false)
            var firstByte: ContinuousClock.Instant?
            do {
                try await upstream.body { chunk in
                    if firstByte == nil { firstByte = .now }
                    var chunk = chunk
                    collected.writeBuffer(&chunk)
                }
                meter.observe(collected)
            } catch {
                throw brokenAnswer(error, call, provider: provider, path: path, status: upstream.status, usage: meter.finish(), started: started, firstByte: firstByte)
            }
            record(call, provider: provider, path: path, status: upstream.status, usage: meter.finish(), started: started, firstByte: firstByte, streamed: false, cancelled: false)
            return Response(status: status, headers: headers, body: .init(byteBuffer: collected))
        }

        let service = self
        let responseBody = ResponseBody { writer in
            let relay = RelayState(meter: UsageMeter(format: format, isEventStream: isEventStream))
            do {
                if isEventStream, let connectionClosed {
                    // A stream can be silent for long: stop as soon as the client hangs up. The
                    // relay runs in a child task, so the writer travels there and back in a box.
                    let box = WriterBox(writer)
                    try await Self.cancelling(when: connectionClosed) {
                        try await upstream.body { chunk in
                            relay.observe(chunk)
                            try await box.writer.write(chunk)
                        }
                    }
                    writer = box.writer
                } else {
                    try await upstream.body { chunk in
                        relay.observe(chunk)
                        try await writer.write(chunk)
                    }
                }
                try await writer.finish(nil)
            } catch {
                service.record(call, provider: provider, path: path, status: upstream.status, usage: relay.finish(), started: started, firstByte: relay.firstByte, streamed: isEventStream, cancelled: true)
                throw error
            }
            service.record(call, provider: provider, path: path, status: upstream.status, usage: relay.finish(), started: started, firstByte: relay.firstByte, streamed: isEventStream, cancelled: false)
        }
        return Response(status: status, headers: headers, body: responseBody)
    }

    /// Runs `operation`, cancelled if `closed` completes first. The connection itself is left
    /// alone (Hummingbird's inbound-close helper closes it after the response, so every stream
    /// cost a new connection). The callback left on `closed` holds only an empty stream until the
    /// connection ends.
    static func cancelling(when closed: EventLoopFuture<Void>, _ operation: @escaping @Sendable () async throws -> Void) async throws {
        let (barrier, hangUp) = AsyncStream<Void>.makeStream()
        closed.whenComplete { _ in hangUp.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in barrier {}
                // The connection closed (or this task was cancelled because the operation ended).
                throw CancellationError()
            }
            group.addTask(operation: operation)
            try await group.next()
            group.cancelAll()
        }
        hangUp.finish()
    }

    /// The error to answer when reading an answer that is sent whole (an error body, a small
    /// completion) fails before anything went to the client: the client hung up (recorded as
    /// cancelled), or the provider broke off its answer or went silent, which is a 502 (504),
    /// never a 500 nor half an answer.
    func brokenAnswer(_ error: any Error, _ call: ProxyCall, provider: Provider, path: String, status: Int, usage tokens: TokenUsage, started: ContinuousClock.Instant, firstByte: ContinuousClock.Instant?) -> any Error {
        if error is CancellationError {
            record(call, provider: provider, path: path, status: status, usage: tokens, started: started, firstByte: firstByte, streamed: false, cancelled: true)
            return error
        }
        let timedOut = error as? UpstreamError == .timeout
        record(call, provider: provider, path: path, status: timedOut ? 504 : 502, usage: tokens, started: started, firstByte: firstByte, streamed: false, cancelled: false)
        return timedOut ? AppError.upstreamTimeout : AppError.upstreamUnreachable
    }

    func record(_ call: ProxyCall, provider: Provider, path: String, status: Int, usage tokens: TokenUsage, started: ContinuousClock.Instant, firstByte: ContinuousClock.Instant?, streamed: Bool, cancelled: Bool) {
        let price = tokens.model.flatMap { provider.definition.prices[$0] }
        usage.record(UsageRecord(
            requestId: call.requestId, userId: call.user.userId, appId: call.user.appId, provider: provider.id, endpoint: path,
            model: tokens.model, status: Int64(status), inputTokens: tokens.input, outputTokens: tokens.output, cachedTokens: tokens.cached,
            costMicros: tokens.costMicros(price), latencyMs: (ContinuousClock.now - started).milliseconds,
            ttfbMs: firstByte.map { ($0 - started).milliseconds }, streamed: streamed, cancelled: cancelled,
            keySource: call.splitKey == nil ? "server" : "byok", splitKeyId: call.splitKey?.id, clientIp: call.clientIP, userAgent: call.clientHeaders[.userAgent], createdAtMs: Millis.now()
        ))
    }

    /// The base URL plus the checked path plus encoded query parameters; the key goes in the query
    /// only for providers that take it nowhere else.
    static func url(provider: Provider, path: String, query: [(name: String, value: String)]) -> String {
        var items = query
        if case .query(let name) = provider.definition.auth, let key = provider.key { items.append((name, key.value)) }
        var url = provider.baseURL + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path)
        if !items.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+?#")
            url += "?" + items.map { ($0.name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "=" + ($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") }.joined(separator: "&")
        }
        return url
    }

    /// Built from scratch: the provider's auth, its fixed headers, the content type, and the few
    /// client headers the provider allows through. The client's Authorization, cookies and
    /// hop-by-hop headers never go upstream.
    static func upstreamHeaders(provider: Provider, client: HTTPFields, hasBody: Bool) -> HTTPFields {
        var headers = HTTPFields()
        switch provider.definition.auth {
        case .bearer:
            if let key = provider.key { headers[.authorization] = "Bearer \(key.value)" }
        case .header(let name, let prefix):
            if let key = provider.key, let field = HTTPField.Name(name) { headers[field] = prefix + key.value }
        case .query, .none:
            break
        }
        for (name, value) in provider.definition.headers.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if hasBody { headers[.contentType] = client[.contentType] ?? "application/json" }
        headers[.accept] = client[.accept] ?? "*/*"
        headers[.userAgent] = "safeapi-bridge/\(BridgeVersion.current)"
        for name in provider.definition.passHeaders {
            if let field = HTTPField.Name(name), let value = client[field] { headers[field] = value }
        }
        return headers
    }

    /// An OpenAI-style streaming request gets `stream_options.include_usage: true` when it did not
    /// ask, so the stream ends with a usage chunk. Other bodies are left byte for byte.
    static func askingForStreamUsage(_ body: ByteBuffer?) -> ByteBuffer? {
        guard let body, body.contains(Self.streamKey),
            var object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            object["stream"] as? Bool == true
        else { return body }
        var options = object["stream_options"] as? [String: Any] ?? [:]
        guard options["include_usage"] == nil else { return body }
        options["include_usage"] = true
        object["stream_options"] = options
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return body }
        return ByteBuffer(bytes: data)
    }

    static let streamKey = Array("\"stream\"".utf8)

    /// The body with every occurrence of the provider key replaced.
    static func redacting(_ key: Secret<String>?, in body: ByteBuffer) -> ByteBuffer {
        guard let key, key.value.count >= 8, let text = body.getString(at: body.readerIndex, length: body.readableBytes), text.contains(key.value) else {
            return body
        }
        return ByteBuffer(string: text.replacingOccurrences(of: key.value, with: "[redacted]"))
    }
}

/// The meter of one relayed body. Only the task relaying that body touches it, one chunk at a
/// time; it is a reference so that a relay cut short still reports the tokens it saw.
final class RelayState: @unchecked Sendable {
    private var meter: UsageMeter
    private(set) var firstByte: ContinuousClock.Instant?

    init(meter: UsageMeter) { self.meter = meter }

    func observe(_ chunk: ByteBuffer) {
        if firstByte == nil { firstByte = .now }
        meter.observe(chunk)
    }

    func finish() -> TokenUsage { meter.finish() }
}

extension ByteBuffer {
    /// Whether the readable bytes contain `needle`.
    func contains(_ needle: [UInt8]) -> Bool {
        withUnsafeReadableBytes { Bytes.firstIndex(of: needle, in: $0) != nil }
    }
}

/// A response writer handed to the child task that relays a stream; only that task uses it until
/// the relay ends, then only the response's own task again.
final class WriterBox: @unchecked Sendable {
    var writer: any ResponseBodyWriter
    init(_ writer: any ResponseBodyWriter) { self.writer = writer }
}

public enum BridgeVersion {
    public static let current = "2.0.0"
}

extension HTTPField.Name {
    /// `x-safeapi-upstream-status`: present when the status and body are the provider's.
    public static let upstreamStatus = Self("x-safeapi-upstream-status")!
}

