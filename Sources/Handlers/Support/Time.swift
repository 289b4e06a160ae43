public import Foundation

// Three kinds of time, one per purpose: `Millis` (Int64 milliseconds since 1970) for every stored
// and compared wall-clock time; `Date` only where a wall-clock time meets the API (the spec's
// date-time fields) or the calendar (UTC days and months); `ContinuousClock` for measuring
// durations and deadlines in the process (latency, throttles, caches), never stored.

/// Wall-clock milliseconds since 1970, the unit of every stored time.
public enum Millis {
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    /// Rounded to the nearest millisecond: a parsed `…:00.001Z` is 1 ms, not 0.999 ms floored to 0.
    public static func from(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}

extension Duration {
    /// Whole milliseconds.
    public var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    /// Whole microseconds.
    public var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    /// Whole nanoseconds.
    public var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
