import Foundation
import Logging
import Testing

@testable import Handlers

@Suite("Security log file")
struct SecurityLogTests {
    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-seclog-\(UUID().uuidString)").path
    }

    @Test func onlySecurityEventsGoToTheFileOfTheirUTCDay() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try SecurityLogFile(directory: directory, retentionDays: 90)
        let stdout = MemorySink()
        let logger = Logger(label: "t") { JSONLogHandler(label: $0, level: .info, sink: stdout, securitySink: file) }
        logger.info("request", metadata: ["http.path": "/health"])
        logger.warning("security: address refused by an IP rule", metadata: ["security.event": "ip_denied", "client.ip": "203.0.113.9"])
        #expect(stdout.contents.count == 2)
        let text = try String(contentsOf: file.fileURL(for: Date()), encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines[0].contains("\"security.event\":\"ip_denied\""))
    }

    @Test func aNewDayOpensANewFileAndOldFilesAreDeleted() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try SecurityLogFile(directory: directory, retentionDays: 3)
        let day: (Int) -> Date = { Date(timeIntervalSince1970: 1_764_000_000 + Double($0) * 86_400) }
        for index in 0..<6 { file.write("{\"n\":\(index)}", now: day(index)) }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        // Day 5 keeps days 2 to 5 (the window reaches back 3 days).
        #expect(names == (2...5).map { file.fileURL(for: day($0)).lastPathComponent })
        #expect(try String(contentsOf: file.fileURL(for: day(5)), encoding: .utf8) == "{\"n\":5}\n")
    }
}
