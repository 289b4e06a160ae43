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

/// The limits on new guests of an app: per client address (an IPv6 client's /64) per hour, per app per hour, per app per
/// UTC day. Each is a counter row taken by one atomic statement that adds one only while under the
/// limit, inside the transaction that creates the guest: a refusal rolls back the counters already
/// taken, and N concurrent new guests against a limit of L let exactly L through, on both databases
/// and across instances.
enum GuestLimits {
    struct Refused: Error {
        /// `address`, `app` or `day`.
        let scope: String
        let retryAfter: Int64
    }

    static let hourMs: Int64 = 3_600_000
    static let dayMs: Int64 = 86_400_000

    /// Takes one new guest from each limit, or throws `Refused` (the caller's transaction then
    /// rolls back what was taken).
    static func take(app: String, address: String, settings: GuestSettings, now: Int64, on sql: any SQLDatabase) async throws {
        let hourEnds = (now / hourMs + 1) * hourMs
        let dayEnds = (now / dayMs + 1) * dayMs
        let settings = settings.filled
        let counted = IPAddress(address).map { $0.limitKey.description } ?? address
        let limits: [(scope: String, key: String, limit: Int64, ends: Int64)] = [
            ("address", "a|\(app)|\(counted)|\(now / hourMs)", settings.newPerAddressPerHour!, hourEnds),
            ("app", "h|\(app)|\(now / hourMs)", settings.newPerHour!, hourEnds),
            ("day", "d|\(app)|\(now / dayMs)", settings.maxPerDay!, dayEnds),
        ]
        for limit in limits {
            let row = try await sql.raw(
                """
                INSERT INTO guest_counters (counter_key, taken, expires_at_ms) VALUES (\(bind: limit.key), 1, \(bind: limit.ends))
                ON CONFLICT (counter_key) DO UPDATE SET taken = guest_counters.taken + 1
                WHERE guest_counters.taken < \(bind: limit.limit)
                RETURNING taken
                """
            ).first()
            guard let row, try row.decode(column: "taken", as: Int64.self) <= limit.limit else {
                throw Refused(scope: limit.scope, retryAfter: max(1, (limit.ends - now + 999) / 1000))
            }
        }
        // Windows that ended are of no use: swept now and then, by the request that happens by.
        if Int.random(in: 0..<64) == 0 {
            try await sql.raw("DELETE FROM guest_counters WHERE expires_at_ms < \(bind: now)").run()
        }
    }
}
