import Crypto
import Foundation
public import Logging
import Synchronization

/// Checks `X-Admin-Key` in constant time and locks out an IP after repeated failures: 5 failures
/// within 15 minutes lock that IP out of admin routes for 15 minutes (429 with Retry-After).
/// Successful calls are never throttled, and a success clears the IP's failures. The state is per
/// instance, in memory, like the rate limits (docs/limits.md).
public final class AdminGuard: Sendable {
    public static let maximumFailures = 5
    public static let window: Duration = .seconds(15 * 60)
    public static let lockout: Duration = .seconds(15 * 60)

    private struct Record {
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
    }

    private let keyDigest: [UInt8]?
    /// A short, non-secret fingerprint of the key, for audit logs.
    public let keyId: String?
    private let records = Mutex<[String: Record]>([:])
    private let logger: Logger

    public init(adminKey: Secret<String>?, logger: Logger) {
        self.keyDigest = adminKey.map { Array(SHA256.hash(data: Data($0.value.utf8))) }
        self.keyId = keyDigest.map { "admin-" + Hex.encode($0.prefix(4)) }
        self.logger = logger
    }

    /// The key's fingerprint when `presented` is the admin key; otherwise throws the error to answer.
    public func authorize(presented: String?, clientIP: String, now: ContinuousClock.Instant = .now) throws(AppError) -> String {
        guard let keyDigest, let keyId else { throw .adminDisabled }
        if let remaining = lockedFor(clientIP, now: now) {
            logger.warning("security: admin request from a locked-out address", metadata: ["security.event": "admin_lockout_hit", "client.ip": .string(clientIP)])
            throw .adminLockedOut(retryAfter: remaining)
        }
        guard let presented, !presented.isEmpty else {
            recordFailure(clientIP, now: now, reason: "admin_key_missing")
            throw .adminKeyRequired
        }
        let digest = Array(SHA256.hash(data: Data(presented.utf8)))
        guard Credentials.constantTimeEquals(digest, keyDigest) else {
            recordFailure(clientIP, now: now, reason: "admin_key_invalid")
            throw .invalidAdminKey
        }
        records.withLock { _ = $0.removeValue(forKey: clientIP) }
        return keyId
    }

    private func lockedFor(_ ip: String, now: ContinuousClock.Instant) -> Int64? {
        records.withLock { records in
            guard let until = records[ip]?.lockedUntil else { return nil }
            guard until > now else {
                records[ip] = nil
                return nil
            }
            let remaining = until - now
            return max(1, remaining.components.seconds + (remaining.components.attoseconds > 0 ? 1 : 0))
        }
    }

    private func recordFailure(_ ip: String, now: ContinuousClock.Instant, reason: String) {
        let lockedNow: Bool = records.withLock { records in
            var record = records[ip] ?? Record()
            record.failures = record.failures.filter { now - $0 < Self.window } + [now]
            if record.failures.count >= Self.maximumFailures {
                record.lockedUntil = now + Self.lockout
                record.failures = []
                records[ip] = record
                return true
            }
            records[ip] = record
            // Bounded: forget addresses whose failures have all aged out.
            if records.count > 10_000 {
                records = records.filter { $0.value.lockedUntil != nil || $0.value.failures.contains { now - $0 < Self.window } }
            }
            return false
        }
        logger.warning("security: admin authentication failed", metadata: ["security.event": .string(reason), "client.ip": .string(ip)])
        if lockedNow {
            logger.warning("security: address locked out of admin routes", metadata: ["security.event": "admin_lockout", "client.ip": .string(ip)])
        }
    }
}
