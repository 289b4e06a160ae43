import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// Analytics against sums computed here, independently, from the rows the usage writer wrote.
@Suite("Analytics")
struct AnalyticsTests {
    static let start: Int64 = 1_764_374_400_000  // 2025-11-29T00:00:00Z
    static let providers = ["openai", "claude", "gemini"]
    static let models = ["m-small", "m-large"]
    static let users = [("ana", "app.one"), ("bob", "app.one"), ("cy", "app.two"), ("di", "app.two")]

    /// 600 rows over three days, from a fixed seed.
    static func rows() -> [UsageRecord] {
        var generator = SeededGenerator(seed: 42)
        return (0..<600).map { index in
            let user = users[Int.random(in: 0..<users.count, using: &generator)]
            let status: Int64 = Int.random(in: 0..<10, using: &generator) == 0 ? 502 : 200
            return UsageRecord(
                requestId: "req-\(index)", userId: user.0, appId: user.1, provider: providers[Int.random(in: 0..<3, using: &generator)],
                endpoint: "/chat/completions", model: models[Int.random(in: 0..<2, using: &generator)], status: status,
                inputTokens: Int64.random(in: 0...2000, using: &generator), outputTokens: Int64.random(in: 0...800, using: &generator),
                cachedTokens: 0,
                costMicros: Int64.random(in: 0...5000, using: &generator), latencyMs: Int64.random(in: 50...3000, using: &generator),
                ttfbMs: nil,
                streamed: false, cancelled: false, keySource: "server", splitKeyId: nil, clientIp: "203.0.113.1", userAgent: nil,
                createdAtMs: start + Int64.random(in: 0..<(3 * 86_400_000), using: &generator)
            )
        }
    }

    static func seed(_ config: AppConfig, rows: [UsageRecord]) async throws {
        try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
            let recorder = UsageRecorder(
                database: database, followers: [SplitKeyStore(database: database)], metrics: BridgeMetrics(),
                logger: Harness.logger(MemorySink()))
            for batch in stride(from: 0, to: rows.count, by: 50) { await recorder.write(Array(rows[batch..<min(batch + 50, rows.count)])) }
        }
    }

    /// An app on a fresh database of `kind` holding `rows`. They are from 2025: retention is off
    /// (it runs at start and would delete them).
    static func withSeededApp(
        _ kind: DatabaseKind, rows: [UsageRecord], _ body: @escaping @Sendable (Fixture, AppConfig) async throws -> Void
    )
        async throws
    {
        try await Harness.withFreshConfig(kind) { config in
            var config = config
            config.providers = try await Harness.providers()
            config.usageRetentionDays = 0
            let final = config
            let app = try await buildApplication(config: final, logger: Harness.logger(MemorySink()))
            try await app.test(.router) { client in
                try await seed(final, rows: rows)
                try await body(Fixture(client: client), final)
            }
        }
    }

    static func get<T: Decodable>(_ fixture: Fixture, _ path: String, as type: T.Type) async throws -> T {
        let response = try await fixture.send(.get, path, headers: Fixture.admin)
        #expect(response.status == .ok, "\(path): \(String(buffer: response.body))")
        return try fixture.decode(T.self, response)
    }

    @Test(arguments: Harness.kinds)
    func aggregatesEqualSumsOverTheRows(_ kind: DatabaseKind) async throws {
        let rows = Self.rows()
        try await Self.withSeededApp(kind, rows: rows) { fixture, final in

            // The whole range.
            let overview = try await Self.get(fixture, "/analytics/overview", as: AnalyticsOverview.self)
            #expect(overview.totalRequests == Int64(rows.count))
            #expect(overview.totalTokens == rows.reduce(0) { $0 + $1.inputTokens + $1.outputTokens })
            #expect(overview.totalCostMicros == rows.reduce(0) { $0 + $1.costMicros })
            #expect(overview.totalUsers == Int64(Set(rows.map(\.userId)).count))
            for stats in overview.apiStats {
                let mine = rows.filter { $0.provider == stats.provider }
                #expect(stats.requests == Int64(mine.count))
                #expect(stats.failed == Int64(mine.filter { $0.status >= 400 }.count))
                #expect(stats.costMicros == mine.reduce(0) { $0 + $1.costMicros })
            }
            for hour in overview.hourlyDistribution {
                #expect(hour.count == Int64(rows.filter { ($0.createdAtMs / 3_600_000) % 24 == hour.hour }.count))
            }
            let byUser = Dictionary(grouping: rows, by: \.userId).mapValues(\.count)
            #expect(overview.topUsers.first?.requests == Int64(byUser.values.max() ?? 0))
            // A range around all the usage reads the all-time rollup, and agrees with the days.
            let around = try await Self.get(fixture, "/analytics/overview?from=2020-01-01T00:00:00Z", as: AnalyticsOverview.self)
            #expect(around.topUsers == overview.topUsers && around.totalUsers == overview.totalUsers)
            let lastHour = Millis.date(Self.start + 3 * 86_400_000 - 3_600_000)
            let allButLast = try await Self.get(
                fixture, "/analytics/overview?from=2020-01-01T00:00:00Z&to=\(APICoding.formatDate(lastHour))",
                as: AnalyticsOverview.self)
            let early = rows.filter { $0.createdAtMs < Self.start + 3 * 86_400_000 - 3_600_000 }
            #expect(allButLast.totalUsers == Int64(Set(early.map(\.userId)).count))
            #expect(
                allButLast.topUsers.first?.requests == Int64(Dictionary(grouping: early, by: \.userId).values.map(\.count).max() ?? 0))

            // A range of whole hours: rows of hours that start within [from, to).
            let from = Self.start + 5 * 3_600_000
            let to = Self.start + 41 * 3_600_000
            let inRange = rows.filter {
                $0.createdAtMs - $0.createdAtMs % 3_600_000 >= from && $0.createdAtMs - $0.createdAtMs % 3_600_000 < to
            }
            let query = "?from=\(APICoding.formatDate(Millis.date(from)))&to=\(APICoding.formatDate(Millis.date(to)))"
            let ranged = try await Self.get(fixture, "/analytics/overview" + query, as: AnalyticsOverview.self)
            #expect(ranged.totalRequests == Int64(inRange.count))
            let errors = try await Self.get(fixture, "/analytics/errors" + query, as: ErrorStats.self)
            #expect(errors.failed == Int64(inRange.filter { $0.status >= 400 }.count))
            #expect(errors.successful + errors.failed == Int64(inRange.count))
            let costs = try await Self.get(fixture, "/analytics/costs" + query, as: CostBreakdown.self)
            #expect(costs.totalCostMicros == inRange.reduce(0) { $0 + $1.costMicros })
            #expect(abs(costs.breakdown.reduce(0) { $0 + $1.percentage } - 100) < 0.05)

            // One user, the old parameter names.
            let ana = rows.filter { $0.userId == "ana" }
            _ = try await fixture.token("ana", app: try await fixture.createApp("app.one"))
            let user = try await Self.get(fixture, "/analytics/user/ana?startDate=2020-01-01T00:00:00Z", as: UserAnalytics.self)
            #expect(user.totalRequests == Int64(ana.count))
            #expect(user.failedRequests == Int64(ana.filter { $0.status >= 400 }.count))
            #expect(user.totalTokens == ana.reduce(0) { $0 + $1.inputTokens + $1.outputTokens })
            #expect(user.recentRequests.map(\.requestId) == ana.sorted { $0.createdAtMs > $1.createdAtMs }.prefix(20).map(\.requestId))

            // Per day and provider.
            let series = try await Self.get(fixture, "/analytics/timeseries?granularity=day&groupBy=provider", as: Timeseries.self)
            #expect(series.points.count == 9)
            for point in series.points {
                let day = Millis.from(point.bucket)
                let expected = rows.filter { $0.provider == point.group && $0.createdAtMs - $0.createdAtMs % 86_400_000 == day }
                #expect(point.requests == Int64(expected.count))
                #expect(point.tokens == expected.reduce(0) { $0 + $1.inputTokens + $1.outputTokens })
            }

            // Lists: exact times, filters, pages, CSV.
            let failedClaude = rows.filter { $0.provider == "claude" && $0.status >= 400 }
            let page = try await Self.get(fixture, "/analytics/usage?provider=claude&failed=true&limit=5", as: UsagePage.self)
            #expect(page.total == Int64(failedClaude.count))
            #expect(page.records.count == min(5, failedClaude.count))
            let csv = try await fixture.send(
                .get, "/analytics/usage?userId=bob&limit=1000", headers: [.adminKey: Harness.adminKeyCanary, .accept: "text/csv"])
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = String(buffer: csv.body).split(separator: "\r\n")
            #expect(lines.first == Substring(UsageCSV.columns.joined(separator: ",")))
            #expect(lines.count == 1 + rows.filter { $0.userId == "bob" }.count)

            // The rollups the writer kept equal the ones the rebuild computes from the rows.
            try await DatabaseFactory.with(final.database, logger: Harness.logger(MemorySink())) { database in
                func fingerprints() async throws -> [Int64] {
                    try await database.withSQL { sql in
                        var result: [Int64] = []
                        for table in UsageRollup.tables {
                            let row = try await sql.raw(
                                SQLQueryString(
                                    stringLiteral:
                                        "SELECT COUNT(*) AS n, CAST(SUM(requests * 7 + failed * 3 + input_tokens + output_tokens * 5 + cost_micros + latency_ms) AS BIGINT) AS h FROM "
                                        + table)
                            ).first()
                            result += [
                                try row?.decode(column: "n", as: Int64.self) ?? -1, try row?.decode(column: "h", as: Int64.self) ?? -1,
                            ]
                        }
                        return result
                    }
                }
                let kept = try await fingerprints()
                _ = try await AnalyticsStore(database: database).rebuildRollups()
                #expect(try await fingerprints() == kept)
            }
        }
    }

    /// Top users over bounds that cut days in the middle: whole days come from the daily rollup,
    /// the cut days from the hourly one, and together they equal the rows of the hours in range.
    @Test(arguments: Harness.kinds)
    func topUsersOverPartialDaysEqualTheRowsInRange(_ kind: DatabaseKind) async throws {
        let rows = Self.rows()
        try await Self.withSeededApp(kind, rows: rows) { fixture, final in
            _ = try await fixture.token("ana", app: try await fixture.createApp("app.one"))
            for (from, to) in [
                (Self.start + 7 * 3_600_000 + 1000, Self.start + 58 * 3_600_000 + 5000),
                (Self.start + 30 * 3_600_000, Self.start + 40 * 3_600_000),
                (Self.start + 24 * 3_600_000, Self.start + 48 * 3_600_000),
            ] {
                let first = (from + 3_599_999) / 3_600_000 * 3_600_000
                let inRange = rows.filter {
                    let hour = $0.createdAtMs - $0.createdAtMs % 3_600_000
                    return hour >= first && hour < to
                }
                let query = "?from=\(APICoding.formatDate(Millis.date(from)))&to=\(APICoding.formatDate(Millis.date(to)))"
                let overview = try await Self.get(fixture, "/analytics/overview" + query, as: AnalyticsOverview.self)
                let expected = Dictionary(grouping: inRange, by: \.userId)
                #expect(overview.totalUsers == Int64(expected.count))
                #expect(overview.totalRequests == Int64(inRange.count))
                for user in overview.topUsers {
                    #expect(user.requests == Int64(expected[user.userId]?.count ?? -1))
                    #expect(user.costMicros == expected[user.userId]?.reduce(0) { $0 + $1.costMicros })
                }
                let series = try await Self.get(
                    fixture, "/analytics/timeseries" + query + "&granularity=day&groupBy=user", as: Timeseries.self)
                #expect(series.points.reduce(0) { $0 + $1.requests } == Int64(inRange.count))
                // Providers, costs and series by provider: whole days and cut hours of the totals.
                for stats in overview.apiStats {
                    let mine = inRange.filter { $0.provider == stats.provider }
                    #expect(stats.requests == Int64(mine.count))
                    #expect(stats.failed == Int64(mine.filter { $0.status >= 400 }.count))
                    #expect(stats.costMicros == mine.reduce(0) { $0 + $1.costMicros })
                }
                let costs = try await Self.get(fixture, "/analytics/costs" + query, as: CostBreakdown.self)
                #expect(costs.totalCostMicros == inRange.reduce(0) { $0 + $1.costMicros })
                let byProvider = try await Self.get(
                    fixture, "/analytics/timeseries" + query + "&granularity=day&groupBy=provider", as: Timeseries.self)
                for point in byProvider.points {
                    let day = Millis.from(point.bucket)
                    let expected = inRange.filter { $0.provider == point.group && $0.createdAtMs - $0.createdAtMs % 86_400_000 == day }
                    #expect(point.requests == Int64(expected.count))
                }
                #expect(byProvider.points.reduce(0) { $0 + $1.requests } == Int64(inRange.count))
                let hourly = try await Self.get(fixture, "/analytics/timeseries" + query + "&granularity=hour", as: Timeseries.self)
                #expect(hourly.points.reduce(0) { $0 + $1.tokens } == inRange.reduce(0) { $0 + $1.inputTokens + $1.outputTokens })
                let user = try await Self.get(fixture, "/analytics/user/ana" + query, as: UserAnalytics.self)
                #expect(user.totalRequests == Int64(inRange.filter { $0.userId == "ana" }.count))
            }
        }
    }

    @Test func csvFieldsAreQuotedAndFormulasDefused() {
        #expect(UsageCSV.escape("plain") == "plain")
        #expect(UsageCSV.escape("a,b") == "\"a,b\"")
        #expect(UsageCSV.escape("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(UsageCSV.escape("=cmd()") == "'=cmd()")
        #expect(UsageCSV.escape("-1,2") == "\"'-1,2\"")
    }
}

/// A small deterministic generator (SplitMix64), so the seeded rows are the same every run. The
/// unit tests keep their own copy (`ValidationTests`): the two test targets share no code.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
