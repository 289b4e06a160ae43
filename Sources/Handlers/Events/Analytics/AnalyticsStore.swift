import Foundation
public import Generated
import SQLKit

/// The analytics queries: aggregates in SQL over the rollups (an hour counts when it starts within
/// `[from, to)`), lists over `usage_records` (exact times; `AnalyticsStore+Rows.swift`). Nothing
/// is loaded into memory to be counted there, and no query reads more rows as usage grows.
public struct AnalyticsStore: Sendable {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public struct Range: Sendable {
        public var fromMs: Int64?
        public var toMs: Int64?

        public init(fromMs: Int64?, toMs: Int64?) {
            self.fromMs = fromMs
            self.toMs = toMs
        }

        /// The hours that start within the range.
        var hours: SQLQueryString { AnalyticsStore.bounds("hour_ms", fromMs, toMs) }

        /// Whether every hour the range touches lies within it, so that sums over hours are exact.
        var isWholeHours: Bool { [fromMs, toMs].allSatisfy { $0.map { $0 % UsageRollup.hourMs == 0 } ?? true } }
    }

    /// The sums a time point has.
    static let counts: SQLQueryString = """
        CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests, CAST(COALESCE(SUM(failed), 0) AS BIGINT) AS failed,
        CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS tokens, CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost
        """

    /// `Sums`' columns.
    static let sums: SQLQueryString = counts + ", CAST(COALESCE(SUM(latency_ms), 0) AS BIGINT) AS latency"

    /// The summed columns a rollup row has, for `spans`.
    static let sumColumns: SQLQueryString = "requests, failed, input_tokens, output_tokens, cost_micros, latency_ms"

    struct Sums: Decodable {
        var requests: Int64
        var failed: Int64
        var tokens: Int64
        var cost: Int64
        var latency: Int64
        var avgLatency: Double { requests == 0 ? 0 : (Double(latency) / Double(requests) * 10).rounded() / 10 }
    }

    public static func dollars(_ micros: Int64) -> Double { Double(micros) / 1_000_000 }

    /// A daily rollup and the hourly one it sums (`UsageRollup`).
    struct Rollup {
        let daily: SQLQueryString
        let hourly: SQLQueryString

        /// Everyone's figures by provider, model and app.
        static let totals = Rollup(daily: "usage_daily_totals", hourly: "usage_hourly_totals")
        /// Figures by user, provider and model.
        static let users = Rollup(daily: "usage_daily", hourly: "usage_hourly")
        /// Figures by user only.
        static let userDays = Rollup(daily: "usage_daily_users", hourly: "usage_hourly_users")
    }

    /// The rollup rows of the hours that start within the range, each with its UTC day as
    /// `bucket`, read from as few rows as can be: whole days from the daily rollup, the hours of a
    /// cut first or last day from the hourly one. `columns` are common to both tables; `filter`
    /// applies to both.
    static func spans(_ range: Range, of rollup: Rollup, columns: SQLQueryString, filter: SQLQueryString? = nil) -> SQLQueryString {
        let day = UsageRollup.dayMs
        let hour = UsageRollup.hourMs
        let first = range.fromMs.map { Self.ceil($0, hour) }  // the first hour that counts
        let end = range.toMs.map { Self.ceil($0, hour) }  // hours before this one count
        let wholeFrom = first.map { Self.ceil($0, day) }
        let wholeTo = end.map { Self.floor($0, day) }
        let and = filter.map { " AND " + $0 } ?? ""
        var query: SQLQueryString =
            "SELECT day_ms AS bucket, \(columns) FROM \(rollup.daily) WHERE \(bounds("day_ms", wholeFrom, wholeTo))\(and)"
        func hours(_ low: Int64, _ high: Int64) {
            query =
                query + """
                     UNION ALL SELECT hour_ms - (hour_ms % 86400000) AS bucket, \(columns) FROM \(rollup.hourly)
                    WHERE \(bounds("hour_ms", low, high))\(and)
                    """
        }
        // The cut first day, and the cut last day when it is another day.
        if let first, let wholeFrom, first < wholeFrom {
            let stop = min(wholeFrom, end ?? wholeFrom)
            if first < stop { hours(first, stop) }
        }
        if let end, let wholeTo, wholeTo < end {
            let start = max(wholeTo, wholeFrom ?? wholeTo)
            if start < end { hours(start, end) }
        }
        return query
    }

    static func ceil(_ value: Int64, _ unit: Int64) -> Int64 { Self.floor(value + unit - 1, unit) }
    static func floor(_ value: Int64, _ unit: Int64) -> Int64 { value >= 0 ? value / unit * unit : -((-value + unit - 1) / unit * unit) }

    /// `low <= column < high`, either bound left out when absent: a plain comparison, which an
    /// index serves (`? IS NULL OR …` would defeat it).
    static func bounds(_ column: String, _ low: Int64?, _ high: Int64?) -> SQLQueryString {
        let name = SQLQueryString(stringLiteral: column)
        switch (low, high) {
        case (let low?, let high?): return "\(name) >= \(bind: low) AND \(name) < \(bind: high)"
        case (let low?, nil): return "\(name) >= \(bind: low)"
        case (nil, let high?): return "\(name) < \(bind: high)"
        case (nil, nil): return "1 = 1"
        }
    }

    /// Sums by provider: everyone's, or one user's.
    private func providers(_ range: Range, userId: String? = nil) async throws -> [ProviderStats] {
        let spans =
            if let userId {
                Self.spans(range, of: .users, columns: "provider, \(Self.sumColumns)", filter: "user_id = \(bind: userId)")
            } else {
                Self.spans(range, of: .totals, columns: "provider, \(Self.sumColumns)")
            }
        return try await database.withSQL { sql in
            try await sql.raw("SELECT provider, \(Self.sums) FROM (\(spans)) p GROUP BY provider ORDER BY requests DESC, provider").all()
                .map { row in
                    let sums = try row.decode(model: Sums.self)
                    return ProviderStats(
                        provider: try row.decode(column: "provider", as: String.self), requests: sums.requests, failed: sums.failed,
                        tokens: sums.tokens, costMicros: sums.cost, avgLatencyMs: sums.avgLatency)
                }
        }
    }

    /// Everyone's sums from the hour rollup (one row per hour); one user's from theirs.
    private func totals(_ range: Range, userId: String? = nil) async throws -> Sums {
        let query: SQLQueryString =
            if let userId {
                "SELECT \(Self.sums) FROM (\(Self.spans(range, of: .users, columns: Self.sumColumns, filter: "user_id = \(bind: userId)"))) p"
            } else {
                "SELECT \(Self.sums) FROM usage_hours WHERE \(range.hours)"
            }
        return try await database.withSQL { sql in
            try await sql.raw(query).first(decoding: Sums.self) ?? Sums(requests: 0, failed: 0, tokens: 0, cost: 0, latency: 0)
        }
    }

    public func overview(_ range: Range) async throws -> AnalyticsOverview {
        let totals = try await totals(range)
        let apiStats = try await providers(range)
        return try await database.withSQL { sql in
            // The top ten users, each row with the number of users (one pass over the range).
            let topUsers: SQLQueryString
            if try await Self.coversAllUsage(range, on: sql) {
                // All time: one row per user, the top ones by an index.
                topUsers = """
                    SELECT user_id, app_id, requests, input_tokens + output_tokens AS tokens, cost_micros AS cost,
                        (SELECT COUNT(*) FROM usage_users) AS users
                    FROM usage_users ORDER BY requests DESC, user_id LIMIT 10
                    """
            } else {
                let days = Self.spans(
                    range, of: .userDays, columns: "user_id, app_id, requests, input_tokens + output_tokens AS tokens, cost_micros AS cost")
                topUsers = """
                    SELECT user_id, MIN(app_id) AS app_id, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(tokens) AS BIGINT) AS tokens,
                        CAST(SUM(cost) AS BIGINT) AS cost, COUNT(*) OVER () AS users
                    FROM (\(days)) d GROUP BY user_id ORDER BY requests DESC, user_id LIMIT 10
                    """
            }
            let rows = try await sql.raw(topUsers).all()
            let users = try rows.first?.decode(column: "users", as: Int64.self) ?? 0
            let top = try rows.map { row in
                UserUsage(
                    userId: try row.decode(column: "user_id", as: String.self), appId: try row.decode(column: "app_id", as: String.self),
                    requests: try row.decode(column: "requests", as: Int64.self), tokens: try row.decode(column: "tokens", as: Int64.self),
                    costMicros: try row.decode(column: "cost", as: Int64.self))
            }
            var hours = [Int64](repeating: 0, count: 24)
            for row in try await sql.raw(
                """
                SELECT (hour_ms / 3600000) % 24 AS hour, CAST(SUM(requests) AS BIGINT) AS n FROM usage_hours WHERE \(range.hours)
                GROUP BY (hour_ms / 3600000) % 24
                """
            ).all() {
                let hour = Int(try row.decode(column: "hour", as: Int64.self))
                if (0..<24).contains(hour) { hours[hour] = try row.decode(column: "n", as: Int64.self) }
            }
            return AnalyticsOverview(
                from: range.fromMs.map(Millis.date), to: range.toMs.map(Millis.date), totalRequests: totals.requests, totalUsers: users,
                totalTokens: totals.tokens, totalCostMicros: totals.cost, totalCost: Self.dollars(totals.cost), apiStats: apiStats,
                topUsers: top,
                hourlyDistribution: hours.enumerated().map { HourCount(hour: Int64($0.offset), count: $0.element) }
            )
        }
    }

    /// Whether every hour with usage starts within the range (two lookups in the hour rollup's
    /// key), so that all-time figures answer for it.
    static func coversAllUsage(_ range: Range, on sql: any SQLDatabase) async throws -> Bool {
        if range.fromMs == nil, range.toMs == nil { return true }
        guard let row = try await sql.raw("SELECT MIN(hour_ms) AS first, MAX(hour_ms) AS last FROM usage_hours").first(),
            let first = try row.decode(column: "first", as: Int64?.self), let last = try row.decode(column: "last", as: Int64?.self)
        else { return true }
        return (range.fromMs ?? .min) <= first && last < (range.toMs ?? .max)
    }

    public func costs(_ range: Range) async throws -> CostBreakdown {
        let stats = try await providers(range).sorted { ($0.costMicros, $1.provider) > ($1.costMicros, $0.provider) }
        let total = stats.reduce(0) { $0 + $1.costMicros }
        return CostBreakdown(
            breakdown: stats.map { line in
                CostLine(
                    provider: line.provider, requests: line.requests, tokens: line.tokens, costMicros: line.costMicros,
                    cost: Self.dollars(line.costMicros),
                    percentage: total == 0 ? 0 : (Double(line.costMicros) / Double(total) * 10_000).rounded() / 100)
            },
            totalCostMicros: total, total: Self.dollars(total)
        )
    }

    public func errors(_ range: Range) async throws -> ErrorStats {
        let totals = try await totals(range)
        return ErrorStats(
            total: totals.requests, successful: totals.requests - totals.failed, failed: totals.failed,
            errorRate: totals.requests == 0 ? 0 : (Double(totals.failed) / Double(totals.requests) * 10_000).rounded() / 100)
    }

    public func user(_ userId: String, _ range: Range) async throws -> UserAnalytics {
        let totals = try await totals(range, userId: userId)
        let breakdown = try await providers(range, userId: userId)
        let recent = try await records(UsageFilter(range: range, userId: userId), limit: 20).records
        return UserAnalytics(
            userId: userId, totalRequests: totals.requests, successfulRequests: totals.requests - totals.failed,
            failedRequests: totals.failed,
            totalTokens: totals.tokens, totalCostMicros: totals.cost, totalCost: Self.dollars(totals.cost), apiBreakdown: breakdown,
            recentRequests: recent
        )
    }

    /// Totals per hour or day, optionally per provider, model, app or user. Per day: whole days
    /// from a daily rollup, cut ones from its hourly one. Per hour: the hour rollup without a
    /// group, else an hourly rollup (per user, which is large: keep that range short).
    public func timeseries(_ range: Range, granularity: Granularity, groupBy: GroupBy?) async throws -> Timeseries {
        let group: SQLQueryString =
            switch groupBy {
            case .provider: "provider"
            case .model: "model"
            case .user: "user_id"
            case .app: "app_id"
            case nil: "''"
            }
        let source: SQLQueryString
        let bucket: SQLQueryString
        if granularity == .day {
            let rollup: Rollup = groupBy == .user ? .userDays : .totals
            let columns: SQLQueryString = groupBy == nil ? Self.sumColumns : group + ", " + Self.sumColumns
            source = "(\(Self.spans(range, of: rollup, columns: columns))) d"
            bucket = "bucket"
        } else {
            let table: SQLQueryString =
                switch groupBy {
                case nil: "usage_hours"
                case .user: "usage_hourly_users"
                default: "usage_hourly_totals"
                }
            source = table + " WHERE " + range.hours
            bucket = "hour_ms"
        }
        // PostgreSQL refuses a constant in GROUP BY: without `groupBy`, group by the bucket alone.
        let grouping: SQLQueryString = groupBy == nil ? bucket : bucket + ", " + group
        let query: SQLQueryString =
            "SELECT \(bucket) AS bucket, \(group) AS grp, \(Self.counts) FROM \(source) GROUP BY \(grouping) ORDER BY bucket, grp"
        // A series can have thousands of points: their columns are read one by one, without the
        // row decoder a model costs.
        let points = try await database.withSQL { sql in
            try await sql.raw(query).all().map { row in
                TimePoint(
                    bucket: Millis.date(try row.decode(column: "bucket", as: Int64.self)),
                    group: groupBy == nil ? nil : try row.decode(column: "grp", as: String.self),
                    requests: try row.decode(column: "requests", as: Int64.self), failed: try row.decode(column: "failed", as: Int64.self),
                    tokens: try row.decode(column: "tokens", as: Int64.self), costMicros: try row.decode(column: "cost", as: Int64.self))
            }
        }
        return Timeseries(granularity: granularity, groupBy: groupBy, points: points)
    }

    /// Replaces the rollups with ones computed from the usage rows; answers the hourly one's count.
    /// Hours whose rows were deleted by retention are lost, so run it only after an import.
    public func rebuildRollups(progress: Migrator.Progress? = nil) async throws -> Int64 {
        try await database.withSQL { sql in
            let statements = UsageRollup.tables.map { "DELETE FROM " + $0 } + Migrations.rollupRebuild
            for (index, statement) in statements.enumerated() {
                progress?(index + 1, statements.count, Migration.label(statement))
                try await sql.raw(SQLQueryString(stringLiteral: statement)).run()
            }
            return try await sql.raw("SELECT COUNT(*) AS n FROM usage_hourly").first()?.decode(column: "n", as: Int64.self) ?? 0
        }
    }

    static func view(_ record: UsageRecord) -> UsageRecordView {
        UsageRecordView(
            requestId: record.requestId, userId: record.userId, appId: record.appId, provider: record.provider, endpoint: record.endpoint,
            model: record.model, status: record.status, inputTokens: record.inputTokens, outputTokens: record.outputTokens,
            cachedTokens: record.cachedTokens, costMicros: record.costMicros, latencyMs: record.latencyMs, ttfbMs: record.ttfbMs,
            streamed: record.streamed, cancelled: record.cancelled,
            keySource: UsageRecordView.KeySource(rawValue: record.keySource) ?? .server,
            splitKeyId: record.splitKeyId, createdAt: Millis.date(record.createdAtMs)
        )
    }
}
