import SQLKit
import Synchronization

/// One row of `ip_rules`.
public struct IPRuleRecord: Sendable, Equatable, Codable {
    public var id: String
    /// Normalised (`10.0.0.0/8`, `2001:db8::/32`).
    public var cidr: String
    /// `allow` or `deny`.
    public var type: String
    public var reason: String?
    public var expiresAtMs: Int64?
    public var createdBy: String?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
}

/// The `ip_rules` table.
public struct IPRuleStore: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func all() async throws -> [IPRuleRecord] {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM ip_rules ORDER BY created_at_ms DESC, id").all(
                decoding: IPRuleRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func insert(_ rule: IPRuleRecord) async throws {
        try await database.withSQL { sql in
            try await sql.insert(into: "ip_rules").model(rule, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
        }
    }

    /// Changes the given fields; nil when there is no such rule.
    public func update(id: String, cidr: String?, type: String?, reason: String?, expiresAtMs: Int64?, now: Int64) async throws
        -> IPRuleRecord?
    {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE ip_rules SET cidr = COALESCE(\(bind: cidr), cidr), type = COALESCE(\(bind: type), type),
                    reason = COALESCE(\(bind: reason), reason), expires_at_ms = COALESCE(\(bind: expiresAtMs), expires_at_ms),
                    updated_at_ms = \(bind: now)
                WHERE id = \(bind: id)
                RETURNING *
                """
            ).first(decoding: IPRuleRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func delete(id: String) async throws -> Bool {
        try await database.withSQL { sql in
            try await sql.raw("DELETE FROM ip_rules WHERE id = \(bind: id) RETURNING id").first() != nil
        }
    }
}

/// The rules every request is checked against, in memory. Deny wins; when any allow rule is in
/// force, only the addresses it covers pass. Expired rules are ignored. The list is replaced as a
/// whole: by the instance that changed a rule at once, by every other within the sync interval.
public final class IPRuleSet: Sendable {
    struct Rule: Sendable {
        let cidr: CIDR
        let allow: Bool
        let expiresAtMs: Int64?
    }
    private let rules = Mutex<[Rule]>([])

    public init() {}

    public enum Verdict: Sendable, Equatable {
        case pass
        case denied
        case notAllowed
    }

    public func replace(with records: [IPRuleRecord]) {
        let compiled = records.compactMap { record -> Rule? in
            guard let cidr = CIDR(record.cidr) else { return nil }
            return Rule(cidr: cidr, allow: record.type == "allow", expiresAtMs: record.expiresAtMs)
        }
        rules.withLock { $0 = compiled }
    }

    public func verdict(for address: String, nowMs: Int64 = Millis.now()) -> Verdict {
        let rules = rules.withLock { $0 }
        let live = rules.filter { ($0.expiresAtMs ?? .max) > nowMs }
        guard !live.isEmpty else { return .pass }
        // An address we cannot parse passes only when no allow rule demands a match.
        guard let parsed = IPAddress(address) else { return live.contains(where: \.allow) ? .notAllowed : .pass }
        if live.contains(where: { !$0.allow && $0.cidr.contains(parsed) }) { return .denied }
        let allows = live.filter(\.allow)
        if !allows.isEmpty, !allows.contains(where: { $0.cidr.contains(parsed) }) { return .notAllowed }
        return .pass
    }

    public func reload(from store: IPRuleStore) async throws {
        replace(with: try await store.all())
    }
}
