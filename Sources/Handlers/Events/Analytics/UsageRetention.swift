public import Logging
public import ServiceLifecycle

/// Deletes usage rows older than `USAGE_RETENTION_DAYS`, at start and every hour; the hourly
/// rollups stay, so analytics over old periods still answer (lists of old rows do not).
public struct UsageRetention: Service {
    let store: AnalyticsStore
    let days: Int
    let logger: Logger

    public init(store: AnalyticsStore, days: Int, logger: Logger) {
        self.store = store
        self.days = days
        self.logger = logger
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
                    let removed = try await store.deleteRecords(before: Millis.now() - Int64(days) * 86_400_000)
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
}
