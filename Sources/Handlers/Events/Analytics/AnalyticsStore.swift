import Foundation
public import Generated
import SQLKit

/// The analytics queries: aggregates in SQL over the rollups (an hour counts when it starts within
/// `[from, to)`), lists over `usage_records` (exact times). Nothing is loaded into memory to be
/// counted there.
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

        var hours: SQLQueryString {
            "(\(bind: fromMs) IS NULL OR hour_ms >= \(bind: fromMs)) AND (\(bind: toMs) IS NULL OR hour_ms < \(bind: toMs))"
        }

        var times: SQLQueryString {
            "(\(bind: fromMs) IS NULL OR created_at_ms >= \(bind: fromMs)) AND (\(bind: toMs) IS NULL OR created_at_ms < \(bind: toMs))"
        }
    }

    static let sums: SQLQueryString = """
        CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests, CAST(COALESCE(SUM(failed), 0) AS BIGINT) AS failed,
        CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS tokens, CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost,
        CAST(COALESCE(SUM(latency_ms), 0) AS BIGINT) AS latency
        """

    struct Sums: Decodable {
        var requests: Int64
        var failed: Int64
        var tokens: Int64
        var cost: Int64
        var latency: Int64
        var avgLatency: Double { requests == 0 ? 0 : (Double(latency) / Double(requests) * 10).rounded() / 10 }
    }

    public static func dollars(_ micros: Int64) -> Double { Double(micros) / 1_000_000 }

    /// `usage_hourly_totals` for everyone, `usage_hourly` (by its user index) for one user.
    private static func source(_ range: Range, userId: String?) -> (table: SQLQueryString, condition: SQLQueryString) {
        guard let userId else { return ("usage_hourly_totals", range.hours) }
        return ("usage_hourly", "user_id = \(bind: userId) AND \(range.hours)")
    }

    private func providers(_ range: Range, userId: String? = nil) async throws -> [ProviderStats] {
        let (table, condition) = Self.source(range, userId: userId)
        return try await database.withSQL { sql in
            try await sql.raw(
                "SELECT provider, \(Self.sums) FROM \(table) WHERE \(condition) GROUP BY provider ORDER BY requests DESC, provider"
            ).all().map { row in
                let sums = try row.decode(model: Sums.self)
                return ProviderStats(
                    provider: try row.decode(column: "provider", as: String.self), requests: sums.requests, failed: sums.failed,
                    tokens: sums.tokens, costMicros: sums.cost, avgLatencyMs: sums.avgLatency)
            }
        }
    }

    private func totals(_ range: Range, userId: String? = nil) async throws -> Sums {
        let (table, condition) = Self.source(range, userId: userId)
        return try await database.withSQL { sql in
            try await sql.raw("SELECT \(Self.sums) FROM \(table) WHERE \(condition)").first(decoding: Sums.self)
                ?? Sums(requests: 0, failed: 0, tokens: 0, cost: 0, latency: 0)
        }
    }

    /// Per-user rows over the range, each with its UTC day as `bucket`: whole days from
    /// `usage_daily_users`, and the hours of a first or last partial day from `usage_hourly`, so an
    /// hour counts when it starts within `[from, to)`, as everywhere, without scanning every hour.
    static func perUser(_ range: Range) -> SQLQueryString {
        let day = UsageRollup.dayMs
        let hour = UsageRollup.hourMs
        let first = range.fromMs.map { Self.ceil($0, hour) }  // the first hour that counts
        let end = range.toMs.map { Self.ceil($0, hour) }  // hours before this one count
        let wholeFrom = first.map { Self.ceil($0, day) }
        let wholeTo = end.map { Self.floor($0, day) }
        var query: SQLQueryString = """
            SELECT user_id, app_id, day_ms AS bucket, requests, failed, input_tokens + output_tokens AS tokens, cost_micros AS cost
            FROM usage_daily_users WHERE \(bounds("day_ms", wholeFrom, wholeTo))
            """
        let hourly: SQLQueryString = """
            SELECT user_id, app_id, hour_ms - (hour_ms % 86400000) AS bucket, requests, failed, input_tokens + output_tokens AS tokens, cost_micros AS cost
            FROM usage_hourly WHERE
            """
        // The partial first day, and the partial last day when it is another day.
        if let first, let wholeFrom, first < wholeFrom {
            let stop = min(wholeFrom, end ?? wholeFrom)
            if first < stop { query = query + " UNION ALL " + hourly + " " + bounds("hour_ms", first, stop) }
        }
        if let end, let wholeTo, wholeTo < end {
            let start = max(wholeTo, wholeFrom ?? wholeTo)
            if start < end { query = query + " UNION ALL " + hourly + " " + bounds("hour_ms", start, end) }
        }
        return query
    }

    static func ceil(_ value: Int64, _ unit: Int64) -> Int64 { Self.floor(value + unit - 1, unit) }
    static func floor(_ value: Int64, _ unit: Int64) -> Int64 { value >= 0 ? value / unit * unit : -((-value + unit - 1) / unit * unit) }

    static func bounds(_ column: String, _ low: Int64?, _ high: Int64?) -> SQLQueryString {
        let name = SQLQueryString(stringLiteral: column)
        switch (low, high) {
        case (let low?, let high?): return "\(name) >= \(bind: low) AND \(name) < \(bind: high)"
        case (let low?, nil): return "\(name) >= \(bind: low)"
        case (nil, let high?): return "\(name) < \(bind: high)"
        case (nil, nil): return "1 = 1"
        }
    }

    public func overview(_ range: Range) async throws -> AnalyticsOverview {
        let totals = try await totals(range)
        let apiStats = try await providers(range)
        return try await database.withSQL { sql in
            let perUser = Self.perUser(range)
            let users =
                try await sql.raw("SELECT COUNT(DISTINCT user_id) AS n FROM (\(perUser)) p").first()?.decode(column: "n", as: Int64.self)
                ?? 0
            let top = try await sql.raw(
                """
                SELECT user_id, MIN(app_id) AS app_id, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(tokens) AS BIGINT) AS tokens,
                    CAST(SUM(cost) AS BIGINT) AS cost
                FROM (\(perUser)) p GROUP BY user_id ORDER BY requests DESC, user_id LIMIT 10
                """
            ).all().map { row in
                UserUsage(
                    userId: try row.decode(column: "user_id", as: String.self), appId: try row.decode(column: "app_id", as: String.self),
                    requests: try row.decode(column: "requests", as: Int64.self), tokens: try row.decode(column: "tokens", as: Int64.self),
                    costMicros: try row.decode(column: "cost", as: Int64.self))
            }
            var hours = [Int64](repeating: 0, count: 24)
            for row in try await sql.raw(
                """
                SELECT (hour_ms / 3600000) % 24 AS hour, CAST(SUM(requests) AS BIGINT) AS n FROM usage_hourly_totals WHERE \(range.hours)
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
        let recent = try await records(UsageFilter(range: range, userId: userId), limit: 20, offset: 0)
        return UserAnalytics(
            userId: userId, totalRequests: totals.requests, successfulRequests: totals.requests - totals.failed,
            failedRequests: totals.failed,
            totalTokens: totals.tokens, totalCostMicros: totals.cost, totalCost: Self.dollars(totals.cost), apiBreakdown: breakdown,
            recentRequests: recent
        )
    }

    /// Totals per hour or day, optionally per provider, model or app (the totals rollup) or per
    /// user (per day: the daily rollup; per hour: the per-user hourly rollup, which is large, so
    /// keep that range short).
    public func timeseries(_ range: Range, granularity: Granularity, groupBy: GroupBy?) async throws -> Timeseries {
        let query: SQLQueryString
        if groupBy == .user, granularity == .day {
            query = """
                SELECT bucket, user_id AS grp, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(failed) AS BIGINT) AS failed,
                    CAST(SUM(tokens) AS BIGINT) AS tokens, CAST(SUM(cost) AS BIGINT) AS cost, 0 AS latency
                FROM (\(Self.perUser(range))) p GROUP BY bucket, user_id ORDER BY bucket, grp
                """
        } else {
            let bucket: SQLQueryString = granularity == .day ? "hour_ms - (hour_ms % 86400000)" : "hour_ms"
            let group: SQLQueryString =
                switch groupBy {
                case .provider: "provider"
                case .model: "model"
                case .user: "user_id"
                case .app: "app_id"
                case nil: "''"
                }
            let table: SQLQueryString = groupBy == .user ? "usage_hourly" : "usage_hourly_totals"
            // PostgreSQL refuses a constant in GROUP BY: without `groupBy`, group by the bucket alone.
            let grouping: SQLQueryString = groupBy == nil ? bucket : bucket + ", " + group
            query = """
                SELECT \(bucket) AS bucket, \(group) AS grp, \(Self.sums) FROM \(table) WHERE \(range.hours)
                GROUP BY \(grouping) ORDER BY bucket, grp
                """
        }
        let points = try await database.withSQL { sql in
            try await sql.raw(query).all().map { row in
                let sums = try row.decode(model: Sums.self)
                return TimePoint(
                    bucket: Millis.date(try row.decode(column: "bucket", as: Int64.self)),
                    group: groupBy == nil ? nil : try row.decode(column: "grp", as: String.self),
                    requests: sums.requests, failed: sums.failed, tokens: sums.tokens, costMicros: sums.cost)
            }
        }
        return Timeseries(granularity: granularity, groupBy: groupBy, points: points)
    }

    public struct UsageFilter: Sendable {
        public var range: Range
        public var userId: String?
        public var provider: String?
        public var model: String?
        public var failed: Bool?

        public init(range: Range, userId: String? = nil, provider: String? = nil, model: String? = nil, failed: Bool? = nil) {
            self.range = range
            self.userId = userId
            self.provider = provider
            self.model = model
            self.failed = failed
        }

        var condition: SQLQueryString {
            """
            \(range.times) AND (\(bind: userId) IS NULL OR user_id = \(bind: userId)) AND (\(bind: provider) IS NULL OR provider = \(bind: provider))
            AND (\(bind: model) IS NULL OR model = \(bind: model))
            AND (\(bind: failed) IS NULL OR (status >= 400) = \(bind: failed))
            """
        }
    }

    public func records(_ filter: UsageFilter, limit: Int64, offset: Int64) async throws -> [UsageRecordView] {
        try await database.withSQL { sql in
            try await sql.raw(
                "SELECT * FROM usage_records WHERE \(filter.condition) ORDER BY created_at_ms DESC, id DESC LIMIT \(bind: limit) OFFSET \(bind: offset)"
            )
            .all(decoding: UsageRecord.self, keyDecodingStrategy: .convertFromSnakeCase).map(Self.view)
        }
    }

    public func count(_ filter: UsageFilter) async throws -> Int64 {
        try await database.withSQL { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM usage_records WHERE \(filter.condition)").first()?.decode(
                column: "n", as: Int64.self) ?? 0
        }
    }

    /// Replaces the hourly rollups with ones computed from the usage rows; answers their count.
    /// Hours whose rows were deleted by retention are lost, so run it only after an import.
    public func rebuildRollups() async throws -> Int64 {
        try await database.withSQL { sql in
            for table in UsageRollup.tables { try await sql.raw(SQLQueryString(stringLiteral: "DELETE FROM " + table)).run() }
            for statement in Migrations.rollupRebuild { try await sql.raw(SQLQueryString(stringLiteral: statement)).run() }
            return try await sql.raw("SELECT COUNT(*) AS n FROM usage_hourly").first()?.decode(column: "n", as: Int64.self) ?? 0
        }
    }

    /// Deletes usage rows older than the cutoff; the rollups stay. Answers how many went.
    public func deleteRecords(before cutoffMs: Int64) async throws -> Int64 {
        try await database.withSQL { sql in
            let doomed =
                try await sql.raw("SELECT COUNT(*) AS n FROM usage_records WHERE created_at_ms < \(bind: cutoffMs)").first()?.decode(
                    column: "n", as: Int64.self) ?? 0
            if doomed > 0 { try await sql.raw("DELETE FROM usage_records WHERE created_at_ms < \(bind: cutoffMs)").run() }
            return doomed
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
