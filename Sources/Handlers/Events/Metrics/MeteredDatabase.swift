public import SQLKit
import Synchronization

/// A database that counts the connections held at once (`safeapi_db_connections_in_use`, read
/// when the metrics are printed): one from the moment a body has its connection until it returns.
/// Waiting for a connection is not counted, so the gauge at the pool's size means the pool is the
/// bottleneck.
public final class MeteredDatabase: Database {
    private let base: any Database
    private let held = Atomic<Int>(0)

    public init(_ base: any Database, metrics: BridgeMetrics) {
        self.base = base
        metrics.sample { [weak self] metrics in metrics.databaseInUse(self?.held.load(ordering: .relaxed) ?? 0) }
    }

    public var kind: DatabaseKind { base.kind }

    public func withSQL<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await base.withSQL { sql in try await self.holding { try await body(sql) } }
    }

    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await base.transaction { sql in try await self.holding { try await body(sql) } }
    }

    private func holding<Result>(_ body: () async throws -> Result) async throws -> Result {
        held.add(1, ordering: .relaxed)
        defer { held.subtract(1, ordering: .relaxed) }
        return try await body()
    }
}
