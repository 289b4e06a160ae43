import Foundation
import Generated
@testable import Handlers
import Testing

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
        #expect(QuotaWindow.current(.day, at: Self.date("2026-11-30T00:00:00Z")).secondsLeft(from: Self.date("2026-11-30T00:00:00Z")) == 86_400)
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
}
