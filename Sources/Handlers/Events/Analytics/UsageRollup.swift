import SQLKit

/// The usage rollups: tables of sums (requests, failures, tokens, cost, latency), each keyed by a
/// few dimensions of a usage row, so every analytics route reads rows whose number grows with the
/// period, users and models, never with the requests. The usage writer adds each batch to all of
/// them right after writing the batch's rows, on the same connection; `Migrations.rollupRebuild`
/// fills them from the rows.
enum UsageRollup {
    static let hourMs: Int64 = 3_600_000
    static let dayMs: Int64 = 86_400_000

    /// What a rollup is keyed by (or carries): a column, and its value for a usage row.
    enum Dimension: String {
        case hour = "hour_ms"
        case day = "day_ms"
        case user = "user_id"
        case app = "app_id"
        case provider
        case model

        func value(_ record: UsageRecord) -> String {
            switch self {
            case .hour: String(record.createdAtMs - record.createdAtMs % hourMs)
            case .day: String(record.createdAtMs - record.createdAtMs % dayMs)
            case .user: record.userId
            case .app: record.appId
            case .provider: record.provider
            case .model: record.model ?? ""
            }
        }

        func sqlValue(_ record: UsageRecord) -> any Encodable & Sendable {
            switch self {
            case .hour: record.createdAtMs - record.createdAtMs % hourMs
            case .day: record.createdAtMs - record.createdAtMs % dayMs
            default: value(record)
            }
        }
    }

    /// A rollup: its key, and the columns written when a row is created (a user belongs to one
    /// app, so the app carried by a user's rows is the same for all of them).
    struct Table {
        let name: String
        let key: [Dimension]
        var carried: [Dimension] = []
    }

    static let all = [
        // One user's figures.
        Table(name: "usage_hourly", key: [.hour, .user, .provider, .model], carried: [.app]),
        Table(name: "usage_daily", key: [.day, .user, .provider, .model], carried: [.app]),
        // Totals by provider, model and app, and series.
        Table(name: "usage_hourly_totals", key: [.hour, .app, .provider, .model]),
        Table(name: "usage_daily_totals", key: [.day, .app, .provider, .model]),
        // Totals, the hour-of-day profile, the hourly series.
        Table(name: "usage_hours", key: [.hour]),
        // How many users, and the top ones: per hour, per day, and over all time.
        Table(name: "usage_hourly_users", key: [.hour, .user], carried: [.app]),
        Table(name: "usage_daily_users", key: [.day, .user], carried: [.app]),
        Table(name: "usage_users", key: [.user], carried: [.app]),
    ]

    static var tables: [String] { all.map(\.name) }

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

        var values: [any Encodable & Sendable] { [requests, failed, inputTokens, outputTokens, costMicros, latencyMs] }
    }

    /// The summed columns, in `Sums`' order.
    static let sumColumns = ["requests", "failed", "input_tokens", "output_tokens", "cost_micros", "latency_ms"]

    /// One row per distinct key of `table`, in key order: the key's values and the carried ones
    /// (of the key's first record), then the sums of all its records.
    static func rows(_ records: [UsageRecord], for table: Table) -> [[any Encodable & Sendable]] {
        var groups: [[String]: (first: UsageRecord, sums: Sums)] = [:]
        for record in records { groups[table.key.map { $0.value(record) }, default: (record, Sums())].sums.add(record) }
        return groups.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { _, group in
            (table.key + table.carried).map { $0.sqlValue(group.first) } + group.sums.values
        }
    }

    /// Adds a batch to every rollup: one statement per table (per 200 rows).
    static func add(_ records: [UsageRecord], on sql: any SQLDatabase) async throws {
        for table in all {
            try await sql.addSums(
                into: table.name, key: table.key.map(\.rawValue), carried: table.carried.map(\.rawValue), sums: sumColumns,
                rows: rows(records, for: table))
        }
    }
}
