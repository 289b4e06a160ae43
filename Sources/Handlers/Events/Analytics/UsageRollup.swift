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

    /// Sums of `records` per key, in key order (so concurrent writers take row locks in one order).
    static func grouped(_ records: [UsageRecord], by key: (UsageRecord) -> [String]) -> [(key: [String], sums: Sums)] {
        var result: [[String]: Sums] = [:]
        for record in records { result[key(record), default: Sums()].add(record) }
        return result.map { ($0.key, $0.value) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    static func add(_ records: [UsageRecord], on sql: any SQLDatabase) async throws {
        let hour: (UsageRecord) -> Int64 = { $0.createdAtMs - $0.createdAtMs % hourMs }
        for (key, sums) in grouped(records, by: { [String(hour($0)), $0.userId, $0.provider, $0.model ?? "", $0.appId] }) {
            try await sql.raw(
                """
                INSERT INTO usage_hourly (hour_ms, user_id, provider, model, app_id, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
                VALUES (\(bind: Int64(key[0]) ?? 0), \(bind: key[1]), \(bind: key[2]), \(bind: key[3]), \(bind: key[4]), \(values(sums)))
                ON CONFLICT (hour_ms, user_id, provider, model) DO UPDATE SET \(SQLQueryString(stringLiteral: assignments("usage_hourly")))
                """
            ).run()
        }
        for (key, sums) in grouped(records, by: { [String(hour($0)), $0.appId, $0.provider, $0.model ?? ""] }) {
            try await sql.raw(
                """
                INSERT INTO usage_hourly_totals (hour_ms, app_id, provider, model, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
                VALUES (\(bind: Int64(key[0]) ?? 0), \(bind: key[1]), \(bind: key[2]), \(bind: key[3]), \(values(sums)))
                ON CONFLICT (hour_ms, app_id, provider, model) DO UPDATE SET \(SQLQueryString(stringLiteral: assignments("usage_hourly_totals")))
                """
            ).run()
        }
        for (key, sums) in grouped(records, by: { [String($0.createdAtMs - $0.createdAtMs % dayMs), $0.userId, $0.appId] }) {
            try await sql.raw(
                """
                INSERT INTO usage_daily_users (day_ms, user_id, app_id, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
                VALUES (\(bind: Int64(key[0]) ?? 0), \(bind: key[1]), \(bind: key[2]), \(values(sums)))
                ON CONFLICT (day_ms, user_id) DO UPDATE SET \(SQLQueryString(stringLiteral: assignments("usage_daily_users")))
                """
            ).run()
        }
    }

    static func values(_ sums: Sums) -> SQLQueryString {
        "\(bind: sums.requests), \(bind: sums.failed), \(bind: sums.inputTokens), \(bind: sums.outputTokens), \(bind: sums.costMicros), \(bind: sums.latencyMs)"
    }

    /// `column = table.column + excluded.column` for each sum; `table` is one of the fixed names.
    static func assignments(_ table: String) -> String {
        ["requests", "failed", "input_tokens", "output_tokens", "cost_micros", "latency_ms"]
            .map { "\($0) = \(table).\($0) + excluded.\($0)" }.joined(separator: ", ")
    }
}
