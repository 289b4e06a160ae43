public import Logging
import ServiceLifecycle

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
