public import Foundation

/// Wall-clock milliseconds since 1970, the unit of every stored time.
public enum Millis {
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    /// Rounded to the nearest millisecond: a parsed `…:00.001Z` is 1 ms, not 0.999 ms floored to 0.
    public static func from(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
