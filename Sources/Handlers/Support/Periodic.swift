public import Logging
public import ServiceLifecycle

/// The loop of a periodic job: waits `interval`, runs `round` with its number (1, 2, …), and so on
/// until the service group shuts down. A failed round is logged as `failure` (with the error's
/// type, never its text) and the next one runs as planned.
public func repeatEvery(
    _ interval: Duration, logger: Logger, failure: String, _ round: @escaping @Sendable (_ number: Int) async throws -> Void
) async {
    await cancelWhenGracefulShutdown {
        var number = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            number += 1
            do {
                try await round(number)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("\(failure)", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
            }
        }
    }
}

/// A periodic job as a service of the group: `round` every `interval` until shutdown (see
/// `repeatEvery`). For the in-memory copies that follow the database (IP rules, app caps).
public struct PeriodicJob: Service {
    let interval: Duration
    let logger: Logger
    let failure: String
    let round: @Sendable (_ number: Int) async throws -> Void

    public init(
        every interval: Duration, logger: Logger, failure: String, _ round: @escaping @Sendable (_ number: Int) async throws -> Void
    ) {
        self.interval = interval
        self.logger = logger
        self.failure = failure
        self.round = round
    }

    public func run() async throws {
        await repeatEvery(interval, logger: logger, failure: failure, round)
    }
}
