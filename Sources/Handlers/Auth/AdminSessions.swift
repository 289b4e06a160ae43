import Crypto
public import Foundation
import SQLKit

/// The admin dashboard's sessions. The admin key buys one (through `AdminGuard`, so wrong keys
/// count toward its lockout): a random token for an HttpOnly cookie, of which the database keeps
/// only the SHA-256, with the fingerprint of the key and an expiry. Its CSRF token is derived, not
/// stored: an HMAC of the session token under a key derived from the JWT secret, so a page that
/// cannot read the cookie cannot make it. A session ends at its expiry, at sign-out (the row goes,
/// on every instance), and when `ADMIN_API_KEY` changes (its fingerprint no longer matches).
public struct AdminSessions: Sendable {
    public static let cookieName = "safeapi_session"
    public static let lifetime: Duration = .seconds(30 * 60)

    let database: any Database
    let guardian: AdminGuard
    private let csrfKey: SymmetricKey

    public init(database: any Database, guardian: AdminGuard, jwtSecret: Secret<String>) {
        self.database = database
        self.guardian = guardian
        self.csrfKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(jwtSecret.value.utf8)), info: Data("safeapi-bridge/dashboard-csrf/v1".utf8),
            outputByteCount: 32)
    }

    public struct Opened: Sendable {
        public let keyId: String
        public let token: String
        public let csrfToken: String
        public let expiresAt: Date
    }

    /// A new session for the admin key, or the guard's refusal (missing, wrong, throttled, disabled).
    public func open(adminKey: String, clientIP: String) async throws -> Opened {
        let keyId = try await guardian.authorize(presented: adminKey, clientIP: clientIP)
        let token = Credentials.newId() + Credentials.newId()
        let now = Millis.now()
        let expires = now + Self.lifetime.milliseconds
        try await database.withSQL { sql in
            // Expired sessions go as new ones come: the table holds only live ones and a few more.
            try await sql.raw("DELETE FROM admin_sessions WHERE expires_at_ms <= \(bind: now)").run()
            try await sql.raw(
                """
                INSERT INTO admin_sessions (id, key_id, created_at_ms, expires_at_ms) \
                VALUES (\(bind: Credentials.hash(token)), \(bind: keyId), \(bind: now), \(bind: expires))
                """
            ).run()
        }
        return Opened(keyId: keyId, token: token, csrfToken: csrfToken(for: token), expiresAt: Millis.date(expires))
    }

    /// The session's key fingerprint and expiry when `token` names a live session of the current
    /// key and, when `requireCSRF`, `csrf` is its CSRF token. Throws `AppError` for a refusal, and
    /// the database's error when it cannot be asked.
    public func check(token: String, requireCSRF: Bool, csrf: String?) async throws -> (keyId: String, expiresAt: Date) {
        guard let current = guardian.keyId else { throw AppError.adminDisabled }
        let row = try await database.withSQL { sql in
            try await sql.raw(
                "SELECT key_id, expires_at_ms FROM admin_sessions WHERE id = \(bind: Credentials.hash(token)) AND expires_at_ms > \(bind: Millis.now())"
            ).first().map {
                (keyId: try $0.decode(column: "key_id", as: String.self), expires: try $0.decode(column: "expires_at_ms", as: Int64.self))
            }
        }
        guard let row, row.keyId == current else { throw AppError.sessionInvalid }
        if requireCSRF {
            guard let csrf, Credentials.constantTimeEquals(Array(csrf.utf8), Array(csrfToken(for: token).utf8)) else {
                throw AppError.csrfInvalid
            }
        }
        return (row.keyId, Millis.date(row.expires))
    }

    /// Ends the session everywhere.
    public func close(token: String) async throws {
        try await database.withSQL { sql in
            try await sql.raw("DELETE FROM admin_sessions WHERE id = \(bind: Credentials.hash(token))").run()
        }
    }

    public func csrfToken(for token: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(("csrf:" + token).utf8), using: csrfKey))
    }
}
