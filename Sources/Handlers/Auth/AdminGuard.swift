import Crypto
import Foundation
public import Logging
import Synchronization

/// Checks `X-Admin-Key` in constant time and throttles guessing without locking out the operator.
///
/// The right key is always accepted, whatever the address has done: a lockout keyed by
/// address alone let anyone who shares the operator's address (a NAT, a load balancer without
/// `TRUSTED_PROXIES`) lock the operator out with five requests. Wrong keys are throttled: after 5
/// wrong keys from one address within 15 minutes (the right key forgives those before it), that
/// address's wrong keys get 429 with `Retry-After` for 15 minutes; after 1 000 wrong keys within
/// a minute from all addresses together, every wrong key gets 429 for a minute. A request with no
/// key is not a guess: 401, never counted. While throttled, every key from there (the right one
/// too) is compared only after `failureHold` (1 s), so a guess takes a second and an open
/// connection, and connections are capped per address and in total: at most
/// `MAX_CONNECTIONS_PER_ADDRESS` guesses a second from one address. What makes guessing infeasible is the key itself: production requires at least 32
/// random characters, and at a million guesses a second a 128-bit key outlasts the universe.
/// The state is per instance, in memory, like the rate limits (docs/auth.md).
public final class AdminGuard: Sendable {
    public static let maximumFailures = 5
    public static let window: Duration = .seconds(15 * 60)
    public static let lockout: Duration = .seconds(15 * 60)
    public static let maximumTotalFailures = 1000
    public static let totalWindow: Duration = .seconds(60)

    private struct Record {
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
    }

    private struct State {
        var addresses: [String: Record] = [:]
        /// Failures from every address in the minute that began at `minuteStart`.
        var minuteStart: ContinuousClock.Instant?
        var minuteFailures = 0
        var allLockedUntil: ContinuousClock.Instant?
    }

    private let keyDigest: [UInt8]?
    /// A short, non-secret fingerprint of the key, for audit logs.
    public let keyId: String?
    private let state = Mutex(State())
    private let failureHold: Duration
    private let logger: Logger

    public init(adminKey: Secret<String>?, failureHold: Duration = .seconds(1), logger: Logger) {
        self.keyDigest = adminKey.map { Array(SHA256.hash(data: Data($0.value.utf8))) }
        self.keyId = keyDigest.map { "admin-" + Hex.encode($0.prefix(4)) }
        self.failureHold = failureHold
        self.logger = logger
    }

    /// The key's fingerprint when `presented` is the admin key; otherwise throws the error to
    /// answer. While the address (or everyone) is throttled, a key is compared only after
    /// `failureHold`: the right key is delayed, never refused, and a guesser cannot learn
    /// faster than that whether a key was right (an answer held only when wrong would tell at once).
    public func authorize(presented: String?, clientIP: String) async throws(AppError) -> String {
        if presented?.isEmpty == false, isThrottled(clientIP, now: .now) { try? await Task.sleep(for: failureHold) }
        return try check(presented: presented, clientIP: clientIP, now: .now)
    }

    func isThrottled(_ ip: String, now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            [state.addresses[ip]?.lockedUntil, state.allLockedUntil].contains { ($0 ?? now) > now }
        }
    }

    /// The decision, without the hold.
    func check(presented: String?, clientIP: String, now: ContinuousClock.Instant) throws(AppError) -> String {
        guard let keyDigest, let keyId else { throw .adminDisabled }
        // No key is no guess: it is refused, never counted nor throttled.
        guard let presented, !presented.isEmpty else {
            logger.info(
                "security: admin request without a key", metadata: ["security.event": "admin_key_missing", "client.ip": .string(clientIP)])
            throw .adminKeyRequired
        }
        if Credentials.constantTimeEquals(Array(SHA256.hash(data: Data(presented.utf8))), keyDigest) {
            // The address's failures so far are forgiven (typos); a throttle in force stays.
            state.withLock { $0.addresses[clientIP]?.failures = [] }
            return keyId
        }
        if let remaining = recordFailure(clientIP, now: now) {
            throw .adminLockedOut(retryAfter: remaining)
        }
        throw .invalidAdminKey
    }

    /// Records a failure; answers the seconds left when the address (or everyone) was already
    /// throttled before it.
    private func recordFailure(_ ip: String, now: ContinuousClock.Instant) -> Int64? {
        let (until, lockedNow, allLockedNow) = state.withLock { state -> (ContinuousClock.Instant?, Bool, Bool) in
            var record = state.addresses[ip] ?? Record()
            if let until = record.lockedUntil, until <= now { record = Record() }
            if let until = state.allLockedUntil, until <= now { state.allLockedUntil = nil }
            let throttledUntil = [record.lockedUntil, state.allLockedUntil].compactMap { $0 }.max()
            var lockedNow = false
            if record.lockedUntil == nil {
                record.failures = record.failures.filter { now - $0 < Self.window } + [now]
                if record.failures.count >= Self.maximumFailures {
                    record.lockedUntil = now + Self.lockout
                    record.failures = []
                    lockedNow = true
                }
            }
            state.addresses[ip] = record
            if let start = state.minuteStart, now - start < Self.totalWindow {
                state.minuteFailures += 1
            } else {
                (state.minuteStart, state.minuteFailures) = (now, 1)
            }
            var allLockedNow = false
            if state.allLockedUntil == nil, state.minuteFailures >= Self.maximumTotalFailures {
                state.allLockedUntil = now + Self.totalWindow
                allLockedNow = true
            }
            // Bounded: forget addresses whose failures have all aged out.
            if state.addresses.count > 10_000 {
                state.addresses = state.addresses.filter {
                    ($0.value.lockedUntil ?? now) > now || $0.value.failures.contains { now - $0 < Self.window }
                }
            }
            return (throttledUntil, lockedNow, allLockedNow)
        }
        logger.warning(
            "security: admin authentication failed", metadata: ["security.event": "admin_key_invalid", "client.ip": .string(ip)])
        if lockedNow {
            logger.warning(
                "security: wrong admin keys from this address are now throttled",
                metadata: ["security.event": "admin_lockout", "client.ip": .string(ip)])
        }
        if allLockedNow {
            logger.warning(
                "security: too many wrong admin keys in total; every wrong key is throttled for a minute",
                metadata: ["security.event": "admin_lockout_all"])
        }
        guard let until else { return nil }
        let remaining = until - now
        return max(1, remaining.components.seconds + (remaining.components.attoseconds > 0 ? 1 : 0))
    }
}
