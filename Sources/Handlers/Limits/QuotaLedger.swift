public import Foundation
public import Generated
public import SQLKit

/// Token and cost budgets of a user or a split key (the spec's `Budgets`); nil means none.
extension Budgets {
    public var isEmpty: Bool { self == Budgets() }

    func tokens(_ period: QuotaPeriod) -> Int64? { period == .day ? dailyTokens : monthlyTokens }
    func costMicros(_ period: QuotaPeriod) -> Int64? { period == .day ? dailyCostMicros : monthlyCostMicros }
}

/// The UTC day or month a counter row belongs to, and when it ends.
public struct QuotaWindow: Sendable, Equatable {
    public let period: QuotaPeriod
    /// The counter row's `period` key (`d:2026-11-29`, `m:2026-11`).
    public let key: String
    public let resetAt: Date

    public static func current(_ period: QuotaPeriod, at now: Date) -> QuotaWindow {
        switch period {
        case .day:
            return QuotaWindow(period: .day, key: QuotaPeriodKey.day(now), resetAt: QuotaPeriodKey.nextDay(after: now))
        case .month:
            return QuotaWindow(period: .month, key: QuotaPeriodKey.month(now), resetAt: QuotaPeriodKey.nextMonth(after: now))
        }
    }

    /// Whole seconds until the reset, at least 1.
    public func secondsLeft(from now: Date) -> Int64 { max(1, Int64(resetAt.timeIntervalSince(now).rounded(.up))) }

    struct Columns {
        var requests: String
        var tokens: String
        var cost: String
    }

    /// The `users` columns that hold a window's limits. Fixed names, never input.
    static func userColumns(_ period: QuotaPeriod) -> Columns {
        period == .day
            ? Columns(requests: "daily_quota", tokens: "daily_token_budget", cost: "daily_cost_budget_micros")
            : Columns(requests: "monthly_quota", tokens: "monthly_token_budget", cost: "monthly_cost_budget_micros")
    }

    var userColumns: Columns { Self.userColumns(period) }
}

/// Where an admitted request stands against its tightest request quota: what the `RateLimit-*`
/// headers of the response say.
public struct LimitStanding: Sendable, Equatable {
    public var limit: Int64
    public var remaining: Int64
    public var resetSeconds: Int64

    public init(limit: Int64, remaining: Int64, resetSeconds: Int64) {
        self.limit = limit
        self.remaining = remaining
        self.resetSeconds = resetSeconds
    }

    /// The tighter of two standings (fewer left; on a tie, the later reset).
    public func tighter(_ other: LimitStanding?) -> LimitStanding {
        guard let other else { return self }
        if other.remaining != remaining { return other.remaining < remaining ? other : self }
        return other.resetSeconds > resetSeconds ? other : self
    }
}

/// Quota admission (DESIGN.md, "Quotas and budgets"). A proxied request is counted only while the
/// user is under the request quota and under any token and cost budget, by atomic upserts into
/// the UTC day's and month's rows: requests waiting together are admitted by one statement
/// (`AdmissionBatch`), and what a batch cannot settle whole goes one request at a time, day then
/// month. So N concurrent requests against a quota of Q let exactly Q through, on SQLite and on
/// PostgreSQL, across any number of instances. A busy user's calls are admitted from blocks of
/// their quota leased by this instance (`QuotaLeases`), with no statement; a refusal while other
/// holders' blocks may still give requests back waits for them (at most four lease lifetimes),
/// so the count stays exact. Tokens and cost are charged when the response's usage is known (the usage
/// writer), so a budget can be passed by at most the requests in flight.
public struct QuotaLedger: UsageFollower {
    let database: any Database
    /// Read on the refusal path only, to say why.
    let users: UserStore
    /// `quota.warning` (80 %, once per period) and `quota.exceeded` (once per period and metric).
    let events: WebhookEvents?
    private let batch: AdmissionBatch
    private let leases: QuotaLeases

    /// `leaseLifetime` (`QUOTA_LEASE_MS`): a leased block goes back after this long without a call
    /// of its user, and after three times this in any case; zero: no leases.
    public init(
        database: any Database, users: UserStore, events: WebhookEvents? = nil, leaseLifetime: Duration = QuotaLedger.leaseLifetime
    ) {
        self.database = database
        self.users = users
        self.events = events
        self.leases = QuotaLeases(database: database, rules: QuotaLeases.Rules(lifetime: leaseLifetime))
        self.batch = AdmissionBatch(database: database, leases: leases)
    }

    /// The default lease lifetime.
    public static let leaseLifetime = Duration.milliseconds(100)

    /// Gives back what this instance's leased blocks did not hand out, and takes no more (the
    /// server is stopping).
    public func returnLeases() async { await leases.returnAll() }

    /// A call counted against a user's day and month, and the `quota.warning` events it earned,
    /// to send once nothing later gives the call back (`announce`).
    public struct Counted: Sendable {
        public let standing: LimitStanding
        /// Each event's data, and the key that makes it once per user and window.
        let warnings: [(data: [String: String], key: String)]
    }

    /// Counts the request and announces what it earned: `count`, then `announce`.
    public func admit(userId: String, now: Date = Date()) async throws -> LimitStanding {
        let counted = try await countCall(userId: userId, now: now)
        await announce(counted)
        return counted.standing
    }

    /// The `quota.warning` events of a counted call (the one call that takes a count to 80 % of a
    /// quota: counts are atomic, so exactly one call sees that number in a period).
    public func announce(_ counted: Counted) async {
        for warning in counted.warnings { await events?.emit(.quotaWarning, warning.data, onceFor: warning.key) }
    }

    /// Counts the request against the user's day and month, or throws `quotaExceeded` without
    /// counting it anywhere.
    public func countCall(userId: String, now: Date = Date()) async throws -> Counted {
        let day = QuotaWindow.current(.day, at: now)
        let month = QuotaWindow.current(.month, at: now)
        let (dayCount, monthCount) =
            switch leases.take(userId: userId, day: day, month: month) {
            case .handed(let dayCount, let monthCount): (dayCount, monthCount)
            case .none:
                if case .admitted(let dayCount, let monthCount) = await batch.admit(userId: userId, day: day, month: month) {
                    (dayCount, monthCount)
                } else {
                    try await countAlone(userId: userId, day: day, month: month, now: now)
                }
            case .returning: try await countAlone(userId: userId, day: day, month: month, now: now)
            }
        let marked = [(day, dayCount), (month, monthCount)].filter { $0.1.used == Self.warningMark($0.1.limit) }
        let standing = LimitStanding(
            limit: dayCount.limit, remaining: max(0, dayCount.limit - dayCount.used), resetSeconds: day.secondsLeft(from: now)
        )
        .tighter(
            LimitStanding(
                limit: monthCount.limit, remaining: max(0, monthCount.limit - monthCount.used), resetSeconds: month.secondsLeft(from: now)))
        return Counted(
            standing: standing,
            warnings: marked.map { window, counted in
                (
                    ["userId": userId, "period": window.period.rawValue, "limit": String(counted.limit), "used": String(counted.used)],
                    userId + "|" + window.key
                )
            })
    }

    /// One request at a time, day then month: near a limit, or when the batch's statement failed.
    /// A refusal waits for the blocks other holders may give back (as long as the database
    /// records a block as held: four lease lifetimes after it was taken, at most), so requests
    /// leased and left unused elsewhere are not refused.
    private func countAlone(userId: String, day: QuotaWindow, month: QuotaWindow, now: Date) async throws
        -> (AdmissionBatch.Counted, AdmissionBatch.Counted)
    {
        while true {
            switch leases.take(userId: userId, day: day, month: month, isNewCall: false) {
            case .handed(let dayCount, let monthCount): return (dayCount, monthCount)
            case .returning:
                await leases.returned(userId: userId)
                continue
            case .none: break
            }
            let refused: QuotaWindow
            if let dayCount = try await count(userId: userId, in: day) {
                if let monthCount = try await count(userId: userId, in: month) {
                    leases.record(
                        userId: userId, day: day, month: month, dayCount: dayCount.counted, monthCount: monthCount.counted,
                        leasable: dayCount.leasable, block: 0)
                    return (dayCount.counted, monthCount.counted)
                }
                try await giveBack(userId: userId, in: day)
                refused = month
            } else {
                refused = day
            }
            await leases.flush(userId: userId)
            guard let heldFor = try await leases.mayComeBack(userId: userId, window: refused) else {
                throw try await refusal(userId: userId, window: refused, now: now)
            }
            let lifetime = leases.rules.lifetime
            try await Task.sleep(for: heldFor < lifetime ? heldFor : lifetime)
        }
    }

    /// The count at which a limit is 80 % used (rounded up), when the warning events go out.
    static func warningMark(_ limit: Int64) -> Int64 { (limit * 8 + 9) / 10 }

    /// One atomic statement: +1 while under every limit of the window; nil when a limit refuses.
    private func count(userId: String, in window: QuotaWindow) async throws -> (counted: AdmissionBatch.Counted, leasable: Bool)? {
        let column = window.userColumns
        let requests = SQLQueryString(stringLiteral: column.requests)
        let tokens = SQLQueryString(stringLiteral: column.tokens)
        let cost = SQLQueryString(stringLiteral: column.cost)
        return try await database.withSQL { sql in
            guard
                let row = try await sql.raw(
                    """
                    INSERT INTO quota_counters (user_id, period, requests, tokens, cost_micros)
                    SELECT user_id, \(bind: window.key), 1, 0, 0 FROM users
                    WHERE user_id = \(bind: userId) AND \(requests) > 0 AND COALESCE(\(tokens), 1) > 0 AND COALESCE(\(cost), 1) > 0
                    ON CONFLICT (user_id, period) DO UPDATE SET requests = quota_counters.requests + 1
                    WHERE EXISTS (
                        SELECT 1 FROM users u WHERE u.user_id = quota_counters.user_id
                        AND quota_counters.requests < u.\(requests)
                        AND (u.\(tokens) IS NULL OR quota_counters.tokens < u.\(tokens))
                        AND (u.\(cost) IS NULL OR quota_counters.cost_micros < u.\(cost)))
                    RETURNING requests, (SELECT u.\(requests) FROM users u WHERE u.user_id = quota_counters.user_id) AS quota_limit,
                        \(AdmissionBatch.leasable)
                    """
                ).first()
            else { return nil }
            return (
                AdmissionBatch.Counted(
                    used: try row.decode(column: "requests", as: Int64.self), limit: try row.decode(column: "quota_limit", as: Int64.self)),
                try row.decode(column: "leasable", as: Int64.self) == 1
            )
        }
    }

    /// Gives back a call counted by `admit` at `now` (a later stage refused it).
    func giveBack(userId: String, now: Date) async throws {
        try await giveBack(userId: userId, in: .current(.day, at: now))
        try await giveBack(userId: userId, in: .current(.month, at: now))
    }

    private func giveBack(userId: String, in window: QuotaWindow) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE quota_counters SET requests = requests - 1
                WHERE user_id = \(bind: userId) AND period = \(bind: window.key) AND requests > 0
                """
            ).run()
        }
    }

    /// Why the window refused: read only on the refusal path.
    private func refusal(userId: String, window: QuotaWindow, now: Date) async throws -> AppError {
        guard let user = try await users.get(userId) else { return .userInactive }
        let used = try await usage(userId: userId, keys: [window.key])[window.key] ?? CounterRow()
        let budgets = user.budgets
        let breach: QuotaBreach
        let limit = window.period == .day ? user.dailyQuota : user.monthlyQuota
        if used.requests >= limit {
            breach = Self.breach(.requests, window, limit: limit, used: used.requests, scope: .user)
        } else if let tokens = budgets.tokens(window.period), used.tokens >= tokens {
            breach = Self.breach(.tokens, window, limit: tokens, used: used.tokens, scope: .user)
        } else if let cost = budgets.costMicros(window.period), used.costMicros >= cost {
            breach = Self.breach(.costMicros, window, limit: cost, used: used.costMicros, scope: .user)
        } else {
            // A concurrent request took the last unit between the two statements.
            breach = Self.breach(.requests, window, limit: limit, used: max(used.requests, limit), scope: .user)
        }
        await events?.emit(
            .quotaExceeded,
            [
                "userId": userId, "period": window.period.rawValue, "metric": breach.metric.rawValue, "limit": String(breach.limit),
            ], onceFor: userId + "|" + window.key + "|" + breach.metric.rawValue)
        return .quotaExceeded(breach, retryAfter: window.secondsLeft(from: now))
    }

    static func breach(_ metric: QuotaBreach.Metric, _ window: QuotaWindow, limit: Int64, used: Int64, scope: QuotaBreach.Scope)
        -> QuotaBreach
    {
        QuotaBreach(
            metric: metric, period: window.period, scope: scope, limit: limit, used: used, remaining: max(0, limit - used),
            resetAt: window.resetAt)
    }

    struct CounterRow: Sendable, Decodable {
        var requests: Int64 = 0
        var tokens: Int64 = 0
        var costMicros: Int64 = 0
    }

    func usage(userId: String, keys: [String]) async throws -> [String: CounterRow] {
        try await database.withSQL { sql in
            var result: [String: CounterRow] = [:]
            for row in try await sql.raw(
                "SELECT period, requests, tokens, cost_micros FROM quota_counters WHERE user_id = \(bind: userId) AND period IN (\(binds: keys))"
            ).all() {
                result[try row.decode(column: "period", as: String.self)] = CounterRow(
                    requests: try row.decode(column: "requests", as: Int64.self),
                    tokens: try row.decode(column: "tokens", as: Int64.self),
                    costMicros: try row.decode(column: "cost_micros", as: Int64.self)
                )
            }
            return result
        }
    }

    /// Refuses a split key whose token or cost budget for the day or month is used up. A read, not
    /// a count: the key's counters grow only by the usage charged after each response.
    public func checkSplitKey(userId: String, keyId: String, budgets: Budgets, now: Date = Date()) async throws {
        guard !budgets.isEmpty else { return }
        let windows = [QuotaWindow.current(.day, at: now), QuotaWindow.current(.month, at: now)]
        let rows = try await database.withSQL { sql in
            try await sql.raw(
                """
                SELECT period, tokens, cost_micros FROM split_key_counters
                WHERE user_id = \(bind: userId) AND key_id = \(bind: keyId) AND period IN (\(binds: windows.map(\.key)))
                """
            ).all()
        }
        var used: [String: (tokens: Int64, cost: Int64)] = [:]
        for row in rows {
            used[try row.decode(column: "period", as: String.self)] = (
                try row.decode(column: "tokens", as: Int64.self), try row.decode(column: "cost_micros", as: Int64.self)
            )
        }
        for window in windows {
            let spent = used[window.key] ?? (0, 0)
            if let limit = budgets.tokens(window.period), spent.tokens >= limit {
                throw AppError.quotaExceeded(
                    Self.breach(.tokens, window, limit: limit, used: spent.tokens, scope: .splitKey),
                    retryAfter: window.secondsLeft(from: now))
            }
            if let limit = budgets.costMicros(window.period), spent.cost >= limit {
                throw AppError.quotaExceeded(
                    Self.breach(.costMicros, window, limit: limit, used: spent.cost, scope: .splitKey),
                    retryAfter: window.secondsLeft(from: now))
            }
        }
    }

    /// Charges the tokens and cost of a batch of usage rows to their users' and split keys' day
    /// and month (called by the usage writer, off the request path).
    public func follow(_ rows: [UsageRecord], on sql: any SQLDatabase) async throws {
        try await QuotaCharges(rows).apply(on: sql)
    }

    /// The caller's standing for `GET /api/me/quota`.
    public func standing(of user: UserRecord, now: Date = Date()) async throws -> MyQuota {
        let day = QuotaWindow.current(.day, at: now)
        let month = QuotaWindow.current(.month, at: now)
        // This instance's leased requests not handed out yet are not used (a block holds the same
        // requests in the day and the month).
        let (rows, unused) = try await leases.consistent(userId: user.userId, window: day) {
            try await usage(userId: user.userId, keys: [day.key, month.key])
        }
        func state(_ window: QuotaWindow, requestLimit: Int64) -> QuotaPeriodState {
            var used = rows[window.key] ?? CounterRow()
            used.requests = max(0, used.requests - unused)
            let counter = { (limit: Int64, used: Int64) in QuotaCounter(limit: limit, used: used, remaining: max(0, limit - used)) }
            return QuotaPeriodState(
                period: window.period, resetAt: window.resetAt, requests: counter(requestLimit, used.requests),
                tokensUsed: used.tokens, costMicrosUsed: used.costMicros,
                tokens: user.budgets.tokens(window.period).map { counter($0, used.tokens) },
                costMicros: user.budgets.costMicros(window.period).map { counter($0, used.costMicros) }
            )
        }
        return MyQuota(
            userId: user.userId, day: state(day, requestLimit: user.dailyQuota), month: state(month, requestLimit: user.monthlyQuota))
    }
}

/// The tokens and cost of a batch of usage records, summed per counter row and added in one
/// statement per row: the user's day and month, and the split key's.
struct QuotaCharges {
    struct Charge {
        var tokens: Int64 = 0
        var cost: Int64 = 0
    }
    private(set) var users: [String: Charge] = [:]
    private(set) var keys: [String: Charge] = [:]
    private var owners: [String: (userId: String, keyId: String?, period: String)] = [:]

    init(_ records: [UsageRecord]) {
        for record in records {
            let tokens = record.inputTokens + record.outputTokens
            guard tokens > 0 || record.costMicros > 0 else { continue }
            let date = Millis.date(record.createdAtMs)
            for period in [QuotaPeriodKey.day(date), QuotaPeriodKey.month(date)] {
                let userKey = record.userId + "\u{0}" + period
                owners[userKey] = (record.userId, nil, period)
                users[userKey, default: Charge()].tokens += tokens
                users[userKey, default: Charge()].cost += record.costMicros
                if let keyId = record.splitKeyId, record.keySource == "byok" {
                    let splitKey = record.userId + "\u{0}" + keyId + "\u{0}" + period
                    owners[splitKey] = (record.userId, keyId, period)
                    keys[splitKey, default: Charge()].tokens += tokens
                    keys[splitKey, default: Charge()].cost += record.costMicros
                }
            }
        }
    }

    /// Two statements (per 200 rows): the split keys' rows first, so once a user's charge is
    /// visible, the key's is too.
    func apply(on sql: any SQLDatabase) async throws {
        func rows(_ charges: [String: Charge], _ values: ((userId: String, keyId: String?, period: String)) -> [any Encodable & Sendable])
            -> [[any Encodable & Sendable]]
        {
            charges.sorted { $0.key < $1.key }.compactMap { key, charge in
                owners[key].map { values($0) + [charge.tokens, charge.cost] }
            }
        }
        try await sql.addSums(
            into: "split_key_counters", key: ["user_id", "key_id", "period"], sums: ["tokens", "cost_micros"],
            rows: rows(keys) { [$0.userId, $0.keyId ?? "", $0.period] })
        try await sql.addSums(
            into: "quota_counters", key: ["user_id", "period"], carried: ["requests"], sums: ["tokens", "cost_micros"],
            rows: rows(users) { [$0.userId, $0.period, Int64(0)] })
    }
}
