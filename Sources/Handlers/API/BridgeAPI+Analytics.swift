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

    /// A page as JSON, or with `Accept: text/csv` up to `limit` records as CSV, streamed.
    public func listUsage(_ input: Operations.ListUsage.Input, request: Request, context: Context) async throws -> Response {
        let filter = AnalyticsStore.UsageFilter(
            range: Self.range(from: input.from, to: input.to, startDate: input.startDate, endDate: input.endDate),
            userId: input.userId, provider: input.provider?.lowercased(), model: input.model, failed: input.failed
        )
        let limit = input.limit ?? 100
        let offset = input.offset ?? 0
        let cursor = try input.cursor.map { text in
            guard let cursor = AnalyticsStore.UsageCursor(text) else {
                throw AppError.invalidInput(
                    InputError(location: .query, name: "cursor", reason: "is not a cursor this server gave", kind: .constraint))
            }
            return cursor
        }
        if request.headers[.accept]?.lowercased().contains("text/csv") == true {
            return csv(filter, after: cursor, limit: limit, offset: offset)
        }
        // A JSON page holds 1,000 records at most: a larger limit (for CSV) is read as 1,000.
        let pageLimit = min(limit, 1000)
        let page = try await analytics.records(filter, after: cursor, limit: pageLimit, offset: offset)
        let total = try await analytics.total(filter)
        let next = page.next.map { Self.link(path: request.uri.path, query: request.uri.query, cursor: $0.text) }
        return try APIResponse.json(
            UsagePage(
                records: page.records, total: total.count, totalIsEstimate: total.isEstimate, limit: pageLimit, offset: offset,
                nextCursor: page.next?.text, next: next),
            status: .ok)
    }

    /// This request's path and query with `cursor` set and `offset` dropped; the other parameters
    /// are kept as the client encoded them (a cursor is digits and a dot: nothing to encode).
    static func link(path: String, query: String?, cursor: String) -> String {
        let kept = (query ?? "").split(separator: "&").filter { item in
            let name = item.split(separator: "=", maxSplits: 1).first ?? ""
            return name != "cursor" && name != "offset"
        }
        return path + "?" + (kept + ["cursor=" + cursor]).joined(separator: "&")
    }

    /// The records as CSV, read and written 500 at a time: the whole answer is never in memory.
    /// A failure after the head can only cut the stream short.
    func csv(_ filter: AnalyticsStore.UsageFilter, after cursor: AnalyticsStore.UsageCursor?, limit: Int64, offset: Int64) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"usage.csv\""
        let analytics = self.analytics
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: UsageCSV.header))
                var after = cursor
                var skip = offset
                var left = limit
                while left > 0 {
                    let page = try await analytics.records(filter, after: after, limit: min(left, 500), offset: skip)
                    if !page.records.isEmpty { try await writer.write(ByteBuffer(string: UsageCSV.lines(page.records))) }
                    guard let next = page.next else { break }
                    after = next
                    skip = 0
                    left -= Int64(page.records.count)
                }
                try await writer.finish(nil)
            })
    }
}
