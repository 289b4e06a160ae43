public import Generated
import SQLKit

/// A user of an app. `tokenGeneration` goes up when every token of the user is revoked; access
/// tokens carry the generation they were issued under.
public struct UserRecord: Sendable, Equatable, Codable {
    public var userId: String
    public var appId: String
    public var active: Bool
    public var dailyQuota: Int64
    public var monthlyQuota: Int64
    public var tokenGeneration: Int64
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var dailyTokenBudget: Int64?
    public var monthlyTokenBudget: Int64?
    public var dailyCostBudgetMicros: Int64?
    public var monthlyCostBudgetMicros: Int64?

    public var budgets: Budgets {
        Budgets(
            dailyTokens: dailyTokenBudget, monthlyTokens: monthlyTokenBudget, dailyCostMicros: dailyCostBudgetMicros,
            monthlyCostMicros: monthlyCostBudgetMicros)
    }
}

/// The `users` table.
public struct UserStore: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// The user, created under `appId` when absent. Concurrent first tokens for one userId agree:
    /// the insert is `ON CONFLICT DO NOTHING`, then everyone reads the one row. `created` tells
    /// whether this call made it. A recreated user starts above any generation still revoked.
    func findOrCreate(
        userId: String, appId: String, dailyQuota: Int64, monthlyQuota: Int64, now: Int64, on transaction: (any SQLDatabase)? = nil
    ) async throws -> (user: UserRecord, created: Bool) {
        try await database.using(transaction) { sql in
            let inserted = try await sql.raw(
                """
                INSERT INTO users (user_id, app_id, active, daily_quota, monthly_quota, token_generation, created_at_ms, updated_at_ms)
                VALUES (\(bind: userId), \(bind: appId), \(bind: true), \(bind: dailyQuota), \(bind: monthlyQuota),
                    COALESCE((SELECT MAX(CAST(value AS BIGINT)) FROM token_revocations
                              WHERE kind = 'user' AND user_id = \(bind: userId) AND expires_at_ms > \(bind: now)), 0),
                    \(bind: now), \(bind: now))
                ON CONFLICT (user_id) DO NOTHING
                RETURNING *
                """
            ).first(decoding: UserRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            if let inserted { return (inserted, true) }
            guard
                let existing = try await sql.raw("SELECT * FROM users WHERE user_id = \(bind: userId)")
                    .first(decoding: UserRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            else {
                throw StoreError.vanished("user")
            }
            return (existing, false)
        }
    }

    public func get(_ userId: String) async throws -> UserRecord? {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM users WHERE user_id = \(bind: userId)").first(
                decoding: UserRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// A page of users, oldest first: of one app, and whose id starts with `search`, when given.
    public func list(appId: String?, search: String? = nil, limit: Int64, offset: Int64) async throws -> (users: [UserRecord], total: Int64)
    {
        var conditions: [SQLQueryString] = []
        if let appId { conditions.append("app_id = \(bind: appId)") }
        // substr, not LIKE: case-sensitive on both databases, and no wildcard to escape.
        if let search { conditions.append("substr(user_id, 1, length(\(bind: search))) = \(bind: search)") }
        let filter: SQLQueryString = conditions.allOf.map { " WHERE " + $0 } ?? ""
        return try await database.withSQL { sql in
            let users = try await sql.raw(
                "SELECT * FROM users" + filter + " ORDER BY created_at_ms, user_id LIMIT \(bind: limit) OFFSET \(bind: offset)"
            )
            .all(decoding: UserRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            let total = try await sql.raw("SELECT COUNT(*) AS n FROM users" + filter).first()?.decode(column: "n", as: Int64.self) ?? 0
            return (users, total)
        }
    }

    /// Applies the fields that are not nil; `budgets`, when given, replaces all four. Deactivating
    /// also bumps the token generation, so every token of the user stops at once.
    public func update(_ userId: String, dailyQuota: Int64?, monthlyQuota: Int64?, active: Bool?, budgets: Budgets? = nil, now: Int64)
        async throws -> UserRecord?
    {
        let bump: Int64 = active == false ? 1 : 0
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
                UPDATE users SET
                    daily_quota = COALESCE(\(bind: dailyQuota), daily_quota),
                    monthly_quota = COALESCE(\(bind: monthlyQuota), monthly_quota),
                    \(setBudgets)
                    token_generation = token_generation + \(bind: bump),
                    active = COALESCE(\(bind: active), active),
                    updated_at_ms = \(bind: now)
                WHERE user_id = \(bind: userId)
                RETURNING *
                """
            ).first(decoding: UserRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Bumps the generation: every token issued before is revoked. Returns the new generation.
    public func bumpGeneration(_ userId: String, now: Int64) async throws -> Int64? {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE users SET token_generation = token_generation + 1, updated_at_ms = \(bind: now)
                WHERE user_id = \(bind: userId) RETURNING token_generation
                """
            ).first()?.decode(column: "token_generation", as: Int64.self)
        }
    }

    /// Deletes the user; returns the row it had, or nil.
    public func delete(_ userId: String) async throws -> UserRecord? {
        try await database.withSQL { sql in
            try await sql.raw("DELETE FROM users WHERE user_id = \(bind: userId) RETURNING *")
                .first(decoding: UserRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Users who are not active, for the revocation list.
    public func inactiveUserIds() async throws -> [String] {
        try await database.withSQL { sql in
            try await sql.raw("SELECT user_id FROM users WHERE active = \(bind: false)").all().map {
                try $0.decode(column: "user_id", as: String.self)
            }
        }
    }

    /// Moves one user's quota counts of `periods` to another, in one transaction (a guest's usage
    /// to the user it signed in as).
    func moveCounters(from source: String, to target: String, periods: [String]) async throws {
        try await database.transaction { sql in
            try await sql.raw(
                """
                INSERT INTO quota_counters (user_id, period, requests, tokens, cost_micros)
                SELECT \(bind: target), period, requests, tokens, cost_micros FROM quota_counters
                WHERE user_id = \(bind: source) AND period IN (\(binds: periods))
                ON CONFLICT (user_id, period) DO UPDATE SET requests = quota_counters.requests + excluded.requests,
                    tokens = quota_counters.tokens + excluded.tokens, cost_micros = quota_counters.cost_micros + excluded.cost_micros
                """
            ).run()
            try await sql.raw("DELETE FROM quota_counters WHERE user_id = \(bind: source) AND period IN (\(binds: periods))").run()
        }
    }
}
