import Synchronization

/// At most `limit` requests per key in any `window`, in memory and per instance, by the sliding
/// window counter: the current fixed window's count plus the previous window's, weighted by how
/// much of it still overlaps the last `window`. O(1) memory per key; idle keys are swept.
public final class RateLimiter: Sendable {
    public let limit: Int
    public let window: Duration
    private let windowMs: Int64
    private let origin: ContinuousClock.Instant
    private struct Entry {
        var index: Int64
        var current: Int
        var previous: Int
    }
    private let entries = Mutex<(table: [String: Entry], sweptAt: Int64)>(([:], 0))

    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var standing: LimitStanding
    }

    public init(limit: Int, window: Duration, origin: ContinuousClock.Instant = .now) {
        self.limit = limit
        self.window = window
        self.windowMs = max(1, window.milliseconds)
        self.origin = origin
    }

    /// Counts the request when it is under the limit.
    public func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Decision {
        let elapsed = max(0, (now - origin).milliseconds)
        let index = elapsed / windowMs
        let into = Double(elapsed % windowMs) / Double(windowMs)
        let resetSeconds = max(1, (windowMs - elapsed % windowMs + 999) / 1000)
        return entries.withLock { state in
            var entry = state.table[key] ?? Entry(index: index, current: 0, previous: 0)
            if entry.index != index {
                entry.previous = entry.index == index - 1 ? entry.current : 0
                entry.current = 0
                entry.index = index
            }
            let estimate = Double(entry.previous) * (1 - into) + Double(entry.current)
            let allowed = estimate + 1 <= Double(limit)
            if allowed { entry.current += 1 }
            state.table[key] = entry
            if index > state.sweptAt + 1 || state.table.count > 200_000 {
                state.table = state.table.filter { $0.value.index >= index - 1 }
                state.sweptAt = index
            }
            let used = Int64((Double(entry.previous) * (1 - into) + Double(entry.current)).rounded(.up))
            return Decision(
                allowed: allowed,
                standing: LimitStanding(limit: Int64(limit), remaining: max(0, Int64(limit) - used), resetSeconds: resetSeconds))
        }
    }
}
