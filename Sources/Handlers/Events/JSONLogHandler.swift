import Foundation
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where log lines go: stdout in the server, a buffer in tests (which search it for secrets).
public protocol LogSink: Sendable {
    func write(_ line: String)
}

/// Writes each line to standard output, whole, under a lock, with one `write(2)` when it can.
public final class StandardOutputSink: LogSink {
    private let lock = Mutex(())

    public init() {}

    public func write(_ line: String) {
        var line = line + "\n"
        lock.withLock { _ in
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // stdout is gone: nothing else can be done with the line
                    }
                }
            }
        }
    }
}

/// Keeps every line in memory: for tests.
public final class MemorySink: LogSink {
    private let lines = Mutex<[String]>([])

    public init() {}

    public func write(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    public var contents: [String] { lines.withLock { $0 } }
}

/// A swift-log handler that writes one JSON object per line:
/// `{"level":"info","logger":"…","msg":"…","requestId":"…","ts":"…",…metadata}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: any LogSink
    /// Also gets every line that carries `security.event` (the security log file).
    private let securitySink: (any LogSink)?

    public init(
        label: String, level: Logger.Level, sink: any LogSink, securitySink: (any LogSink)? = nil,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.securitySink = securitySink
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        if let id = fields.removeValue(forKey: "hb.request.id") { fields["requestId"] = id }
        var line = "{\"ts\":\""
        line.reserveCapacity(256)
        Self.appendTimestamp(Date(), to: &line)
        line += "\",\"level\":\""
        line += event.level.rawValue
        line += "\",\"logger\":"
        JSONText.appendQuoted(label, to: &line)
        line += ",\"msg\":"
        JSONText.appendQuoted(event.message.description, to: &line)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !["ts", "level", "logger", "msg"].contains(key) {
            line += ","
            JSONText.appendQuoted(key, to: &line)
            line += ":"
            line += Self.json(value)
        }
        line += "}"
        sink.write(line)
        if let securitySink, fields["security.event"] != nil { securitySink.write(line) }
    }

    /// `2026-11-29T13:57:58.911Z` (UTC, milliseconds), without Foundation's formatters: they
    /// cost more than the rest of the line.
    static func appendTimestamp(_ date: Date, to line: inout String) {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ count: Int) { line += value.zeroPadded(count) }
        digits(parts.tm_year + 1900, 4)
        line += "-"
        digits(parts.tm_mon + 1, 2)
        line += "-"
        digits(parts.tm_mday, 2)
        line += "T"
        digits(parts.tm_hour, 2)
        line += ":"
        digits(parts.tm_min, 2)
        line += ":"
        digits(parts.tm_sec, 2)
        line += "."
        digits(Int32(millis % 1000), 3)
        line += "Z"
    }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): JSONText.quoted(string)
        case .stringConvertible(let convertible): JSONText.quoted(convertible.description)
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted { $0.key < $1.key }.map { JSONText.quote($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }
}
