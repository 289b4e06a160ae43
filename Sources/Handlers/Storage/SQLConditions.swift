public import SQLKit

extension [SQLQueryString] {
    /// The conditions joined with AND; nil when there are none.
    public var allOf: SQLQueryString? {
        first.map { dropFirst().reduce($0) { $0 + " AND " + $1 } }
    }
}
