public import Foundation

/// The keys of quota counter rows: one per user per UTC day (`d:2026-11-29`) and month (`m:2026-11`).
/// The key does the reset: a new day is a new row, so no job has to clear anything.
public enum QuotaPeriodKey {
    public static func day(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "d:%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    public static func month(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month], from: date)
        return String(format: "m:%04d-%02d", parts.year ?? 0, parts.month ?? 0)
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
