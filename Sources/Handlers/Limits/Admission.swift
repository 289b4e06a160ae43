public import Generated
public import Logging

/// The admission stage: whether a call may go upstream. The user's rate (in memory), the split
/// key's budgets (one read), then the quota, which counts the call: it is the last check, so a
/// call refused for any other reason is never counted.
public struct Admission: Sendable {
    let quotas: QuotaLedger?
    let userLimiter: RateLimiter?
    let logger: Logger

    public init(quotas: QuotaLedger?, userLimiter: RateLimiter?, logger: Logger) {
        self.quotas = quotas
        self.userLimiter = userLimiter
        self.logger = logger
    }

    /// Admits one call of `userId`, or throws `rateLimited` or `quotaExceeded`. Returns the
    /// tightest standing of the limits it passed (nil: no limit applies).
    public func admit(userId: String, splitKey: (id: String, budgets: Budgets)?) async throws -> LimitStanding? {
        if let splitKey { try await quotas?.checkSplitKey(userId: userId, keyId: splitKey.id, budgets: splitKey.budgets) }
        var rate: LimitStanding?
        if let userLimiter {
            let decision = userLimiter.admit("user:" + userId)
            guard decision.allowed else {
                logger.info(
                    "security: rate limit hit",
                    metadata: ["security.event": "rate_limited", "limit.scope": "user", "user.id": .string(userId)])
                throw AppError.rateLimited(retryAfter: decision.standing.resetSeconds, limit: decision.standing.limit)
            }
            rate = decision.standing
        }
        guard let quotas else { return rate }
        return try await quotas.admit(userId: userId).tighter(rate)
    }
}
