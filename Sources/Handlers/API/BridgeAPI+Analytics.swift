import Foundation
public import Generated
public import Hummingbird

extension BridgeAPI {
    /// `from`/`to`, or the old names `startDate`/`endDate`; either may stand alone. A range that
    /// ends before it starts is empty (zero counts), not an error.
    static func range(from: Date?, to: Date?, startDate: Date?, endDate: Date?) -> AnalyticsStore.Range {
        AnalyticsStore.Range(fromMs: (from ?? startDate).map(Millis.from), toMs: (to ?? endDate).map(Millis.from))
    }

    public func getAnalyticsOverview(_ input: Operations.GetAnalyticsOverview.Input, context: Context) async throws
        -> Operations.GetAnalyticsOverview.Output
    {
        .ok(try await analytics.overview(Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate)))
    }

    public func getAnalyticsCosts(_ input: Operations.GetAnalyticsCosts.Input, context: Context) async throws
        -> Operations.GetAnalyticsCosts.Output
    {
        .ok(try await analytics.costs(Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate)))
    }

    public func getAnalyticsErrors(_ input: Operations.GetAnalyticsErrors.Input, context: Context) async throws
        -> Operations.GetAnalyticsErrors.Output
    {
        .ok(try await analytics.errors(Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate)))
    }

    public func getUserAnalytics(_ input: Operations.GetUserAnalytics.Input, context: Context) async throws
        -> Operations.GetUserAnalytics.Output
    {
        let range = Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate)
        guard try await users.get(input.userId) != nil else { throw AppError.notFound(what: "user") }
        return .ok(try await analytics.user(input.userId, range))
    }

    public func getMyStats(_ input: Operations.GetMyStats.Input, context: Context) async throws -> Operations.GetMyStats.Output {
        let range = Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate)
        return .ok(try await analytics.user(try context.requireUser().userId, range))
    }

    public func getAnalyticsTimeseries(_ input: Operations.GetAnalyticsTimeseries.Input, context: Context) async throws
        -> Operations.GetAnalyticsTimeseries.Output
    {
        let range = Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate)
        return .ok(try await analytics.timeseries(range, granularity: input.granularity ?? .hour, groupBy: input.groupBy))
    }

    /// JSON, or CSV with `Accept: text/csv`.
    public func listUsage(_ input: Operations.ListUsage.Input, request: Request, context: Context) async throws -> Response {
        let filter = AnalyticsStore.UsageFilter(
            range: Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate),
            userId: input.userId, provider: input.provider?.lowercased(), model: input.model, failed: input.failed
        )
        let limit = input.limit ?? 100
        let offset = input.offset ?? 0
        let records = try await analytics.records(filter, limit: limit, offset: offset)
        if request.headers[.accept]?.lowercased().contains("text/csv") == true {
            var headers = HTTPFields()
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"usage.csv\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: UsageCSV.render(records))))
        }
        let total = try await analytics.count(filter)
        return try APIResponse.json(UsagePage(records: records, total: total, limit: limit, offset: offset), status: .ok)
    }
}

/// Usage records as CSV (RFC 4180): a header row, then one row per record; fields with a comma,
/// quote or line break are quoted, and a leading `=`, `+`, `-` or `@` is prefixed with `'` so a
/// spreadsheet does not run it as a formula.
enum UsageCSV {
    static let columns = [
        "createdAt", "requestId", "userId", "appId", "provider", "endpoint", "model", "status", "inputTokens", "outputTokens",
        "cachedTokens", "costMicros", "latencyMs", "ttfbMs", "streamed", "cancelled", "keySource", "splitKeyId",
    ]

    static func render(_ records: [UsageRecordView]) -> String {
        var lines = [columns.joined(separator: ",")]
        for record in records {
            let fields: [String?] = [
                APICoding.formatDate(record.createdAt), record.requestId, record.userId, record.appId, record.provider, record.endpoint,
                record.model,
                String(record.status), String(record.inputTokens), String(record.outputTokens), String(record.cachedTokens),
                String(record.costMicros),
                String(record.latencyMs), record.ttfbMs.map(String.init), String(record.streamed), String(record.cancelled),
                record.keySource.rawValue,
                record.splitKeyId,
            ]
            lines.append(fields.map { escape($0 ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func escape(_ field: String) -> String {
        var value = field
        if let first = value.first, "=+-@".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
