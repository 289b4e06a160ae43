/// A fixed number of holders at a time, the others waiting in arrival order: an async semaphore
/// for work that awaits (one transaction on SQLite's writer connection, one give-back of leased
/// quota; in the tests, a few PostgreSQL cases at once).
actor Permits {
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int = 1) { available = count }

    func acquire() async {
        guard available == 0 else {
            available -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { available += 1 } else { waiting.removeFirst().resume() }
    }

    /// Runs `body` holding a permit.
    nonisolated func run<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}
