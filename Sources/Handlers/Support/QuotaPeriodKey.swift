public import Foundation

/// The keys of quota counter rows: one per user per UTC day (`d:2026-11-29`) and month (`m:2026-11`).
/// The key does the reset: a new day is a new row, so no job has to clear anything.
///
/// Plain integer calendar arithmetic (proleptic Gregorian, UTC): every proxied call needs its day
/// and month, and Foundation's `Calendar` cost more than the rest of quota admission.
public enum QuotaPeriodKey {
    public static func day(_ date: Date) -> String {
        let (year, month, day) = civil(date)
        return "d:" + year.zeroPadded(4) + "-" + month.zeroPadded(2) + "-" + day.zeroPadded(2)
    }

    public static func month(_ date: Date) -> String {
        let (year, month, _) = civil(date)
        return "m:" + year.zeroPadded(4) + "-" + month.zeroPadded(2)
    }

    /// Midnight UTC after `date`.
    static func nextDay(after date: Date) -> Date {
        Date(timeIntervalSince1970: TimeInterval((days(date) + 1) * 86_400))
    }

    /// The first instant of the UTC month after `date`'s.
    static func nextMonth(after date: Date) -> Date {
        let (year, month, _) = civil(date)
        let next = month == 12 ? days(fromCivil: year + 1, 1, 1) : days(fromCivil: year, month + 1, 1)
        return Date(timeIntervalSince1970: TimeInterval(next * 86_400))
    }

    /// Whole days since 1970-01-01 (floor, so instants before 1970 fall on the right day).
    static func days(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    static func civil(_ date: Date) -> (year: Int64, month: Int64, day: Int64) {
        civil(fromDays: days(date))
    }

    /// Year, month, day of a day number (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays value: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = value + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The day number of a date (Howard Hinnant's `days_from_civil`).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let year = month <= 2 ? year - 1 : year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
