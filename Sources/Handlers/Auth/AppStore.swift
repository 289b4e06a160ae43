import Foundation
public import Generated
import SQLKit

/// A registered app. `secretHash` is `sha256:<hex>`: the secret itself is never stored.
public struct AppRecord: Sendable, Equatable, Codable {
    public var appId: String
    public var name: String
    public var description: String?
    public var secretHash: String
    public var active: Bool
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var secretRotatedAtMs: Int64
    /// The JSON of the identity providers it trusts (`identityProviders`).
    public var identityProvidersJson: String? = nil
    /// The JSON of its guest settings (`guests`).
    public var guestSettingsJson: String? = nil
    /// The JSON of its app-wide caps (`caps`).
    public var capsJson: String? = nil
    /// Every token of the app must be bound to a key (RFC 9449).
    public var requireDpop: Bool = false

    /// The identity providers whose tokens `POST /auth/exchange` accepts for this app.
    public var identityProviders: [IdentityProvider]? { AppSetting.decode(identityProvidersJson) }
    /// Guest users per install (`POST /auth/install`); nil: never set, so off.
    public var guests: GuestSettings? { AppSetting.decode(guestSettingsJson) }
    /// The app-wide caps; nil: none.
    public var caps: AppCaps? { AppSetting.decode(capsJson) }
}

/// An app's settings kept as JSON in a column of `apps`, each replaced whole by its admin route.
public enum AppSetting: String, Sendable {
    case identityProviders = "identity_providers_json"
    case guests = "guest_settings_json"
    case caps = "caps_json"

    static func decode<Value: Decodable>(_ json: String?) -> Value? {
        json.flatMap { try? JSONDecoder().decode(Value.self, from: Data($0.utf8)) }
    }
}

/// The `apps` table.
public struct AppStore: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// Registers an app and returns it with its secret, which is never stored (only its hash).
    /// Used by `POST /admin/apps` and `safeapi-bridge create-app`, each of which checks the spec's
    /// `CreateAppRequest` constraints first.
    public func register(name: String, description: String?, appId: String?) async throws -> (app: AppRecord, secret: String) {
        let secret = Credentials.newAppSecret()
        let now = Millis.now()
        let record = AppRecord(
            appId: appId ?? "app_" + Credentials.newId(), name: name, description: description,
            secretHash: Credentials.hash(secret), active: true, createdAtMs: now, updatedAtMs: now, secretRotatedAtMs: now
        )
        guard try await insert(record) else { throw AppError.appExists }
        return (record, secret)
    }

    /// Inserts the app; false when the id is taken.
    public func insert(_ app: AppRecord) async throws -> Bool {
        try await database.withSQL { sql in
            let row = try await sql.raw(
                """
                INSERT INTO apps (app_id, name, description, secret_hash, active, created_at_ms, updated_at_ms, secret_rotated_at_ms)
                VALUES (\(bind: app.appId), \(bind: app.name), \(bind: app.description), \(bind: app.secretHash), \(bind: app.active),
                        \(bind: app.createdAtMs), \(bind: app.updatedAtMs), \(bind: app.secretRotatedAtMs))
                ON CONFLICT (app_id) DO NOTHING
                RETURNING app_id
                """
            ).first()
            return row != nil
        }
    }

    public func get(_ appId: String) async throws -> AppRecord? {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM apps WHERE app_id = \(bind: appId)").first(
                decoding: AppRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func list() async throws -> [AppRecord] {
        try await database.withSQL { sql in
            try await sql.raw("SELECT * FROM apps ORDER BY created_at_ms DESC, app_id").all(
                decoding: AppRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Applies the fields that are not nil; nil when there is no such app.
    public func update(_ appId: String, name: String?, description: String?, active: Bool?, requireDPoP: Bool? = nil, now: Int64)
        async throws -> AppRecord?
    {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE apps SET
                    name = COALESCE(\(bind: name), name),
                    description = COALESCE(\(bind: description), description),
                    active = COALESCE(\(bind: active), active),
                    require_dpop = COALESCE(\(bind: requireDPoP), require_dpop),
                    updated_at_ms = \(bind: now)
                WHERE app_id = \(bind: appId)
                RETURNING *
                """
            ).first(decoding: AppRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public func replaceSecret(_ appId: String, secretHash: String, now: Int64) async throws -> AppRecord? {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE apps SET secret_hash = \(bind: secretHash), secret_rotated_at_ms = \(bind: now), updated_at_ms = \(bind: now)
                WHERE app_id = \(bind: appId)
                RETURNING *
                """
            ).first(decoding: AppRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    public enum DeleteOutcome: Sendable, Equatable { case deleted, notFound, hasUsers }

    /// Deletes an app without users, in one statement so a user created meanwhile cannot be orphaned.
    public func delete(_ appId: String) async throws -> DeleteOutcome {
        try await database.withSQL { sql in
            let deleted = try await sql.raw(
                """
                DELETE FROM apps WHERE app_id = \(bind: appId)
                AND NOT EXISTS (SELECT 1 FROM users WHERE users.app_id = \(bind: appId))
                RETURNING app_id
                """
            ).first()
            if deleted != nil { return .deleted }
            let exists = try await sql.raw("SELECT 1 AS one FROM apps WHERE app_id = \(bind: appId)").first()
            return exists == nil ? .notFound : .hasUsers
        }
    }

    /// Replaces one of an app's settings (nil clears it); false when there is no such app.
    public func set(_ setting: AppSetting, _ value: (some Encodable)?, of appId: String, now: Int64) async throws -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = try value.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        let column = SQLQueryString(stringLiteral: setting.rawValue)  // a fixed name, never input
        return try await database.withSQL { sql in
            try await sql.raw(
                "UPDATE apps SET \(column) = \(bind: json), updated_at_ms = \(bind: now) WHERE app_id = \(bind: appId) RETURNING app_id"
            ).first() != nil
        }
    }

    /// Every app's caps, for the in-memory copy the proxy's admission reads (`AppCapLedger`).
    public func allCaps() async throws -> [String: AppCaps] {
        let rows = try await database.withSQL { sql in
            try await sql.raw("SELECT app_id, caps_json FROM apps WHERE caps_json IS NOT NULL").all().map {
                (try $0.decode(column: "app_id", as: String.self), try $0.decode(column: "caps_json", as: String.self))
            }
        }
        var caps: [String: AppCaps] = [:]
        for (appId, json) in rows { caps[appId] = AppSetting.decode(json) }
        return caps
    }

    /// The identity-provider namespaces other apps use: user ids are global, so a namespace names
    /// one app's users only.
    public func namespacesInUse(besides appId: String) async throws -> Set<String> {
        let lists = try await database.withSQL { sql in
            try await sql.raw(
                "SELECT identity_providers_json FROM apps WHERE identity_providers_json IS NOT NULL AND app_id <> \(bind: appId)"
            ).all().map { try $0.decode(column: "identity_providers_json", as: String.self) }
        }
        return Set(lists.flatMap { (AppSetting.decode($0) as [IdentityProvider]?) ?? [] }.map(\.namespace))
    }
}
