public import Foundation
public import Generated
public import Logging

/// The admission stage: whether a call may go upstream. The user's rate (in memory), the split
/// key's budgets (one read), then the user's quota and the app's caps, which count the call: they
/// are the last checks, so a call refused for any other reason is never counted, and a call the
/// app's caps refuse gives the user's count back.
public struct Admission: Sendable {
    let quotas: QuotaLedger?
    let appCaps: AppCapLedger?
    let userLimiter: RateLimiter?
    let logger: Logger

    public init(quotas: QuotaLedger?, appCaps: AppCapLedger? = nil, userLimiter: RateLimiter?, logger: Logger) {
        self.quotas = quotas
        self.appCaps = appCaps
        self.userLimiter = userLimiter
        self.logger = logger
    }

    /// Admits one call of `userId` of `appId`, or throws `rateLimited` or `quotaExceeded`. Returns
    /// the tightest standing of the limits it passed (nil: no limit applies).
    public func admit(userId: String, appId: String, splitKey: (id: String, budgets: Budgets)?, now: Date = Date()) async throws
        -> LimitStanding?
    {
        if let splitKey { try await quotas?.checkSplitKey(userId: userId, keyId: splitKey.id, budgets: splitKey.budgets, now: now) }
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
        let counted = try await quotas.countCall(userId: userId, now: now)
        let app: LimitStanding?
        do {
            app = try await appCaps?.admit(appId: appId, now: now)
        } catch {
            try? await quotas.giveBack(userId: userId, now: now)
            throw error
        }
        // Only a call that stays counted announces the user's 80 % mark.
        await quotas.announce(counted)
        let standing = counted.standing.tighter(rate)
        return app.map { standing.tighter($0) } ?? standing
    }
}
