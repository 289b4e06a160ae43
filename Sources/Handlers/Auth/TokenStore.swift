import SQLKit

/// A refresh token, by the SHA-256 of its text. Tokens of one sign-in share a family.
public struct RefreshTokenRecord: Sendable, Equatable, Codable {
    public var tokenHash: String
    public var familyId: String
    public var userId: String
    public var appId: String
    public var generation: Int64
    public var expiresAtMs: Int64
    public var usedAtMs: Int64?
    public var revokedAtMs: Int64?
    public var createdAtMs: Int64
    /// The thumbprint of the key the family is bound to (RFC 9449); refreshing needs its proof.
    public var boundKey: String? = nil
}

/// One entry of the revocation list: a token (`kind = token`, `value` = jti), a refresh family
/// (`family`, family id) or every token of a user below a generation (`user`, generation).
/// Entries expire when the last access token they can concern has expired.
public struct RevocationRecord: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case token, family, user }
    public var id: String
    public var kind: Kind
    public var value: String
    public var userId: String
    public var expiresAtMs: Int64
    public var createdAtMs: Int64

    public init(kind: Kind, value: String, userId: String, expiresAtMs: Int64, createdAtMs: Int64) {
        self.id = "\(kind.rawValue):\(userId):\(value)"
        self.kind = kind
        self.value = value
        self.userId = userId
        self.expiresAtMs = expiresAtMs
        self.createdAtMs = createdAtMs
    }
}

/// The `refresh_tokens` and `token_revocations` tables.
public struct TokenStore: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func insertRefreshToken(_ token: RefreshTokenRecord) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                INSERT INTO refresh_tokens (token_hash, family_id, user_id, app_id, generation, expires_at_ms, created_at_ms, bound_key)
                VALUES (\(bind: token.tokenHash), \(bind: token.familyId), \(bind: token.userId), \(bind: token.appId),
                        \(bind: token.generation), \(bind: token.expiresAtMs), \(bind: token.createdAtMs), \(bind: token.boundKey))
                """
            ).run()
        }
    }

    /// Marks the token used if it is live and, when it is bound to a key (or its app requires
    /// one), `boundKey` is that key (or any key), in one statement: of many concurrent calls with
    /// the same token, exactly one gets the row, and a token presented without the key it needs is
    /// left as it was.
    public func consumeRefreshToken(hash: String, boundKey: String? = nil, now: Int64) async throws -> RefreshTokenRecord? {
        let keyless: SQLQueryString =
            boundKey == nil ? "AND NOT EXISTS (SELECT 1 FROM apps a WHERE a.app_id = refresh_tokens.app_id AND a.require_dpop)" : ""
        return try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE refresh_tokens SET used_at_ms = \(bind: now)
                WHERE token_hash = \(bind: hash) AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > \(bind: now)
                    AND (bound_key IS NULL OR bound_key = \(bind: boundKey)) \(keyless)
                RETURNING *
                """
            ).first(decoding: RefreshTokenRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func refreshToken(hash: String) async throws -> RefreshTokenRecord? {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM refresh_tokens WHERE token_hash = \(bind: hash)")
                .first(decoding: RefreshTokenRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func revokeFamily(_ familyId: String, now: Int64) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                "UPDATE refresh_tokens SET revoked_at_ms = \(bind: now) WHERE family_id = \(bind: familyId) AND revoked_at_ms IS NULL"
            ).run()
        }
    }

    public func revokeRefreshTokens(ofUser userId: String, now: Int64) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                "UPDATE refresh_tokens SET revoked_at_ms = \(bind: now) WHERE user_id = \(bind: userId) AND revoked_at_ms IS NULL"
            ).run()
        }
    }

    public func deleteRefreshTokens(ofUser userId: String) async throws {
        try await database.withSQL { sql in
            try await sql.raw("DELETE FROM refresh_tokens WHERE user_id = \(bind: userId)").run()
        }
    }

    public func addRevocation(_ revocation: RevocationRecord) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                INSERT INTO token_revocations (id, kind, value, user_id, expires_at_ms, created_at_ms)
                VALUES (\(bind: revocation.id), \(bind: revocation.kind.rawValue), \(bind: revocation.value), \(bind: revocation.userId),
                        \(bind: revocation.expiresAtMs), \(bind: revocation.createdAtMs))
                ON CONFLICT (id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
                """
            ).run()
        }
    }

    /// Every revocation still in force.
    public func liveRevocations(now: Int64) async throws -> [RevocationRecord] {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM token_revocations WHERE expires_at_ms > \(bind: now)")
                .all(decoding: RevocationRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Drops revocations and refresh tokens that can no longer matter.
    public func purgeExpired(now: Int64) async throws {
        try await database.withSQL { sql in
            try await sql.raw("DELETE FROM token_revocations WHERE expires_at_ms <= \(bind: now)").run()
            try await sql.raw("DELETE FROM refresh_tokens WHERE expires_at_ms <= \(bind: now)").run()
        }
    }

    /// Requests counted today and this month (UTC), from the quota counters.
    public func requestCounts(userId: String, day: String, month: String) async throws -> (today: Int64, month: Int64) {
        try await database.withSQL { sql in
            let rows = try await sql.raw(
                """
                SELECT period, requests FROM quota_counters WHERE user_id = \(bind: userId) AND period IN (\(bind: day), \(bind: month))
                """
            ).all()
            var today: Int64 = 0
            var monthly: Int64 = 0
            for row in rows {
                let period = try row.decode(column: "period", as: String.self)
                let requests = try row.decode(column: "requests", as: Int64.self)
                if period == day { today = requests } else if period == month { monthly = requests }
            }
            return (today, monthly)
        }
    }
}
