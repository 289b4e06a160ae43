public import Foundation
import Synchronization

/// The security log: the JSON lines that carry `security.event` (failed auth, lockouts, IP and
/// origin refusals, rate-limit hits, endpoint rejections, BYOK failures), also written to
/// `<directory>/security-YYYY-MM-DD.log`, one file per UTC day. Files older than `retentionDays`
/// are deleted when a new day's file is opened. The lines are the same redacted lines as stdout:
/// never a secret.
public final class SecurityLogFile: LogSink {
    let directory: URL
    let retentionDays: Int
    private struct State {
        var day = ""
        var handle: FileHandle?
    }
    private let state = Mutex(State())

    public init(directory: String, retentionDays: Int) throws {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.retentionDays = retentionDays
        try FileManager.default.createDirectory(
            at: self.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
    }

    public func write(_ line: String) {
        write(line, now: Date())
    }

    func write(_ line: String, now: Date) {
        let day = Self.day(now)
        state.withLock { state in
            if state.day != day || state.handle == nil {
                try? state.handle?.close()
                state.handle = open(day)
                state.day = day
                prune(now: now)
            }
            state.handle?.write(Data((line + "\n").utf8))
        }
    }

    public func fileURL(for date: Date) -> URL { directory.appendingPathComponent("security-\(Self.day(date)).log") }

    private func open(_ day: String) -> FileHandle? {
        let path = directory.appendingPathComponent("security-\(day).log").path
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640])
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
        handle.seekToEndOfFile()
        return handle
    }

    /// Deletes `security-*.log` files of days before the retention window.
    private func prune(now: Date) {
        let oldest = Self.day(now.addingTimeInterval(-Double(retentionDays) * 86_400))
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix("security-") && name.hasSuffix(".log") {
            let day = String(name.dropFirst("security-".count).dropLast(".log".count))
            if day.count == 10, day < oldest {
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            }
        }
    }

    static func day(_ date: Date) -> String {
        String(QuotaPeriodKey.day(date).dropFirst(2))
    }
}
