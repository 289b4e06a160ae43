import ServiceLifecycle
import Synchronization

/// Opens once the database is migrated. The background services that read or write tables
/// (revocation and IP-rule reloads, usage retention, webhook delivery) wait for it, so their
/// first round never meets a database without its tables.
final class StartupGate: Sendable {
    private enum State {
        case closed(waiting: [Int: CheckedContinuation<Void, Never>], next: Int)
        case open
    }

    private let state = Mutex<State>(.closed(waiting: [:], next: 0))

    func open() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard case .closed(let waiting, _) = state else { return [] }
            state = .open
            return Array(waiting.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    var isOpen: Bool { state.withLock { if case .open = $0 { true } else { false } } }

    /// Returns when the gate opens, or when the task is cancelled (then `isOpen` says which).
    func wait() async {
        let ticket = state.withLock { state -> Int? in
            guard case .closed(let waiting, let next) = state else { return nil }
            state = .closed(waiting: waiting, next: next + 1)
            return next
        }
        guard let ticket else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    guard case .closed(var waiting, let next) = state, !Task.isCancelled else { return true }
                    waiting[ticket] = continuation
                    state = .closed(waiting: waiting, next: next)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard case .closed(var waiting, let next) = state else { return nil }
                let continuation = waiting.removeValue(forKey: ticket)
                state = .closed(waiting: waiting, next: next)
                return continuation
            }
            continuation?.resume()
        }
    }
}

/// A service that starts only once `gate` opens; if the group shuts down first, it never starts.
struct AfterStartup: Service {
    let gate: StartupGate
    let service: any Service

    func run() async throws {
        await cancelWhenGracefulShutdown { await gate.wait() }
        guard gate.isOpen, !Task.isShuttingDownGracefully else {
            try? await gracefulShutdown()
            return
        }
        try await service.run()
    }
}
