import Foundation
import Testing

/// Every store, ledger and event writer is built once, by the wiring (`Sources/Server`), and
/// handed to what uses it: none is built inside `Sources/Handlers` (issue 14, "everything built
/// once"). A construction added there fails this test.
@Suite("Wiring")
struct WiringTests {
    static let handlers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Sources/Handlers")

    @Test func handlersBuildNoStoreLedgerOrEventWriter() throws {
        let constructions = ["Store(database:", "AuditLog(database:", "QuotaLedger(", "WebhookEvents(", "UsageRecorder("]
        let files = try #require(FileManager.default.enumerator(at: Self.handlers, includingPropertiesForKeys: nil)).compactMap {
            $0 as? URL
        }
        .filter { $0.pathExtension == "swift" }
        #expect(files.count > 20, "the sources were not found")
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("///") {
                for construction in constructions where line.contains(construction) && !line.contains("init(") {
                    Issue.record("\(file.lastPathComponent):\(number + 1) builds \(construction): build it in the wiring and pass it in")
                }
            }
        }
    }
}
