import SQLKit

/// The usage rollups, three tables of sums (requests, failures, tokens, cost, latency):
/// - `usage_hourly`: per UTC hour, user, provider and model (one user's figures);
/// - `usage_hourly_totals`: per UTC hour, app, provider and model (totals, providers, time series);
/// - `usage_daily_users`: per UTC day and user (how many users, and the top ones).
/// The usage writer adds each batch to all three right after writing the batch's rows, on the same
/// connection; `Migrations.rollupRebuild` fills them from the rows.
enum UsageRollup {
    static let hourMs: Int64 = 3_600_000
    static let dayMs: Int64 = 86_400_000

    static let tables = ["usage_hourly", "usage_hourly_totals", "usage_daily_users"]

    struct Sums {
        var requests: Int64 = 0
        var failed: Int64 = 0
        var inputTokens: Int64 = 0
        var outputTokens: Int64 = 0
        var costMicros: Int64 = 0
        var latencyMs: Int64 = 0

        mutating func add(_ record: UsageRecord) {
            requests += 1
            failed += record.status >= 400 ? 1 : 0
            inputTokens += record.inputTokens
            outputTokens += record.outputTokens
            costMicros += record.costMicros
            latencyMs += record.latencyMs
        }
    }

    /// The summed columns, in `Sums`' order.
    static let sumColumns = ["requests", "failed", "input_tokens", "output_tokens", "cost_micros", "latency_ms"]

    /// One row per distinct `key`, in key order: `values` of the key's first record (its key and
    /// carried columns), then the sums of all its records.
    static func rows(_ records: [UsageRecord], by key: (UsageRecord) -> [String], values: (UsageRecord) -> [any Encodable & Sendable])
        -> [[any Encodable & Sendable]]
    {
        var groups: [[String]: (first: UsageRecord, sums: Sums)] = [:]
        for record in records { groups[key(record), default: (record, Sums())].sums.add(record) }
        return groups.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { _, group in
            let sums = group.sums
            return values(group.first) + [sums.requests, sums.failed, sums.inputTokens, sums.outputTokens, sums.costMicros, sums.latencyMs]
        }
    }

    /// Adds a batch to the three tables: one statement per table (per 200 rows). A user belongs to
    /// one app, so the app carried by a user's rows is the same for all of them.
    static func add(_ records: [UsageRecord], on sql: any SQLDatabase) async throws {
        let hour: (UsageRecord) -> Int64 = { $0.createdAtMs - $0.createdAtMs % hourMs }
        let day: (UsageRecord) -> Int64 = { $0.createdAtMs - $0.createdAtMs % dayMs }
        try await sql.addSums(
            into: "usage_hourly", key: ["hour_ms", "user_id", "provider", "model"], carried: ["app_id"], sums: sumColumns,
            rows: rows(records, by: { [String(hour($0)), $0.userId, $0.provider, $0.model ?? ""] }) {
                [hour($0), $0.userId, $0.provider, $0.model ?? "", $0.appId]
            })
        try await sql.addSums(
            into: "usage_hourly_totals", key: ["hour_ms", "app_id", "provider", "model"], sums: sumColumns,
            rows: rows(records, by: { [String(hour($0)), $0.appId, $0.provider, $0.model ?? ""] }) {
                [hour($0), $0.appId, $0.provider, $0.model ?? ""]
            })
        try await sql.addSums(
            into: "usage_daily_users", key: ["day_ms", "user_id"], carried: ["app_id"], sums: sumColumns,
            rows: rows(records, by: { [String(day($0)), $0.userId] }) { [day($0), $0.userId, $0.appId] })
    }
}
