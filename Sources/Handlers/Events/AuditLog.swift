import Crypto
import Foundation
public import Generated
import SQLKit
import Synchronization

/// One row of `audit_log`.
public struct AuditRecord: Sendable, Equatable, Codable {
    public var seq: Int64
    public var id: String
    public var atMs: Int64
    public var actorType: String
    public var actorId: String
    public var action: String
    public var target: String?
    public var beforeJson: String?
    public var afterJson: String?
    public var ip: String?
    public var userAgent: String?
    public var requestId: String?
    public var success: Bool
    public var error: String?
    public var prevHash: String
    public var hash: String

    /// SHA-256 over every field but `hash`, each length-prefixed so no two rows hash alike by
    /// shifting text between fields.
    func computedHash() -> String {
        let fields: [String?] = [
            String(seq), id, String(atMs), actorType, actorId, action, target, beforeJson, afterJson, ip, userAgent, requestId,
            success ? "1" : "0", error, prevHash,
        ]
        var hasher = SHA256()
        for field in fields {
            let bytes = Array((field ?? "").utf8)
            hasher.update(data: Array("\(field == nil ? -1 : bytes.count):".utf8))
            hasher.update(data: bytes)
        }
        return Hex.encode(Array(hasher.finalize()))
    }

    public static let genesis = String(repeating: "0", count: 64)
}

/// What a request's audited operation collects while it runs: the authenticator names the actor,
/// the handler the target and the before and after states. `AuditMiddleware` writes it.
public final class AuditTrail: Sendable {
    struct Details {
        var actorType: String?
        var actorId: String?
        var target: String?
        var before: String?
        var after: String?
    }
    let details = Mutex(Details())

    @TaskLocal public static var current: AuditTrail?

    public init() {}

    public static func actor(_ type: String, _ id: String) {
        current?.details.withLock {
            $0.actorType = type
            $0.actorId = id
        }
    }

    /// The target and its states; values are encoded as JSON (API types only: never a secret).
    public static func note(target: String? = nil, before: (any Encodable)? = nil, after: (any Encodable)? = nil) {
        guard let trail = current else { return }
        let encode: (any Encodable) -> String? = { value in
            (try? APICoding.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
        }
        let beforeText = before.flatMap(encode)
        let afterText = after.flatMap(encode)
        trail.details.withLock {
            if let target { $0.target = target }
            if let beforeText { $0.before = beforeText }
            if let afterText { $0.after = afterText }
        }
    }
}

/// The `audit_log` table: an append-only hash chain. Each entry's hash covers its fields and the
/// previous entry's hash; an entry takes the next `seq` (the primary key) or retries, so writers
/// on any number of instances extend one chain.
public struct AuditLog: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public struct Draft: Sendable {
        public var actorType: String
        public var actorId: String
        public var action: String
        public var target: String?
        public var before: String?
        public var after: String?
        public var ip: String?
        public var userAgent: String?
        public var requestId: String?
        public var success: Bool
        public var error: String?
    }

    @discardableResult
    public func append(_ draft: Draft, now: Int64 = Millis.now()) async throws -> AuditRecord {
        for _ in 0..<50 {
            let tail = try await database.withSQL { sql in
                try await sql.raw("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").first()
            }
            let seq = (try tail?.decode(column: "seq", as: Int64.self) ?? 0) + 1
            var record = AuditRecord(
                seq: seq, id: "aud_" + Credentials.newId(), atMs: now, actorType: draft.actorType, actorId: draft.actorId,
                action: draft.action, target: draft.target, beforeJson: draft.before, afterJson: draft.after, ip: draft.ip,
                userAgent: draft.userAgent.map { String($0.prefix(512)) }, requestId: draft.requestId, success: draft.success,
                error: draft.error, prevHash: try tail?.decode(column: "hash", as: String.self) ?? AuditRecord.genesis, hash: ""
            )
            record.hash = record.computedHash()
            let inserted = record
            let won = try await database.withSQL { sql in
                try await sql.raw(
                    """
                    INSERT INTO audit_log (seq, id, at_ms, actor_type, actor_id, action, target, before_json, after_json, ip, user_agent,
                                           request_id, success, error, prev_hash, hash)
                    VALUES (\(bind: inserted.seq), \(bind: inserted.id), \(bind: inserted.atMs), \(bind: inserted.actorType), \(bind: inserted.actorId),
                            \(bind: inserted.action), \(bind: inserted.target), \(bind: inserted.beforeJson), \(bind: inserted.afterJson), \(bind: inserted.ip),
                            \(bind: inserted.userAgent), \(bind: inserted.requestId), \(bind: inserted.success), \(bind: inserted.error),
                            \(bind: inserted.prevHash), \(bind: inserted.hash))
                    ON CONFLICT (seq) DO NOTHING
                    RETURNING seq
                    """
                ).first() != nil
            }
            if won { return record }
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
        }
        throw StoreError.vanished("audit chain tail (too much contention)")
    }

    public struct Filter: Sendable {
        public var action: String?
        public var actorId: String?
        public var target: String?
        public var success: Bool?
        public var fromMs: Int64?
        public var toMs: Int64?

        public init(
            action: String? = nil, actorId: String? = nil, target: String? = nil, success: Bool? = nil, fromMs: Int64? = nil,
            toMs: Int64? = nil
        ) {
            self.action = action
            self.actorId = actorId
            self.target = target
            self.success = success
            self.fromMs = fromMs
            self.toMs = toMs
        }

        /// `action` ending in `.` is a prefix (`user.` → every user action).
        var condition: SQLQueryString {
            let exact = action.flatMap { $0.hasSuffix(".") ? nil : $0 }
            let prefix = action.flatMap { $0.hasSuffix(".") ? $0 + "%" : nil }
            return """
                (\(bind: exact) IS NULL OR action = \(bind: exact)) AND (\(bind: prefix) IS NULL OR action LIKE \(bind: prefix))
                AND (\(bind: actorId) IS NULL OR actor_id = \(bind: actorId)) AND (\(bind: target) IS NULL OR target = \(bind: target))
                AND (\(bind: success) IS NULL OR success = \(bind: success))
                AND (\(bind: fromMs) IS NULL OR at_ms >= \(bind: fromMs)) AND (\(bind: toMs) IS NULL OR at_ms < \(bind: toMs))
                """
        }
    }

    public func list(_ filter: Filter, limit: Int64, offset: Int64) async throws -> (records: [AuditRecord], total: Int64) {
        try await database.withSQL { sql in
            let records = try await sql.raw(
                "SELECT * FROM audit_log WHERE \(filter.condition) ORDER BY seq DESC LIMIT \(bind: limit) OFFSET \(bind: offset)"
            )
            .all(decoding: AuditRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            let total =
                try await sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE \(filter.condition)").first()?.decode(
                    column: "n", as: Int64.self) ?? 0
            return (records, total)
        }
    }

    public func stats(sinceMs: Int64) async throws -> (total: Int64, successful: Int64, top: [(action: String, count: Int64)]) {
        try await database.withSQL { sql in
            let row = try await sql.raw(
                """
                SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN success THEN 1 ELSE 0 END), 0) AS BIGINT) AS ok FROM audit_log WHERE at_ms >= \(bind: sinceMs)
                """
            ).first()
            let top = try await sql.raw(
                """
                SELECT action, COUNT(*) AS n FROM audit_log WHERE at_ms >= \(bind: sinceMs) GROUP BY action ORDER BY n DESC, action LIMIT 10
                """
            ).all().map { (try $0.decode(column: "action", as: String.self), try $0.decode(column: "n", as: Int64.self)) }
            return (try row?.decode(column: "n", as: Int64.self) ?? 0, try row?.decode(column: "ok", as: Int64.self) ?? 0, top)
        }
    }

    public struct Verification: Sendable {
        public var checked: Int64
        public var headHash: String?
        public var broken: (seq: Int64, id: String, reason: String)?
    }

    /// Walks the chain in pages of 1000, in order. The first entry whose hash is not its own
    /// (`hash_mismatch`), whose `prevHash` is not the previous entry's hash (`chain_broken`), or
    /// whose `seq` skips (`gap`: an entry was removed) is the break.
    public func verify() async throws -> Verification {
        var previousHash = AuditRecord.genesis
        var expectedSeq: Int64 = 1
        var checked: Int64 = 0
        while true {
            let after = expectedSeq - 1
            let page = try await database.withSQL { sql in
                try await sql.raw("SELECT * FROM audit_log WHERE seq > \(bind: after) ORDER BY seq LIMIT 1000")
                    .all(decoding: AuditRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            }
            guard !page.isEmpty else { break }
            for record in page {
                if record.seq != expectedSeq {
                    return Verification(checked: checked, headHash: nil, broken: (record.seq, record.id, "gap"))
                }
                if record.hash != record.computedHash() {
                    return Verification(checked: checked, headHash: nil, broken: (record.seq, record.id, "hash_mismatch"))
                }
                if record.prevHash != previousHash {
                    return Verification(checked: checked, headHash: nil, broken: (record.seq, record.id, "chain_broken"))
                }
                previousHash = record.hash
                expectedSeq += 1
                checked += 1
            }
        }
        return Verification(checked: checked, headHash: checked > 0 ? previousHash : nil, broken: nil)
    }

    public static func entry(_ record: AuditRecord) -> AuditLogEntry {
        AuditLogEntry(
            seq: record.seq, id: record.id, at: Millis.date(record.atMs),
            actorType: AuditLogEntry.ActorType(rawValue: record.actorType) ?? .admin,
            actorId: record.actorId, action: record.action, target: record.target, before: record.beforeJson, after: record.afterJson,
            ip: record.ip, userAgent: record.userAgent, requestId: record.requestId, success: record.success, error: record.error,
            prevHash: record.prevHash, hash: record.hash
        )
    }
}
