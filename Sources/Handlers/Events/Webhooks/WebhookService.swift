import Foundation
public import Generated

/// Webhook administration: validation, the secret (generated, shown once, stored sealed), the
/// URL guard, and the events.
public struct WebhookService: Sendable {
    public let store: WebhookStore
    public let crypto: WebhookCrypto
    public let guardrail: WebhookURLGuard
    public let events: WebhookEvents

    public init(store: WebhookStore, crypto: WebhookCrypto, guardrail: WebhookURLGuard, events: WebhookEvents) {
        self.store = store
        self.crypto = crypto
        self.guardrail = guardrail
        self.events = events
    }

    /// `,a,b,` for storage (the names are the spec's `WebhookEvent`: the decoder refused any other).
    static func eventsColumn(_ events: [WebhookEvent]) -> String {
        "," + Set(events.map(\.rawValue)).sorted().joined(separator: ",") + ","
    }

    func checkURL(_ url: String) async throws(AppError) {
        if let refusal = await guardrail.refusal(url) {
            throw .unprocessable(code: "webhook_url_refused", message: "The webhook URL \(refusal).")
        }
    }

    public func create(_ request: CreateWebhookRequest) async throws -> WebhookWithSecret {
        let events = Self.eventsColumn(request.events)
        try await checkURL(request.url)
        let secret = WebhookCrypto.newSecret()
        let now = Millis.now()
        let record = WebhookRecord(
            id: "wh_" + Credentials.newId(), url: request.url, events: events, description: request.description,
            active: request.active ?? true,
            secretSealed: try crypto.seal(secret), createdAtMs: now, updatedAtMs: now, secretRotatedAtMs: now
        )
        try await store.insert(record)
        AuditTrail.note(target: record.id, after: Self.webhook(record))
        return WebhookWithSecret(webhook: Self.webhook(record), secret: secret)
    }

    public func update(_ id: String, _ request: UpdateWebhookRequest) async throws -> Webhook {
        let events = request.events.map(Self.eventsColumn)
        if let url = request.url { try await checkURL(url) }
        AuditTrail.note(target: id, before: try await store.get(id).map(Self.webhook))
        guard
            let record = try await store.update(
                id, url: request.url, events: events, description: request.description, active: request.active, secretSealed: nil,
                now: Millis.now())
        else {
            throw AppError.notFound(what: "webhook")
        }
        AuditTrail.note(after: Self.webhook(record))
        return Self.webhook(record)
    }

    public func rotateSecret(_ id: String) async throws -> WebhookWithSecret {
        AuditTrail.note(target: id)
        let secret = WebhookCrypto.newSecret()
        guard
            let record = try await store.update(
                id, url: nil, events: nil, description: nil, active: nil, secretSealed: try crypto.seal(secret), now: Millis.now())
        else {
            throw AppError.notFound(what: "webhook")
        }
        return WebhookWithSecret(webhook: Self.webhook(record), secret: secret)
    }

    public func delete(_ id: String) async throws {
        AuditTrail.note(target: id, before: try await store.get(id).map(Self.webhook))
        guard try await store.delete(id) else { throw AppError.notFound(what: "webhook") }
    }

    /// Queues a `test` event for this webhook only (active or not: the test is explicit).
    public func test(_ id: String) async throws -> WebhookDelivery {
        AuditTrail.note(target: id)
        guard try await store.get(id) != nil else { throw AppError.notFound(what: "webhook") }
        let eventId = "msg_" + Credentials.newId()
        let now = Millis.now()
        try await store.enqueueOne(
            eventId: eventId, webhookId: id, event: .test, payload: WebhookEvents.payload(.test, data: ["webhookId": id], now: now),
            now: now)
        guard let record = try await store.delivery(id: eventId, webhookId: id) else { throw AppError.notFound(what: "webhook") }
        return Self.delivery(record)
    }

    public func deliveries(_ id: String, limit: Int64) async throws -> [WebhookDelivery] {
        guard try await store.get(id) != nil else { throw AppError.notFound(what: "webhook") }
        return try await store.deliveries(webhookId: id, limit: limit).map(Self.delivery)
    }

    public static func webhook(_ record: WebhookRecord) -> Webhook {
        Webhook(
            id: record.id, url: record.url, events: record.eventNames, description: record.description, active: record.active,
            createdAt: Millis.date(record.createdAtMs), updatedAt: Millis.date(record.updatedAtMs),
            secretRotatedAt: Millis.date(record.secretRotatedAtMs)
        )
    }

    static func delivery(_ record: OutboxRecord) -> WebhookDelivery {
        WebhookDelivery(
            id: record.id, event: record.event, status: WebhookDelivery.Status(rawValue: record.status) ?? .pending,
            attempts: record.attempts,
            lastStatus: record.lastStatus, lastError: record.lastError, createdAt: Millis.date(record.createdAtMs),
            nextAttemptAt: record.status == "pending" ? Millis.date(record.nextAttemptMs) : nil,
            deliveredAt: record.deliveredAtMs.map(Millis.date)
        )
    }
}
