import Foundation
import Generated
import Testing

@testable import Handlers

@Suite("Quota windows and limit standings")
struct QuotaWindowTests {
    static func date(_ text: String) -> Date { APICoding.parseDate(text)! }

    @Test func daysAndMonthsResetAtUTCBoundaries() {
        let lastSecond = Self.date("2026-12-31T23:59:59Z")
        let day = QuotaWindow.current(.day, at: lastSecond)
        #expect(day.key == "d:2026-12-31")
        #expect(day.resetAt == Self.date("2027-01-01T00:00:00Z"))
        #expect(day.secondsLeft(from: lastSecond) == 1)
        let month = QuotaWindow.current(.month, at: lastSecond)
        #expect(month.key == "m:2026-12")
        #expect(month.resetAt == Self.date("2027-01-01T00:00:00Z"))
        let leap = QuotaWindow.current(.month, at: Self.date("2028-02-29T12:00:00+14:00"))
        #expect(leap.key == "m:2028-02")
        #expect(leap.resetAt == Self.date("2028-03-01T00:00:00Z"))
        // An offset that crosses midnight UTC lands in the UTC day.
        #expect(QuotaWindow.current(.day, at: Self.date("2026-11-30T01:00:00+02:00")).key == "d:2026-11-29")
        // Never 0 seconds, even at the boundary itself.
        #expect(
            QuotaWindow.current(.day, at: Self.date("2026-11-30T00:00:00Z")).secondsLeft(from: Self.date("2026-11-30T00:00:00Z")) == 86_400)
    }

    @Test func theTighterStandingHasLessLeftThenTheLaterReset() {
        let day = LimitStanding(limit: 100, remaining: 10, resetSeconds: 3600)
        let month = LimitStanding(limit: 3000, remaining: 2000, resetSeconds: 86_400 * 3)
        #expect(day.tighter(month) == day)
        #expect(month.tighter(day) == day)
        #expect(day.tighter(nil) == day)
        let equal = LimitStanding(limit: 50, remaining: 10, resetSeconds: 7200)
        #expect(day.tighter(equal) == equal)
    }

    /// The integer calendar agrees with Foundation's on random instants from 1900 to 2400, on
    /// every day around leap days and year ends, and on the last millisecond before midnight.
    @Test func periodKeysAndResetsAgreeWithFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        var instants = (0..<5000).map { _ in
            Date(timeIntervalSince1970: TimeInterval(Int64.random(in: -2_208_988_800_000...13_569_465_600_000, using: &generator)) / 1000)
        }
        for year in [1900, 1970, 1999, 2000, 2024, 2026, 2100] {
            let start = calendar.date(from: DateComponents(year: year, month: 2, day: 27))!
            instants += (0..<5).map { start.addingTimeInterval(TimeInterval($0 * 86_400)) }
            instants.append(calendar.date(from: DateComponents(year: year + 1, month: 1, day: 1))!.addingTimeInterval(-0.001))
        }
        for instant in instants {
            let parts = calendar.dateComponents([.year, .month, .day], from: instant)
            let day = String(format: "d:%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            #expect(QuotaPeriodKey.day(instant) == day, "\(instant.timeIntervalSince1970)")
            #expect(QuotaPeriodKey.month(instant) == String(day.prefix(9)).replacingOccurrences(of: "d:", with: "m:"))
            let midnight = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: instant))!
            #expect(QuotaPeriodKey.nextDay(after: instant) == midnight)
            let monthStart = calendar.date(from: DateComponents(year: parts.year, month: parts.month, day: 1))!
            #expect(QuotaPeriodKey.nextMonth(after: instant) == calendar.date(byAdding: .month, value: 1, to: monthStart)!)
        }
    }
}
