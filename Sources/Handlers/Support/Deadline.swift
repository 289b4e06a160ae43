/// Runs work with a time limit: whichever finishes first, the work or the timer, wins, and the
/// other is cancelled.
public enum Deadline {
    public struct Exceeded: Error, Equatable {}

    public static func run<Result: Sendable>(
        within limit: Duration,
        _ work: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw Exceeded()
            }
            return result
        }
    }
}
