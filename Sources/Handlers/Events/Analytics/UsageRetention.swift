public import Logging
public import ServiceLifecycle

/// Deletes usage rows older than `USAGE_RETENTION_DAYS`, at start and every hour; the rollups
/// stay, so analytics over old periods still answer (lists of old rows do not). Whole UTC hours
/// go (so the rollups count exactly the rows kept), in statements of `batch` rows with a `pause`
/// between them, so a backlog of millions never holds the database from writers for long.
public struct UsageRetention: Service {
    let store: AnalyticsStore
    let days: Int
    let logger: Logger
    let batch: Int64
    let pause: Duration

    public init(store: AnalyticsStore, days: Int, logger: Logger, batch: Int64 = 2000, pause: Duration = .milliseconds(20)) {
        self.store = store
        self.days = days
        self.logger = logger
        self.batch = batch
        self.pause = pause
    }

    public func run() async throws {
        // A service that returns would end the whole group: with nothing to do, wait for shutdown.
        guard days > 0 else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await sweep(before: AnalyticsStore.floor(Millis.now() - Int64(days) * 86_400_000, UsageRollup.hourMs))
                    if removed > 0 {
                        logger.info(
                            "old usage rows deleted",
                            metadata: ["count": .stringConvertible(removed), "retention.days": .stringConvertible(days)])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning(
                        "usage retention failed; will retry", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }

    /// Deletes every row created before the cutoff, batch by batch; answers how many went.
    func sweep(before cutoffMs: Int64) async throws -> Int64 {
        var removed: Int64 = 0
        while true {
            let deleted = try await store.deleteRecords(before: cutoffMs, limit: batch)
            removed += deleted
            if deleted < batch { return removed }
            try await Task.sleep(for: pause)
        }
    }
}
