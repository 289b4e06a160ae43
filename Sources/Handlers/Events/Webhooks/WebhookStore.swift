import Foundation
public import Generated
import SQLKit

/// One row of `webhooks`. `events` is stored as `,a,b,` so one `LIKE '%,name,%'` matches exactly.
public struct WebhookRecord: Sendable, Equatable, Codable {
    public var id: String
    public var url: String
    public var events: String
    public var description: String?
    public var active: Bool
    public var secretSealed: String
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var secretRotatedAtMs: Int64

    public var eventNames: [WebhookEvent] { events.split(separator: ",").compactMap { WebhookEvent(rawValue: String($0)) } }
}

/// One row of `webhook_outbox`: an event for one webhook, and its delivery state.
public struct OutboxRecord: Sendable, Equatable, Codable {
    public var id: String
    public var webhookId: String
    public var event: String
    public var payload: String
    public var status: String
    public var attempts: Int64
    public var nextAttemptMs: Int64
    public var lockedUntilMs: Int64
    public var lastStatus: Int64?
    public var lastError: String?
    public var createdAtMs: Int64
    public var deliveredAtMs: Int64?
}

/// The `webhooks` and `webhook_outbox` tables.
public struct WebhookStore: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func all() async throws -> [WebhookRecord] {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM webhooks ORDER BY created_at_ms DESC, id").all(
                decoding: WebhookRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func get(_ id: String) async throws -> WebhookRecord? {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM webhooks WHERE id = \(bind: id)").first(
                decoding: WebhookRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func insert(_ record: WebhookRecord) async throws {
        try await database.withSQL { sql in
            try await sql.insert(into: "webhooks").model(record, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
                .run()
        }
    }

    public func update(_ id: String, url: String?, events: String?, description: String?, active: Bool?, secretSealed: String?, now: Int64)
        async throws -> WebhookRecord?
    {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE webhooks SET url = COALESCE(\(bind: url), url), events = COALESCE(\(bind: events), events),
                    description = COALESCE(\(bind: description), description), active = COALESCE(\(bind: active), active),
                    secret_sealed = COALESCE(\(bind: secretSealed), secret_sealed),
                    secret_rotated_at_ms = CASE WHEN \(bind: secretSealed != nil) THEN \(bind: now) ELSE secret_rotated_at_ms END,
                    updated_at_ms = \(bind: now)
                WHERE id = \(bind: id) RETURNING *
                """
            ).first(decoding: WebhookRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Deletes the webhook and its undelivered events.
    public func delete(_ id: String) async throws -> Bool {
        try await database.withSQL { sql in
            let gone = try await sql.raw("DELETE FROM webhooks WHERE id = \(bind: id) RETURNING id").first() != nil
            if gone { try await sql.raw("DELETE FROM webhook_outbox WHERE webhook_id = \(bind: id)").run() }
            return gone
        }
    }

    /// One statement: a row per active webhook subscribed to `event`.
    @discardableResult
    func enqueue(eventId: String, event: WebhookEvent, payload: String, now: Int64, on sql: (any SQLDatabase)? = nil) async throws -> Int {
        let statement: SQLQueryString = """
            INSERT INTO webhook_outbox (id, webhook_id, event, payload, status, attempts, next_attempt_ms, locked_until_ms, created_at_ms)
            SELECT \(bind: eventId), id, \(bind: event.rawValue), \(bind: payload), 'pending', 0, \(bind: now), 0, \(bind: now) FROM webhooks
            WHERE active = \(bind: true) AND events LIKE \(bind: "%," + event.rawValue + ",%")
            ON CONFLICT (id, webhook_id) DO NOTHING
            RETURNING webhook_id
            """
        if let sql { return try await sql.raw(statement).all().count }
        return try await database.withSQL { try await $0.raw(statement).all().count }
    }

    /// One event for one webhook, whether it is active or not (the explicit test).
    func enqueueOne(eventId: String, webhookId: String, event: WebhookEvent, payload: String, now: Int64) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                INSERT INTO webhook_outbox (id, webhook_id, event, payload, status, attempts, next_attempt_ms, locked_until_ms, created_at_ms)
                VALUES (\(bind: eventId), \(bind: webhookId), \(bind: event.rawValue), \(bind: payload), 'pending', 0, \(bind: now), 0, \(bind: now))
                """
            ).run()
        }
    }

    /// The deliveries still to make (due now or later), for the metrics.
    public func pendingCount() async throws -> Int {
        try await database.withSQL { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM webhook_outbox WHERE status = 'pending'").first()?.decode(
                column: "n", as: Int.self)
                ?? 0
        }
    }

    /// Takes up to `limit` due events for delivery, each leased until `leaseUntil` so no other
    /// worker (on any instance) takes it meanwhile; counts the attempt.
    public func claimDue(now: Int64, leaseUntil: Int64, limit: Int) async throws -> [OutboxRecord] {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE webhook_outbox SET locked_until_ms = \(bind: leaseUntil), attempts = attempts + 1
                WHERE (id, webhook_id) IN (
                    SELECT id, webhook_id FROM webhook_outbox
                    WHERE status = 'pending' AND next_attempt_ms <= \(bind: now) AND locked_until_ms <= \(bind: now)
                    ORDER BY next_attempt_ms LIMIT \(bind: limit))
                AND status = 'pending' AND locked_until_ms <= \(bind: now)
                RETURNING *
                """
            ).all(decoding: OutboxRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func finish(_ record: OutboxRecord, status: String, httpStatus: Int64?, error: String?, nextAttemptMs: Int64, now: Int64)
        async throws
    {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE webhook_outbox SET status = \(bind: status), last_status = \(bind: httpStatus), last_error = \(bind: error),
                    next_attempt_ms = \(bind: nextAttemptMs), locked_until_ms = 0,
                    delivered_at_ms = CASE WHEN \(bind: status) = 'delivered' THEN \(bind: now) ELSE delivered_at_ms END
                WHERE id = \(bind: record.id) AND webhook_id = \(bind: record.webhookId)
                """
            ).run()
        }
    }

    public func deliveries(webhookId: String, limit: Int64) async throws -> [OutboxRecord] {
        try await database.withSQL { sql in
            try await sql.raw(
                "SELECT * FROM webhook_outbox WHERE webhook_id = \(bind: webhookId) ORDER BY created_at_ms DESC, id LIMIT \(bind: limit)"
            )
            .all(decoding: OutboxRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func delivery(id: String, webhookId: String) async throws -> OutboxRecord? {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM webhook_outbox WHERE id = \(bind: id) AND webhook_id = \(bind: webhookId)")
                .first(decoding: OutboxRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }
}
