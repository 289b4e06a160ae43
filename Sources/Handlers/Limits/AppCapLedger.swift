public import Foundation
public import Generated
public import SQLKit
import Synchronization

extension AppCaps {
    func requests(_ period: QuotaPeriod) -> Int64? { period == .day ? dailyRequests : monthlyRequests }
    func costMicros(_ period: QuotaPeriod) -> Int64? { period == .day ? dailyCostMicros : monthlyCostMicros }
    /// Whether a cap applies to proxied calls (`newUsersPerHour` is checked at sign-in instead).
    var capsCalls: Bool { [dailyRequests, monthlyRequests, dailyCostMicros, monthlyCostMicros].contains { $0 != nil } }
}

/// An app's request and cost caps per UTC day and month, for all its users together (the spec's
/// `AppCaps`). Admission counts a call here right after the user's quota, with the same atomic
/// conditional upsert (one row per app and window in `app_counters`), so N concurrent calls at the
/// edge of a cap let exactly the cap through, across instances. Which apps have caps is read from
/// an in-memory copy (reloaded every `APP_CAPS_SYNC_MS`, and at once on this instance when an
/// admin sets them): an app without caps costs no statement. Cost is charged by the usage writer,
/// so a cost cap, like a user's budget, can be passed by the calls in flight.
public final class AppCapLedger: UsageFollower {
    let database: any Database
    let apps: AppStore
    /// `app.cap.warning` (80 %) and `app.cap.reached` (100 %), once per cap and period.
    let events: WebhookEvents?
    private let copy = Mutex(Copy())

    /// The caps of the apps that have call caps, and how many local changes it has taken.
    private struct Copy {
        var caps: [String: AppCaps] = [:]
        var changes = 0
    }

    public init(database: any Database, apps: AppStore, events: WebhookEvents? = nil) {
        self.database = database
        self.apps = apps
        self.events = events
    }

    /// The caps now in force for `appId` (an admin just set them on this instance).
    public func set(_ appId: String, _ caps: AppCaps) {
        copy.withLock {
            $0.caps[appId] = caps.capsCalls ? caps : nil
            $0.changes += 1
        }
    }

    /// Reloads every app's caps from the database (what other instances set). A read that a
    /// local change overtook is dropped, not applied over it; the next round reads again.
    public func reload() async throws {
        let before = copy.withLock(\.changes)
        let all = try await apps.allCaps().filter(\.value.capsCalls)
        copy.withLock { if $0.changes == before { $0.caps = all } }
    }

    func caps(of appId: String) -> AppCaps? { copy.withLock { $0.caps[appId] } }

    /// Counts one call of the app in each window it has a cap for, or throws (`quotaExceeded` with
    /// scope `app`, or the database's error) without counting it anywhere. Returns where the call
    /// stands against the tightest request cap (nil: no request cap). The 80 % and 100 % events
    /// go out only once every window has counted the call, so a call given back announces nothing.
    public func admit(appId: String, now: Date = Date()) async throws -> LimitStanding? {
        guard let caps = caps(of: appId) else { return nil }
        var counted: [QuotaWindow] = []
        var standing: LimitStanding?
        var announcements: [(event: WebhookEvent, data: [String: String], key: String)] = []
        do {
            for period in [QuotaPeriod.day, .month] {
                let requestCap = caps.requests(period)
                let costCap = caps.costMicros(period)
                guard requestCap != nil || costCap != nil else { continue }
                let window = QuotaWindow.current(period, at: now)
                guard let used = try await count(appId: appId, in: window, requestCap: requestCap, costCap: costCap) else {
                    throw try await refusal(appId: appId, window: window, caps: caps, now: now)
                }
                counted.append(window)
                guard let requestCap else { continue }
                let announcement = Self.announcement(appId, window, .requests, limit: requestCap, used: used)
                for crossing in Self.crossings(limit: requestCap, before: used - 1, after: used) {
                    announcements.append((crossing.name, announcement.data, announcement.key))
                }
                standing = LimitStanding(
                    limit: requestCap, remaining: max(0, requestCap - used), resetSeconds: window.secondsLeft(from: now)
                ).tighter(standing)
            }
        } catch {
            for window in counted { try? await giveBack(appId: appId, in: window) }
            throw error
        }
        for announcement in announcements {
            await events?.emit(announcement.event, announcement.data, onceFor: announcement.key)
        }
        return standing
    }

    /// One atomic statement: +1 while under both caps of the window; the new count, or nil when a
    /// cap refuses.
    private func count(appId: String, in window: QuotaWindow, requestCap: Int64?, costCap: Int64?) async throws -> Int64? {
        let requests = requestCap ?? .max
        let cost = costCap ?? .max
        return try await database.withSQL { sql in
            try await sql.raw(
                """
                INSERT INTO app_counters (app_id, period, requests, cost_micros)
                SELECT \(bind: appId), \(bind: window.key), 1, 0 WHERE \(bind: requests) > 0 AND \(bind: cost) > 0
                ON CONFLICT (app_id, period) DO UPDATE SET requests = app_counters.requests + 1
                WHERE app_counters.requests < \(bind: requests) AND app_counters.cost_micros < \(bind: cost)
                RETURNING requests
                """
            ).first()?.decode(column: "requests", as: Int64.self)
        }
    }

    private func giveBack(appId: String, in window: QuotaWindow) async throws {
        try await database.withSQL { sql in
            try await sql.raw(
                """
                UPDATE app_counters SET requests = requests - 1
                WHERE app_id = \(bind: appId) AND period = \(bind: window.key) AND requests > 0
                """
            ).run()
        }
    }

    /// The counts of the app's window, read on the refusal path.
    private func used(appId: String, in window: QuotaWindow) async throws -> (requests: Int64, costMicros: Int64) {
        try await database.withSQL { sql in
            guard
                let row = try await sql.raw(
                    "SELECT requests, cost_micros FROM app_counters WHERE app_id = \(bind: appId) AND period = \(bind: window.key)"
                ).first()
            else { return (0, 0) }
            return (try row.decode(column: "requests", as: Int64.self), try row.decode(column: "cost_micros", as: Int64.self))
        }
    }

    /// Why the window refused.
    private func refusal(appId: String, window: QuotaWindow, caps: AppCaps, now: Date) async throws -> AppError {
        let used = try await used(appId: appId, in: window)
        let breach: QuotaBreach
        if let cost = caps.costMicros(window.period), used.costMicros >= cost,
            caps.requests(window.period).map({ used.requests < $0 }) ?? true
        {
            breach = QuotaLedger.breach(.costMicros, window, limit: cost, used: used.costMicros, scope: .app)
        } else {
            // The request cap, or a concurrent call took the last unit between the statements.
            let limit = caps.requests(window.period) ?? used.requests
            breach = QuotaLedger.breach(.requests, window, limit: limit, used: max(used.requests, limit), scope: .app)
        }
        let announcement = Self.announcement(appId, window, breach.metric, limit: breach.limit, used: breach.used)
        await events?.emit(Crossing.reached.name, announcement.data, onceFor: announcement.key)
        return .quotaExceeded(breach, retryAfter: window.secondsLeft(from: now))
    }

    /// A cap's 80 % and 100 % marks, and the webhook event of each.
    enum Crossing: CaseIterable {
        case warning, reached

        var name: WebhookEvent { self == .warning ? .appCapWarning : .appCapReached }
        func mark(_ limit: Int64) -> Int64 { self == .warning ? QuotaLedger.warningMark(limit) : limit }
    }

    /// The event's data, and the key that makes it once per app, window and metric.
    static func announcement(_ appId: String, _ window: QuotaWindow, _ metric: QuotaBreach.Metric, limit: Int64, used: Int64)
        -> (data: [String: String], key: String)
    {
        (
            ["appId": appId, "period": window.period.rawValue, "metric": metric.rawValue, "limit": String(limit), "used": String(used)],
            appId + "|" + window.key + "|" + metric.rawValue
        )
    }

    /// The marks a count passed going from `before` to `after`: counts are atomic, so exactly one
    /// call (or one usage batch) sees each mark pass in a period.
    static func crossings(limit: Int64, before: Int64, after: Int64) -> [Crossing] {
        Crossing.allCases.filter { before < $0.mark(limit) && after >= $0.mark(limit) }
    }

    /// Charges the cost of a batch of usage rows to the day and month of the apps with a cost cap
    /// (called by the usage writer, off the request path), and announces the marks passed.
    public func follow(_ rows: [UsageRecord], on sql: any SQLDatabase) async throws {
        let capped = copy.withLock(\.caps)
        var charges: [String: (appId: String, window: QuotaWindow, limit: Int64, cost: Int64)] = [:]
        for record in rows where record.costMicros > 0 {
            guard let caps = capped[record.appId] else { continue }
            for period in [QuotaPeriod.day, .month] {
                guard let limit = caps.costMicros(period) else { continue }
                let window = QuotaWindow.current(period, at: Millis.date(record.createdAtMs))
                charges[record.appId + "\u{0}" + window.key, default: (record.appId, window, limit, 0)].cost += record.costMicros
            }
        }
        for (_, charge) in charges.sorted(by: { $0.key < $1.key }) {
            let total =
                try await sql.raw(
                    """
                    INSERT INTO app_counters (app_id, period, requests, cost_micros)
                    VALUES (\(bind: charge.appId), \(bind: charge.window.key), 0, \(bind: charge.cost))
                    ON CONFLICT (app_id, period) DO UPDATE SET cost_micros = app_counters.cost_micros + excluded.cost_micros
                    RETURNING cost_micros
                    """
                ).first()?.decode(column: "cost_micros", as: Int64.self) ?? charge.cost
            let announcement = Self.announcement(charge.appId, charge.window, .costMicros, limit: charge.limit, used: total)
            for event in Self.crossings(limit: charge.limit, before: total - charge.cost, after: total) {
                try await events?.queue(event.name, announcement.data, onceFor: announcement.key, on: sql)
            }
        }
    }
}
