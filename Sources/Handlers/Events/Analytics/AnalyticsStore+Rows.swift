import Foundation
public import Generated
import SQLKit

/// The usage rows: pages by keyset, their total from the rollups, the export read, retention.
extension AnalyticsStore {
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

        /// Plain comparisons, one per filter given, so that an index serves each (migration 15):
        /// `(user_id | provider | model, created_at_ms, id)`, and failures' partial index, whose
        /// predicate `status >= 400` appears here word for word.
        var conditions: [SQLQueryString] {
            var conditions = dimensions
            if range.fromMs != nil || range.toMs != nil { conditions.insert(bounds("created_at_ms", range.fromMs, range.toMs), at: 0) }
            if let failed { conditions.append(failed ? "status >= 400" : "status < 400") }
            return conditions
        }

        /// The filters the rollups also have as columns (their total reads them there).
        var dimensions: [SQLQueryString] {
            var conditions: [SQLQueryString] = []
            if let userId { conditions.append("user_id = \(bind: userId)") }
            if let provider { conditions.append("provider = \(bind: provider)") }
            if let model { conditions.append("model = \(bind: model)") }
            return conditions
        }
    }

    /// Where a page starts: the time and id of the last record of the page before, sent as
    /// `<createdAtMs>.<id>` (the spec's pattern: 1 to 18 digits each, so both fit in Int64).
    public struct UsageCursor: Sendable, Equatable {
        public var createdAtMs: Int64
        public var id: Int64

        public init(createdAtMs: Int64, id: Int64) {
            self.createdAtMs = createdAtMs
            self.id = id
        }

        public init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let time = Int64(parts[0]), let id = Int64(parts[1]), time >= 0, id >= 0 else { return nil }
            self.init(createdAtMs: time, id: id)
        }

        public var text: String { "\(createdAtMs).\(id)" }
    }

    /// A page of records, newest first, after `cursor` (then `offset` more skipped), and the
    /// cursor of the next page when this one is full.
    public func records(_ filter: UsageFilter, after cursor: UsageCursor? = nil, limit: Int64, offset: Int64 = 0) async throws
        -> (records: [UsageRecordView], next: UsageCursor?)
    {
        var conditions = filter.conditions
        if let cursor { conditions.append("(created_at_ms, id) < (\(bind: cursor.createdAtMs), \(bind: cursor.id))") }
        var query: SQLQueryString = "SELECT * FROM usage_records"
        if let condition = conditions.allOf { query = query + " WHERE " + condition }
        query = query + " ORDER BY created_at_ms DESC, id DESC LIMIT \(bind: limit)"
        if offset > 0 { query = query + " OFFSET \(bind: offset)" }
        let statement = query
        let rows = try await database.withSQL { sql in try await sql.raw(statement).all() }
        var last: UsageCursor?
        let records = try rows.map { row in
            let record = try row.decode(model: UsageRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
            last = UsageCursor(createdAtMs: record.createdAtMs, id: try row.decode(column: "id", as: Int64.self))
            return Self.view(record)
        }
        return (records, Int64(records.count) == limit ? last : nil)
    }

    /// How many records match, from the rollups rather than a count over the rows: the hours that
    /// start within the range, from the hour of the oldest row kept (retention deletes whole
    /// hours). Exact when the range's bounds are whole hours.
    public func total(_ filter: UsageFilter) async throws -> (count: Int64, isEstimate: Bool) {
        try await database.withSQL { sql in
            guard
                let oldest = try await sql.raw("SELECT MIN(created_at_ms) AS t FROM usage_records").first()?.decode(
                    column: "t", as: Int64?.self)
            else { return (0, false) }
            var range = filter.range
            range.fromMs = max(range.fromMs ?? .min, Self.floor(oldest, UsageRollup.hourMs))
            let spans = Self.spans(
                range, of: filter.userId == nil ? .totals : .users, columns: "requests, failed",
                filter: filter.dimensions.allOf)
            let counted: SQLQueryString =
                switch filter.failed {
                case true?: "failed"
                case false?: "requests - failed"
                case nil: "requests"
                }
            let count =
                try await sql.raw("SELECT CAST(COALESCE(SUM(\(counted)), 0) AS BIGINT) AS n FROM (\(spans)) s").first()?.decode(
                    column: "n", as: Int64.self) ?? 0
            return (count, !filter.range.isWholeHours)
        }
    }

    /// Up to `limit` rows with ids after `afterId` and up to `upTo`, in id order, with their ids
    /// (the export).
    public func rows(after afterId: Int64, upTo: Int64, limit: Int64) async throws -> [(id: Int64, record: UsageRecord)] {
        try await database.withSQL { sql in
            try await sql.raw(
                "SELECT * FROM usage_records WHERE id > \(bind: afterId) AND id <= \(bind: upTo) ORDER BY id LIMIT \(bind: limit)"
            ).all().map { row in
                (
                    try row.decode(column: "id", as: Int64.self),
                    try row.decode(model: UsageRecord.self, keyDecodingStrategy: .convertFromSnakeCase)
                )
            }
        }
    }

    /// The largest usage row id so far (0 for none).
    public func lastRowId() async throws -> Int64 {
        try await database.withSQL { sql in
            try await sql.raw("SELECT MAX(id) AS n FROM usage_records").first()?.decode(column: "n", as: Int64?.self) ?? 0
        }
    }

    /// Deletes up to `limit` of the oldest rows created before the cutoff (a statement short
    /// enough not to hold writers back); the rollups stay. Answers how many went.
    public func deleteRecords(before cutoffMs: Int64, limit: Int64) async throws -> Int64 {
        try await database.withSQL { sql in
            Int64(
                try await sql.raw(
                    """
                    DELETE FROM usage_records WHERE id IN
                        (SELECT id FROM usage_records WHERE created_at_ms < \(bind: cutoffMs) ORDER BY created_at_ms LIMIT \(bind: limit))
                    RETURNING id
                    """
                ).all().count)
        }
    }
}
