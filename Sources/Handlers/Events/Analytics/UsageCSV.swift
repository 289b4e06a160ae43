import Foundation
import Generated

/// Usage records as CSV (RFC 4180): a header row, then one row per record; fields with a comma,
/// quote or line break are quoted, and a leading `=`, `+`, `-` or `@` is prefixed with `'` so a
/// spreadsheet does not run it as a formula.
enum UsageCSV {
    static let columns = [
        "createdAt", "requestId", "userId", "appId", "provider", "endpoint", "model", "status", "inputTokens", "outputTokens",
        "cachedTokens", "costMicros", "latencyMs", "ttfbMs", "streamed", "cancelled", "keySource", "splitKeyId",
    ]

    static var header: String { columns.joined(separator: ",") + "\r\n" }

    /// One line per record, each ending in CRLF.
    static func lines(_ records: [UsageRecordView]) -> String {
        records.reduce(into: "") { text, record in text += fields(record).map { escape($0 ?? "") }.joined(separator: ",") + "\r\n" }
    }

    /// A record's fields, in `columns`' order.
    static func fields(_ record: UsageRecordView) -> [String?] {
        [
            APICoding.formatDate(record.createdAt), record.requestId, record.userId, record.appId, record.provider, record.endpoint,
            record.model, String(record.status), String(record.inputTokens), String(record.outputTokens), String(record.cachedTokens),
            String(record.costMicros), String(record.latencyMs), record.ttfbMs.map(String.init), String(record.streamed),
            String(record.cancelled), record.keySource.rawValue, record.splitKeyId,
        ]
    }

    static func escape(_ field: String) -> String {
        var value = field
        if let first = value.first, "=+-@".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
