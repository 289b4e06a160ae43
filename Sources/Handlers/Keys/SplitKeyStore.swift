public import Generated
public import SQLKit

/// A split key's row. The ciphertext, nonce and tag are hex, and nil once the key is deleted.
public struct SplitKeyRecord: Sendable, Equatable, Codable {
    public var userId: String
    public var keyId: String
    public var provider: String
    public var version: Int64
    public var ciphertext: String?
    public var nonce: String?
    public var tag: String?
    public var description: String?
    public var useCount: Int64
    public var lastUsedAtMs: Int64?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var revokedAtMs: Int64?
    public var dailyTokenBudget: Int64?
    public var monthlyTokenBudget: Int64?
    public var dailyCostBudgetMicros: Int64?
    public var monthlyCostBudgetMicros: Int64?

    public var budgets: Budgets {
        Budgets(
            dailyTokens: dailyTokenBudget, monthlyTokens: monthlyTokenBudget, dailyCostMicros: dailyCostBudgetMicros,
            monthlyCostMicros: monthlyCostBudgetMicros)
    }

    var sealed: SealedKey? {
        guard let ciphertext = ciphertext.flatMap(Hex.decode), let nonce = nonce.flatMap(Hex.decode), let tag = tag.flatMap(Hex.decode)
        else { return nil }
        return SealedKey(ciphertext: ciphertext, nonce: nonce, tag: tag)
    }
}

/// The `split_keys` table.
public struct SplitKeyStore: UsageFollower {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// Inserts the key; false when the owner already has this id.
    func insert(_ record: SplitKeyRecord, on transaction: (any SQLDatabase)? = nil) async throws -> Bool {
        try await database.using(transaction) { sql in
            try await sql.raw(
                """
                INSERT INTO split_keys (user_id, key_id, provider, version, ciphertext, nonce, tag, description, use_count, created_at_ms, updated_at_ms,
                                        daily_token_budget, monthly_token_budget, daily_cost_budget_micros, monthly_cost_budget_micros)
                VALUES (\(bind: record.userId), \(bind: record.keyId), \(bind: record.provider), \(bind: record.version), \(bind: record.ciphertext),
                        \(bind: record.nonce), \(bind: record.tag), \(bind: record.description), 0, \(bind: record.createdAtMs), \(bind: record.updatedAtMs),
                        \(bind: record.dailyTokenBudget), \(bind: record.monthlyTokenBudget), \(bind: record.dailyCostBudgetMicros), \(bind: record.monthlyCostBudgetMicros))
                ON CONFLICT (user_id, key_id) DO NOTHING
                RETURNING key_id
                """
            ).first() != nil
        }
    }

    func get(userId: String, keyId: String) async throws -> SplitKeyRecord? {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM split_keys WHERE user_id = \(bind: userId) AND key_id = \(bind: keyId)")
                .first(decoding: SplitKeyRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    func list(userId: String?, provider: String?, limit: Int = 1000) async throws -> [SplitKeyRecord] {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                SELECT * FROM split_keys
                WHERE (\(bind: userId) IS NULL OR user_id = \(bind: userId)) AND (\(bind: provider) IS NULL OR provider = \(bind: provider))
                ORDER BY created_at_ms DESC, key_id LIMIT \(bind: limit)
                """
            ).all(decoding: SplitKeyRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Replaces the sealed key with a new version, only if the row is still at `version`.
    func reseal(userId: String, keyId: String, version: Int64, sealed: SealedKey, now: Int64, on transaction: (any SQLDatabase)? = nil)
        async throws -> Bool
    {
        try await database.using(transaction) { sql in
            try await sql.raw(
                """
                UPDATE split_keys SET version = \(bind: version + 1), ciphertext = \(bind: Hex.encode(sealed.ciphertext)),
                    nonce = \(bind: Hex.encode(sealed.nonce)), tag = \(bind: Hex.encode(sealed.tag)), updated_at_ms = \(bind: now)
                WHERE user_id = \(bind: userId) AND key_id = \(bind: keyId) AND version = \(bind: version) AND revoked_at_ms IS NULL
                RETURNING key_id
                """
            ).first() != nil
        }
    }

    /// Changes the description and, when given, all four budgets; nil when there is no such key.
    func update(userId: String, keyId: String, description: String?, budgets: Budgets?, now: Int64) async throws -> SplitKeyRecord? {
        let setBudgets: SQLQueryString =
            budgets.map { budgets in
                """
                daily_token_budget = \(bind: budgets.dailyTokens), monthly_token_budget = \(bind: budgets.monthlyTokens),
                daily_cost_budget_micros = \(bind: budgets.dailyCostMicros), monthly_cost_budget_micros = \(bind: budgets.monthlyCostMicros),
                """
            } ?? ""
        return try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE split_keys SET description = COALESCE(\(bind: description), description), \(setBudgets) updated_at_ms = \(bind: now)
                WHERE user_id = \(bind: userId) AND key_id = \(bind: keyId)
                RETURNING *
                """
            ).first(decoding: SplitKeyRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Erases the ciphertext; the row stays as an inactive tombstone. False when there is no such key.
    func revoke(userId: String, keyId: String, now: Int64, on transaction: (any SQLDatabase)? = nil) async throws -> Bool {
        try await database.using(transaction) { sql in
            try await sql.raw(
                """
                UPDATE split_keys SET ciphertext = NULL, nonce = NULL, tag = NULL,
                    revoked_at_ms = COALESCE(revoked_at_ms, \(bind: now)), updated_at_ms = \(bind: now)
                WHERE user_id = \(bind: userId) AND key_id = \(bind: keyId)
                RETURNING key_id
                """
            ).first() != nil
        }
    }

    /// Counts the uses of split keys in a batch of usage rows (called by the usage writer, off the
    /// request path): one statement per key.
    public func follow(_ rows: [UsageRecord], on sql: any SQLDatabase) async throws {
        var uses: [String: (userId: String, keyId: String, count: Int64, lastAtMs: Int64)] = [:]
        for row in rows {
            guard let keyId = row.splitKeyId, row.keySource == "byok" else { continue }
            let key = row.userId + "\u{0}" + keyId
            let previous = uses[key]
            uses[key] = (row.userId, keyId, (previous?.count ?? 0) + 1, max(previous?.lastAtMs ?? 0, row.createdAtMs))
        }
        // In key order: on PostgreSQL the batch is one transaction, and two instances' batches
        // must take the rows' locks in the same order.
        for (_, use) in uses.sorted(by: { $0.key < $1.key }) {
            try await sql.raw(
                """
                UPDATE split_keys SET use_count = use_count + \(bind: use.count),
                    last_used_at_ms = CASE WHEN last_used_at_ms IS NULL OR last_used_at_ms < \(bind: use.lastAtMs) THEN \(bind: use.lastAtMs) ELSE last_used_at_ms END
                WHERE user_id = \(bind: use.userId) AND key_id = \(bind: use.keyId)
                """
            ).run()
        }
    }
}
