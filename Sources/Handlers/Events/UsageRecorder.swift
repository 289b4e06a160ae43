import Foundation
public import Logging
public import SQLKit
public import ServiceLifecycle
import Synchronization

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

extension UsageRecord {
    /// The `usage_records` columns, in the order of `sqlValues`.
    static let columns = [
        "request_id", "user_id", "app_id", "provider", "endpoint", "model", "status", "input_tokens", "output_tokens", "cached_tokens",
        "cost_micros", "latency_ms", "ttfb_ms", "streamed", "cancelled", "key_source", "split_key_id", "client_ip", "user_agent",
        "created_at_ms",
    ]

    /// The row's values, bound one by one (encoding the whole record through `Codable` cost more
    /// than the rest of the write).
    var sqlValues: [any SQLExpression] {
        func optional(_ value: (some Encodable & Sendable)?) -> any SQLExpression { value.map { SQLBind($0) } ?? SQLLiteral.null }
        return [
            SQLBind(requestId), SQLBind(userId), SQLBind(appId), SQLBind(provider), SQLBind(endpoint), optional(model), SQLBind(status),
            SQLBind(inputTokens), SQLBind(outputTokens), SQLBind(cachedTokens), SQLBind(costMicros), SQLBind(latencyMs), optional(ttfbMs),
            SQLBind(streamed), SQLBind(cancelled), SQLBind(keySource), optional(splitKeyId), SQLBind(clientIp), optional(userAgent),
            SQLBind(createdAtMs),
        ]
    }
}

/// Writes usage records off the request path: `record` only enqueues. Woken by a record, the
/// writer lets `linger` pass (20 ms), then writes whatever is queued in batches of up to 200 rows,
/// so rows are batched at any load and the writes leave the database free for quota admission
/// in between: a budget is charged within `linger` plus one write of the response ending. What is
/// queued is flushed on shutdown, after the HTTP server has drained. If the database falls
/// behind, the queue holds 100 000 records, then drops the newest and logs it. Each record is
/// also counted in the metrics (calls, times, tokens, cost) as it is queued.
public final class UsageRecorder: Service {
    private let queue = Mutex<[UsageRecord]>([])
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let database: any Database
    /// Split-key use counts and budget charges ride along with each batch, in this order.
    private let followers: [any UsageFollower]
    private let logger: Logger
    private let metrics: BridgeMetrics
    private let linger: Duration
    static let batchSize = 200
    static let capacity = 100_000

    public init(
        database: any Database, followers: [any UsageFollower], metrics: BridgeMetrics, logger: Logger, linger: Duration = .milliseconds(20)
    ) {
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.database = database
        self.followers = followers
        self.metrics = metrics
        self.logger = logger
        self.linger = linger
    }

    /// The records queued and not yet written.
    public var depth: Int { queue.withLock(\.count) }

    public func record(_ record: UsageRecord) {
        metrics.call(record)
        let accepted = queue.withLock { queue in
            guard queue.count < Self.capacity else { return false }
            queue.append(record)
            return true
        }
        if accepted {
            wake.yield()
        } else {
            metrics.usageDropped()
            logger.error("usage queue full: a usage record was dropped", metadata: ["request.id": .string(record.requestId)])
        }
    }

    public func run() async throws {
        // Stop waiting only once the server has drained, then write what is left.
        let finisher = Task { [wake] in
            try? await gracefulShutdown()
            wake.finish()
        }
        defer { finisher.cancel() }
        for await _ in wakeups {
            // Cancelled at shutdown: then it returns at once and what is queued is written.
            try? await Task.sleep(for: linger)
            await drain()
        }
        await drain()
    }

    private func drain() async {
        while true {
            let batch = queue.withLock { queue in
                let taken = Array(queue.prefix(Self.batchSize))
                queue.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else { return }
            await write(batch)
        }
    }

    func write(_ rows: [UsageRecord]) async {
        let started = ContinuousClock.now
        defer { metrics.usageFlushed(after: .now - started) }
        do {
            let followers = self.followers
            let statements: @Sendable (any SQLDatabase) async throws -> Void = { sql in
                try await sql.insert(into: "usage_records").columns(UsageRecord.columns).rows(rows.map(\.sqlValues)).run()
                try await UsageRollup.add(rows, on: sql)
                // Last: the counters quota admission also writes, locked for the shortest time.
                for follower in followers { try await follower.follow(rows, on: sql) }
            }
            // PostgreSQL: one transaction, so one commit, which waits for its WAL flush (a commit
            // per statement, ten per batch, fell behind the proxy's peak rate). SQLite: statement
            // by statement, so quota admission's writes go in between (a transaction would hold
            // the one write lock for the whole batch), and its commits do not wait for the disk.
            if database.kind == .postgres {
                try await database.transaction(statements)
            } else {
                try await database.withSQL(statements)
            }
        } catch {
            logger.error(
                "usage records could not be written",
                metadata: ["count": .stringConvertible(rows.count), "error.type": .string(String(reflecting: type(of: error)))])
        }
    }
}

/// What a batch of usage rows also updates, on the same connection after the rows and their
/// rollups are written (split-key use counts, budget charges), off the request path. On
/// PostgreSQL it is the same transaction: take rows' locks in key order. The parts that own
/// those counters plug in here, so the usage writer depends on none of them.
public protocol UsageFollower: Sendable {
    func follow(_ rows: [UsageRecord], on sql: any SQLDatabase) async throws
}
