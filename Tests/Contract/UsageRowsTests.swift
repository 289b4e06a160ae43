import ArgumentParser
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// The usage row list at scale: keyset pages, totals from the rollups, CSV streamed, retention in
/// batches; each checked against the rows computed here.
@Suite("Usage rows")
struct UsageRowsTests {
    /// Newest first, ties by insertion order reversed (the id), as the list orders them.
    static func newestFirst(_ rows: [UsageRecord]) -> [String] {
        rows.enumerated().sorted { ($0.element.createdAtMs, $0.offset) > ($1.element.createdAtMs, $1.offset) }.map(\.element.requestId)
    }

    /// Follows `next` from the first page to the last; answers the ids in order and the pages.
    static func walk(_ fixture: Fixture, _ path: String) async throws -> (ids: [String], pages: [UsagePage]) {
        var pages: [UsagePage] = []
        var next: String? = path
        while let link = next {
            let page = try await AnalyticsTests.get(fixture, link, as: UsagePage.self)
            pages.append(page)
            #expect((page.next == nil) == (page.nextCursor == nil))
            next = page.next
            if pages.count > 200 { break }
        }
        return (pages.flatMap { $0.records.map(\.requestId) }, pages)
    }

    @Test(arguments: Harness.kinds)
    func pagesByCursorCoverEveryFilterExactly(_ kind: DatabaseKind) async throws {
        let rows = AnalyticsTests.rows()
        try await AnalyticsTests.withSeededApp(kind, rows: rows) { fixture, _ in
            let from = AnalyticsTests.start + 5 * 3_600_000
            let to = AnalyticsTests.start + 50 * 3_600_000
            let bounds = "from=\(APICoding.formatDate(Millis.date(from)))&to=\(APICoding.formatDate(Millis.date(to)))"
            let cases: [(String, (UsageRecord) -> Bool)] = [
                ("", { _ in true }),
                ("userId=ana", { $0.userId == "ana" }),
                ("provider=Claude", { $0.provider == "claude" }),
                ("model=m-small", { $0.model == "m-small" }),
                ("failed=true", { $0.status >= 400 }),
                ("failed=false", { $0.status < 400 }),
                ("provider=claude&failed=true", { $0.provider == "claude" && $0.status >= 400 }),
                ("userId=bob&provider=openai&model=m-large", { $0.userId == "bob" && $0.provider == "openai" && $0.model == "m-large" }),
                (bounds, { $0.createdAtMs >= from && $0.createdAtMs < to }),
                // An offset's `+`, percent-encoded, survives into every `next` link.
                ("from=2025-11-29T06:00:00%2B01:00", { $0.createdAtMs >= from }),
                (
                    bounds + "&userId=ana&failed=false",
                    { $0.createdAtMs >= from && $0.createdAtMs < to && $0.userId == "ana" && $0.status < 400 }
                ),
            ]
            for (query, matches) in cases {
                let expected = Self.newestFirst(rows.filter(matches))
                let (ids, pages) = try await Self.walk(fixture, "/analytics/usage?limit=37&" + query)
                #expect(ids == expected, "\(query)")
                #expect(pages.last?.next == nil)
                for page in pages {
                    // Whole-hour bounds: the total from the rollups is exact.
                    #expect(page.total == Int64(expected.count), "\(query)")
                    #expect(page.totalIsEstimate == false)
                    #expect(page.limit == 37)
                }
                // Each link keeps the filters and the page size.
                if let link = pages.first?.next {
                    #expect(link.hasPrefix("/analytics/usage?limit=37"))
                    #expect(link.contains("cursor="))
                }
            }
            // Offset still works, and a cursor page then an offset into the next one agree.
            let all = Self.newestFirst(rows)
            let byOffset = try await AnalyticsTests.get(fixture, "/analytics/usage?limit=10&offset=25", as: UsagePage.self)
            #expect(byOffset.records.map(\.requestId) == Array(all[25..<35]))
            let first = try await AnalyticsTests.get(fixture, "/analytics/usage?limit=20", as: UsagePage.self)
            let cursor = try #require(first.nextCursor)
            let skipped = try await AnalyticsTests.get(fixture, "/analytics/usage?limit=10&offset=5&cursor=\(cursor)", as: UsagePage.self)
            #expect(skipped.records.map(\.requestId) == Array(all[25..<35]))
        }
    }

    @Test(arguments: Harness.kinds)
    func totalsOfCutHoursAreEstimatesOfWholeHours(_ kind: DatabaseKind) async throws {
        let rows = AnalyticsTests.rows()
        try await AnalyticsTests.withSeededApp(kind, rows: rows) { fixture, _ in
            let from = AnalyticsTests.start + 7 * 3_600_000 + 1000
            let to = AnalyticsTests.start + 58 * 3_600_000 + 5000
            let query = "from=\(APICoding.formatDate(Millis.date(from)))&to=\(APICoding.formatDate(Millis.date(to)))"
            let page = try await AnalyticsTests.get(fixture, "/analytics/usage?provider=gemini&" + query, as: UsagePage.self)
            #expect(page.totalIsEstimate)
            // The hours that start within [from, to).
            let firstHour = (from + 3_599_999) / 3_600_000 * 3_600_000
            let counted = rows.filter {
                let hour = $0.createdAtMs - $0.createdAtMs % 3_600_000
                return $0.provider == "gemini" && hour >= firstHour && hour < to
            }
            #expect(page.total == Int64(counted.count))
            // The rows themselves keep exact times.
            let exact = rows.filter { $0.provider == "gemini" && $0.createdAtMs >= from && $0.createdAtMs < to }
            #expect(try await Self.walk(fixture, "/analytics/usage?limit=1000&provider=gemini&" + query).ids == Self.newestFirst(exact))
        }
    }

    @Test(arguments: Harness.kinds)
    func csvStreamsEveryRecordInOrder(_ kind: DatabaseKind) async throws {
        let rows = AnalyticsTests.rows()
        try await AnalyticsTests.withSeededApp(kind, rows: rows) { fixture, _ in
            // More than one read of 500: the whole table, then a limit that cuts the second read.
            for (limit, count) in [(1_000_000, rows.count), (550, 550)] {
                let response = try await fixture.send(
                    .get, "/analytics/usage?limit=\(limit)", headers: [.adminKey: Harness.adminKeyCanary, .accept: "text/csv"])
                #expect(response.status == .ok)
                let lines = String(buffer: response.body).split(separator: "\r\n")
                #expect(lines.first == Substring(UsageCSV.columns.joined(separator: ",")))
                #expect(lines.count == 1 + count)
                let ids = lines.dropFirst().map { $0.split(separator: ",")[1] }.map(String.init)
                #expect(ids == Array(Self.newestFirst(rows).prefix(count)))
            }
        }
    }

    @Test(arguments: Harness.kinds)
    func badCursorsAreRefusedAndJSONPagesHoldAThousand(_ kind: DatabaseKind) async throws {
        try await AnalyticsTests.withSeededApp(kind, rows: []) { fixture, _ in
            for cursor in ["bm90LWEtY3Vyc29y", "123", "1.2.3", "-1.5", "1234567890123456789.1"] {
                let response = try await fixture.send(.get, "/analytics/usage?cursor=\(cursor)", headers: Fixture.admin)
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("\"validation_failed\""))
            }
            // Any cursor of the right shape is a place in the list: here, before every record.
            let start = try await AnalyticsTests.get(fixture, "/analytics/usage?cursor=0.0", as: UsagePage.self)
            #expect(start.records.isEmpty && start.next == nil)
            // A JSON page holds 1,000 records at most, and says so.
            let large = try await AnalyticsTests.get(fixture, "/analytics/usage?limit=1000000", as: UsagePage.self)
            #expect(large.limit == 1000)
            let empty = try await AnalyticsTests.get(fixture, "/analytics/usage", as: UsagePage.self)
            #expect(empty.records.isEmpty && empty.total == 0 && empty.next == nil)
        }
    }

    /// Retention deletes whole hours in small statements; the rollups stay, and the list's total
    /// counts only the hours still kept.
    @Test(arguments: Harness.kinds)
    func retentionDeletesInBatchesAndTotalsFollow(_ kind: DatabaseKind) async throws {
        let rows = AnalyticsTests.rows()
        try await AnalyticsTests.withSeededApp(kind, rows: rows) { fixture, config in
            let cutoff = AnalyticsTests.start + 30 * 3_600_000
            let kept = rows.filter { $0.createdAtMs >= cutoff }
            let removed = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                try await UsageRetention(
                    store: AnalyticsStore(database: database), days: 1, logger: Harness.logger(MemorySink()), batch: 7, pause: .zero
                ).sweep(before: cutoff)
            }
            #expect(removed == Int64(rows.count - kept.count))
            let page = try await AnalyticsTests.get(fixture, "/analytics/usage?limit=1000", as: UsagePage.self)
            #expect(page.records.map(\.requestId) == Self.newestFirst(kept))
            #expect(page.total == Int64(kept.count))
            let failed = try await AnalyticsTests.get(fixture, "/analytics/usage?failed=true&userId=bob", as: UsagePage.self)
            #expect(failed.total == Int64(kept.filter { $0.status >= 400 && $0.userId == "bob" }.count))
            // The aggregates still count every row.
            let overview = try await AnalyticsTests.get(fixture, "/analytics/overview", as: AnalyticsOverview.self)
            #expect(overview.totalRequests == Int64(rows.count))
        }
    }

    /// The export sends each row once across runs whose cursors follow each other, with its id.
    @Test(arguments: Harness.kinds)
    func exportSendsEachRowOnceAcrossRuns(_ kind: DatabaseKind) async throws {
        let rows = AnalyticsTests.rows()
        try await Harness.withFreshConfig(kind) { config in
            _ = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                try await Migrator(migrations: Migrations.all).run(on: database, logger: Harness.logger(MemorySink()))
            }
            try await AnalyticsTests.seed(config, rows: Array(rows[..<550]))
            let (first, firstCursor) = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                let store = AnalyticsStore(database: database)
                let upTo = try await store.lastRowId()
                var text = ""
                let count = try await UsageExport(store: store, format: .jsonl, batch: 64).run(after: 0, upTo: upTo) { text += $0 }
                #expect(count == 550)
                return (text, upTo)
            }
            try await AnalyticsTests.seed(config, rows: Array(rows[550...]))
            let (second, csv) = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                let store = AnalyticsStore(database: database)
                let upTo = try await store.lastRowId()
                var text = ""
                _ = try await UsageExport(store: store, format: .jsonl).run(after: firstCursor, upTo: upTo) { text += $0 }
                let export = UsageExport(store: store, format: .csv)
                var csv = export.header ?? ""
                _ = try await export.run(after: firstCursor, upTo: upTo) { csv += $0 }
                return (text, csv)
            }
            struct Line: Decodable {
                let id: Int64
                let requestId: String
                let costMicros: Int64
            }
            let lines = try (first + second).split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            #expect(lines.map(\.requestId) == rows.map(\.requestId))
            #expect(lines.map(\.costMicros) == rows.map(\.costMicros))
            #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.id < $1.id })
            let csvLines = csv.split(separator: "\r\n")
            #expect(csvLines.first == Substring((["id"] + UsageCSV.columns).joined(separator: ",")))
            #expect(csvLines.dropFirst().map { String($0.split(separator: ",")[2]) } == rows[550...].map(\.requestId))
        }
    }

    /// `safeapi-bridge export-usage` writes its file whole, then advances the cursor file.
    @Test(arguments: Harness.kinds)
    func exportCommandAdvancesItsCursorFile(_ kind: DatabaseKind) async throws {
        let rows = AnalyticsTests.rows()
        try await Harness.withFreshConfig(kind) { config in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-export-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let cursor = folder + "/export.cursor"
            _ = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                try await Migrator(migrations: Migrations.all).run(on: database, logger: Harness.logger(MemorySink()))
            }
            try await AnalyticsTests.seed(config, rows: Array(rows[..<100]))
            func export(_ name: String) async throws -> [Substring] {
                let output = folder + "/" + name
                let command = try ExportUsage.parse(["--cursor-file", cursor, "--output", output, "--settle", "0"])
                _ = try await command.export(config: config, logger: Harness.logger(MemorySink()))
                #expect(!FileManager.default.fileExists(atPath: output + ".partial"))
                return try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            }
            #expect(try await export("one.jsonl").count == 100)
            let first = try String(contentsOfFile: cursor, encoding: .utf8)
            #expect(try await export("two.jsonl").isEmpty)
            try await AnalyticsTests.seed(config, rows: Array(rows[100..<130]))
            let third = try await export("three.jsonl")
            #expect(third.count == 30)
            #expect(third.first?.contains("\"requestId\":\"req-100\"") == true)
            #expect(try String(contentsOfFile: cursor, encoding: .utf8) != first)
        }
    }
}
