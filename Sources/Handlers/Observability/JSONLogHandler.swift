import Foundation
public import Logging
import Synchronization

/// Where log lines go: stdout in the server, a buffer in tests (which search it for secrets).
public protocol LogSink: Sendable {
    func write(_ line: String)
}

/// Writes each line to standard output, whole, under a lock.
public final class StandardOutputSink: LogSink {
    private let lock = Mutex(())

    public init() {}

    public func write(_ line: String) {
        lock.withLock { _ in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
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

    public init(label: String, level: Logger.Level, sink: any LogSink, securitySink: (any LogSink)? = nil, metadataProvider: Logger.MetadataProvider? = nil) {
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
        var object: [(String, String)] = [
            ("ts", Self.quote(Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))),
            ("level", Self.quote(event.level.rawValue)),
            ("logger", Self.quote(label)),
            ("msg", Self.quote(event.message.description)),
        ]
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !["ts", "level", "logger", "msg"].contains(key) {
            object.append((key, Self.json(value)))
        }
        let line = "{" + object.map { Self.quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
        sink.write(line)
        if let securitySink, fields["security.event"] != nil { securitySink.write(line) }
    }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): quote(string)
        case .stringConvertible(let convertible): quote(convertible.description)
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted { $0.key < $1.key }.map { quote($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
