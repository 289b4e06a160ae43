import Foundation
import Generated

/// Ships usage rows to a warehouse: every row after a cursor (a row id), as JSON Lines or CSV,
/// each line carrying its `id` so a loader can also drop any it has. Rows are read in id order
/// up to a horizon (`AnalyticsStore.lastRowId()` taken before a pause, so every insert that drew
/// a smaller id has committed): a row is never skipped, and never sent by two runs whose cursors
/// follow each other.
public struct UsageExport: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, csv
    }

    let store: AnalyticsStore
    let format: Format
    let batch: Int64

    public init(store: AnalyticsStore, format: Format, batch: Int64 = 1000) {
        self.store = store
        self.format = format
        self.batch = batch
    }

    /// The CSV header line; JSON Lines have none.
    public var header: String? { format == .csv ? (["id"] + UsageCSV.columns).joined(separator: ",") + "\r\n" : nil }

    /// Writes the rows with ids in `(after, upTo]`, `batch` at a time; answers how many.
    public func run(after: Int64, upTo: Int64, write: (String) async throws -> Void) async throws -> Int64 {
        var cursor = after
        var count: Int64 = 0
        let encoder = APICoding.encoder
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        while cursor < upTo {
            let rows = try await store.rows(after: cursor, upTo: upTo, limit: batch)
            guard let last = rows.last else { break }
            var text = ""
            for (id, record) in rows {
                let view = AnalyticsStore.view(record)
                switch format {
                case .jsonl:
                    text += String(decoding: try encoder.encode(Line(id: id, record: view)), as: UTF8.self) + "\n"
                case .csv:
                    text += ([String(id)] + UsageCSV.fields(view)).map { UsageCSV.escape($0 ?? "") }.joined(separator: ",") + "\r\n"
                }
            }
            try await write(text)
            count += Int64(rows.count)
            cursor = last.id
        }
        return count
    }

    /// A record with its row id, as one object.
    struct Line: Encodable {
        let id: Int64
        let record: UsageRecordView

        enum Key: String, CodingKey { case id }

        func encode(to encoder: any Encoder) throws {
            try record.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(id, forKey: .id)
        }
    }
}
