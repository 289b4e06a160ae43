import AsyncHTTPClient
import Crypto
import Foundation
public import Generated
public import Logging
import NIOCore
import NIOHTTP1
import SQLKit
public import ServiceLifecycle

/// Queues events: one row per subscribed webhook in the outbox, in one statement, off nothing but
/// the database; delivery happens later in `WebhookWorker`, never in the request.
public struct WebhookEvents: Sendable {
    let store: WebhookStore
    let metrics: BridgeMetrics
    let logger: Logger

    public init(store: WebhookStore, metrics: BridgeMetrics, logger: Logger) {
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    /// The delivered body: `{"type": event, "timestamp": ISO 8601, "data": data}`.
    static func payload(_ event: WebhookEvent, data: [String: String], now: Int64) -> String {
        let object: [String: Any] = ["type": event.rawValue, "timestamp": APICoding.formatDate(Millis.date(now)), "data": data]
        let encoded = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Queues `event` inside the caller's transaction, so the event exists exactly when its cause
    /// does (both committed, or neither). With `onceFor`, as for `emit`.
    func queue(_ event: WebhookEvent, _ data: [String: String], onceFor key: String? = nil, on sql: any SQLDatabase) async throws {
        try await enqueue(event, data, onceFor: key, on: sql)
    }

    /// Counts the event and writes it to the outbox (on `sql`, or a connection of its own).
    private func enqueue(_ event: WebhookEvent, _ data: [String: String], onceFor key: String?, on sql: (any SQLDatabase)?) async throws {
        let now = Millis.now()
        metrics.event(event, onceFor: key)
        try await store.enqueue(
            eventId: Self.eventId(event, onceFor: key), event: event, payload: Self.payload(event, data: data, now: now), now: now, on: sql)
    }

    /// A new id, or with `onceFor` one derived from the key, so the event is queued once per key
    /// (per webhook) however often it is emitted.
    static func eventId(_ event: WebhookEvent, onceFor key: String?) -> String {
        key.map { "msg_" + Hex.encode(Array(SHA256.hash(data: Data(($0 + "|" + event.rawValue).utf8)).prefix(16))) } ?? "msg_"
            + Credentials.newId()
    }

    /// Queues `event` on its own; a failure is logged, never thrown into the caller's request.
    /// `onceFor`: see `eventId`.
    public func emit(_ event: WebhookEvent, _ data: [String: String], onceFor key: String? = nil) async {
        do {
            try await enqueue(event, data, onceFor: key, on: nil)
        } catch {
            logger.error(
                "webhook event could not be queued",
                metadata: ["webhook.event": .string(event.rawValue), "error.type": .string(String(reflecting: type(of: error)))])
        }
    }
}

/// Delivers the outbox: every `pollInterval` it leases the due events (on any instance, each
/// event to one worker at a time), posts each signed body, and records the outcome. A 2xx is
/// delivered; anything else is retried after `base × 2^(attempt-1)` (at most an hour) with full
/// jitter, until `maxAttempts`, then failed. State lives in the database, so a restart resumes
/// where it stopped; an attempt cut by a crash after the receiver answered can repeat (the
/// `webhook-id` lets receivers drop it; a crashed worker's lease runs out after 30 s).
public struct WebhookWorker: Service {
    let store: WebhookStore
    let crypto: WebhookCrypto
    let guardrail: WebhookURLGuard
    let pollInterval: Duration
    let retryBase: Duration
    let maxAttempts: Int64
    let metrics: BridgeMetrics
    let logger: Logger

    public init(
        store: WebhookStore, crypto: WebhookCrypto, guardrail: WebhookURLGuard, pollInterval: Duration, retryBase: Duration,
        maxAttempts: Int64 = 8, metrics: BridgeMetrics, logger: Logger
    ) {
        self.metrics = metrics
        self.store = store
        self.crypto = crypto
        self.guardrail = guardrail
        self.pollInterval = pollInterval
        self.retryBase = retryBase
        self.maxAttempts = maxAttempts
        self.logger = logger
    }

    public func run() async throws {
        // Its own client: no redirects (a receiver cannot bounce a signed body elsewhere), made
        // here and shut down here, so it never outlives the service.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(pin: nil))
        // A round in progress finishes on shutdown (its attempts are recorded and their leases
        // released), then the loop ends; only the wait between rounds is cut short.
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await deliverDue(client)
            } catch {
                logger.warning("webhook delivery round failed", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
            }
            await cancelWhenGracefulShutdown {
                try? await Task.sleep(for: pollInterval)
            }
        }
        try? await client.shutdown()
    }

    func deliverDue(_ client: HTTPClient) async throws {
        let now = Millis.now()
        let due = try await store.claimDue(now: now, leaseUntil: now + 30_000, limit: 20)
        guard !due.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for record in due { group.addTask { await deliver(record, client: client) } }
        }
    }

    /// No redirects, HTTP/1.1; with a pin, the host name connects to the address the guard
    /// checked (its TLS name and certificate are still the host's).
    static func clientConfiguration(pin: WebhookURLGuard.Pin?) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)))
        configuration.httpVersion = .http1Only
        if let pin { configuration.dnsOverride = [pin.host: pin.address] }
        return configuration
    }

    func deliver(_ record: OutboxRecord, client shared: HTTPClient) async {
        var httpStatus: Int64?
        var failure: String?
        if let webhook = try? await store.get(record.webhookId), webhook.active, let secret = crypto.open(webhook.secretSealed) {
            switch await guardrail.check(webhook.url) {
            case .refused(let refusal):
                failure = "url refused: \(refusal)"
            case .allowed(let pin):
                // A named host gets a client of its own, pinned to the address just checked: a
                // second lookup by the client could be answered with a private address.
                let client =
                    pin.map { HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(pin: $0)) } ?? shared
                let timestamp = Millis.now() / 1000
                let body = Data(record.payload.utf8)
                var request = HTTPClientRequest(url: webhook.url)
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.headers.add(name: "user-agent", value: "safeapi-bridge-webhooks/\(RouteTable.version)")
                request.headers.add(name: "webhook-id", value: record.id)
                request.headers.add(name: "webhook-timestamp", value: String(timestamp))
                request.headers.add(
                    name: "webhook-signature",
                    value: WebhookCrypto.signature(secret: secret, id: record.id, timestamp: timestamp, body: body) ?? "")
                request.body = .bytes(ByteBuffer(bytes: body))
                do {
                    let response = try await client.execute(request, timeout: .seconds(10))
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    httpStatus = Int64(response.status.code)
                    if !(200..<300).contains(response.status.code) { failure = "HTTP \(response.status.code)" }
                } catch {
                    failure = "unreachable"
                }
                if client !== shared { try? await client.shutdown() }
            }
        } else {
            failure = "webhook gone, inactive or its secret unreadable"
        }
        let now = Millis.now()
        let status: String
        var next = now
        if failure == nil {
            status = "delivered"
        } else if record.attempts >= maxAttempts {
            status = "failed"
        } else {
            status = "pending"
            let ceiling = min(retryBase.milliseconds << min(record.attempts - 1, 20), 3_600_000)
            next = now + Int64.random(in: ceiling / 2...max(ceiling / 2, ceiling))
        }
        metrics.webhookDelivery(result: status == "pending" ? "retry" : status)
        do {
            try await store.finish(record, status: status, httpStatus: httpStatus, error: failure, nextAttemptMs: next, now: now)
        } catch {
            logger.error("webhook delivery state could not be saved", metadata: ["webhook.id": .string(record.webhookId)])
        }
        if failure != nil {
            logger.info(
                "webhook delivery failed",
                metadata: [
                    "webhook.id": .string(record.webhookId), "webhook.event": .string(record.event),
                    "attempt": .stringConvertible(record.attempts), "reason": .string(failure ?? ""),
                ])
        }
    }
}
