import ServiceLifecycle

/// Runs `action` once the service group shuts down: after the services listed after it (and the
/// HTTP server) have stopped, before those listed before it.
struct OnShutdown: Service {
    let action: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await action()
    }
}
