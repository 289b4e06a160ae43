import Foundation
public import Generated
import SQLKit

extension GuestSettings {
    /// The settings with every omitted number at its default.
    public var filled: GuestSettings {
        GuestSettings(
            enabled: enabled, dailyQuota: dailyQuota ?? 10, monthlyQuota: monthlyQuota ?? 100,
            newPerAddressPerHour: newPerAddressPerHour ?? 5, newPerHour: newPerHour ?? 100, maxPerDay: maxPerDay ?? 1000)
    }
}

/// Limits on new users of an app, counted in the transaction that creates the user: the app's cap
/// on new users per hour, and for guests, per client address (an IPv6 client's /64) per hour, per
/// app per hour and per app per UTC day. Each is a counter row taken by one atomic statement that
/// adds one only while under the limit: a refusal rolls back the counters already taken and the
/// user, and N concurrent new users against a limit of L let exactly L through, on both databases
/// and across instances.
enum NewUserLimits {
    struct Refused: Error {
        /// `address`, `app` or `day` (guests), `cap` (the app's new users per hour).
        let scope: String
        let retryAfter: Int64
    }

    struct Limit {
        var scope: String
        var key: String
        var limit: Int64
        var ends: Int64
    }

    static let hourMs: Int64 = 3_600_000
    static let dayMs: Int64 = 86_400_000

    /// The app's cap on new users per hour, if it has one.
    static func cap(_ app: AppRecord, now: Int64) -> [Limit] {
        guard let perHour = app.caps?.newUsersPerHour else { return [] }
        return [Limit(scope: "cap", key: "u|\(app.appId)|\(now / hourMs)", limit: perHour, ends: (now / hourMs + 1) * hourMs)]
    }

    /// The guests' own limits.
    static func guests(app: String, address: String, settings: GuestSettings, now: Int64) -> [Limit] {
        let hourEnds = (now / hourMs + 1) * hourMs
        let settings = settings.filled
        let counted = IPAddress(address).map { $0.limitKey.description } ?? address
        return [
            Limit(scope: "address", key: "a|\(app)|\(counted)|\(now / hourMs)", limit: settings.newPerAddressPerHour!, ends: hourEnds),
            Limit(scope: "app", key: "h|\(app)|\(now / hourMs)", limit: settings.newPerHour!, ends: hourEnds),
            Limit(scope: "day", key: "d|\(app)|\(now / dayMs)", limit: settings.maxPerDay!, ends: (now / dayMs + 1) * dayMs),
        ]
    }

    /// Takes one new user from each limit, or throws `Refused` (the caller's transaction then
    /// rolls back what was taken).
    static func take(_ limits: [Limit], now: Int64, on sql: any SQLDatabase) async throws {
        for limit in limits {
            let row = try await sql.raw(
                """
                INSERT INTO new_user_counters (counter_key, taken, expires_at_ms) VALUES (\(bind: limit.key), 1, \(bind: limit.ends))
                ON CONFLICT (counter_key) DO UPDATE SET taken = new_user_counters.taken + 1
                WHERE new_user_counters.taken < \(bind: limit.limit)
                RETURNING taken
                """
            ).first()
            guard let row, try row.decode(column: "taken", as: Int64.self) <= limit.limit else {
                throw Refused(scope: limit.scope, retryAfter: max(1, (limit.ends - now + 999) / 1000))
            }
        }
        // Windows that ended are of no use: swept now and then, by the request that happens by.
        if !limits.isEmpty && Int.random(in: 0..<64) == 0 {
            try await sql.raw("DELETE FROM new_user_counters WHERE expires_at_ms < \(bind: now)").run()
        }
    }
}
