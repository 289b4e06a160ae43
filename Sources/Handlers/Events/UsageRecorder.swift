public import Logging
import SQLKit
public import ServiceLifecycle

/// One proxied request, as written to `usage_records`.
public struct UsageRecord: Sendable, Equatable, Codable {
    public var requestId: String
    public var userId: String
    public var appId: String
    public var provider: String
    public var endpoint: String
    public var model: String?
    public var status: Int64
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var cachedTokens: Int64
    public var costMicros: Int64
    public var latencyMs: Int64
    public var ttfbMs: Int64?
    public var streamed: Bool
    public var cancelled: Bool
    /// `server` or `byok`.
    public var keySource: String
    public var splitKeyId: String?
    public var clientIp: String
    public var userAgent: String?
    public var createdAtMs: Int64
}

/// Writes usage records off the request path: `record` only enqueues; this service inserts them
/// in batches (up to 200 rows, at least every 250 ms) and flushes what is queued on shutdown,
/// after the HTTP server has drained. A crash (not a SIGTERM) loses at most the records of the
/// last 250 ms. If the database falls behind, the queue holds 100 000 records, then drops the
/// newest and logs how many.
public final class UsageRecorder: Service {
    private let stream: AsyncStream<UsageRecord>
    private let continuation: AsyncStream<UsageRecord>.Continuation
    private let database: any Database
    private let logger: Logger
    static let batchSize = 200
    static let interval: Duration = .milliseconds(250)

    public init(database: any Database, logger: Logger) {
        (stream, continuation) = AsyncStream.makeStream(of: UsageRecord.self, bufferingPolicy: .bufferingOldest(100_000))
        self.database = database
        self.logger = logger
    }

    public func record(_ record: UsageRecord) {
        if case .dropped = continuation.yield(record) {
            logger.error("usage queue full: a usage record was dropped", metadata: ["request.id": .string(record.requestId)])
        }
    }

    public func run() async throws {
        // Stop taking records only once the server has drained, then write what is left.
        let finisher = Task { [continuation] in
            try? await gracefulShutdown()
            continuation.finish()
        }
        defer { finisher.cancel() }
        var batch: [UsageRecord] = []
        var lastFlush = ContinuousClock.now
        for await record in stream {
            batch.append(record)
            if batch.count >= Self.batchSize || ContinuousClock.now - lastFlush >= Self.interval {
                await write(batch)
                batch.removeAll(keepingCapacity: true)
                lastFlush = .now
            }
            if batch.count == 1 {
                // A lone record waits at most one interval for company.
                Task { [weak self] in
                    try? await Task.sleep(for: Self.interval)
                    self?.continuation.yield(.flushMarker)
                }
            }
            if batch.last == .flushMarker {
                batch.removeLast()
                await write(batch)
                batch.removeAll(keepingCapacity: true)
                lastFlush = .now
            }
        }
        await write(batch.filter { $0 != .flushMarker })
    }

    private func write(_ records: [UsageRecord]) async {
        let rows = records.filter { $0 != .flushMarker }
        guard !rows.isEmpty else { return }
        do {
            // Split-key use counts ride along with the batch, off the request path.
            var uses: [String: (userId: String, keyId: String, count: Int64, lastAtMs: Int64)] = [:]
            for row in rows {
                guard let keyId = row.splitKeyId, row.keySource == "byok" else { continue }
                let key = row.userId + "\u{0}" + keyId
                let previous = uses[key]
                uses[key] = (row.userId, keyId, (previous?.count ?? 0) + 1, max(previous?.lastAtMs ?? 0, row.createdAtMs))
            }
            let store = SplitKeyStore(database: database)
            let counted = Array(uses.values)
            try await database.withSQL { sql in
                try await sql.insert(into: "usage_records").models(rows, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil).run()
                if !counted.isEmpty { try await store.recordUses(counted, on: sql) }
            }
        } catch {
            logger.error("usage records could not be written", metadata: ["count": .stringConvertible(rows.count), "error.type": .string(String(reflecting: type(of: error)))])
        }
    }
}

extension UsageRecord {
    /// Not a record: tells the writer to flush a batch that has waited long enough.
    static let flushMarker = UsageRecord(
        requestId: "", userId: "", appId: "", provider: "", endpoint: "", model: nil, status: -1, inputTokens: 0, outputTokens: 0,
        cachedTokens: 0, costMicros: 0, latencyMs: 0, ttfbMs: nil, streamed: false, cancelled: false, keySource: "", splitKeyId: nil,
        clientIp: "", userAgent: nil, createdAtMs: 0
    )
}
