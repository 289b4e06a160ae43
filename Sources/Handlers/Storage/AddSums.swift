import SQLKit

extension SQLDatabase {
    /// Adds counts to a table's rows, creating those that are missing: one statement per 200
    /// rows (`INSERT … VALUES (…), (…) ON CONFLICT (key) DO UPDATE SET n = table.n + excluded.n`),
    /// so a batch touching many rows costs a few statements, not one per row. Each row is its
    /// `key` columns' values, then the `carried` columns' (written when the row is created), then
    /// the `sums`. A key must appear once in `rows` (PostgreSQL refuses to update a row twice in
    /// one statement); rows in key order take PostgreSQL's row locks in one order.
    func addSums(
        into table: String, key: [String], carried: [String] = [], sums: [String], rows: [[any Encodable & Sendable]]
    ) async throws {
        for start in stride(from: 0, to: rows.count, by: 200) {
            var insert = self.insert(into: table).columns(key + carried + sums)
            for row in rows[start..<min(start + 200, rows.count)] { insert = insert.values(row) }
            try await insert.onConflict(with: key) { update in
                sums.reduce(update) { update, column in
                    update.set(column, to: SQLBinaryExpression(SQLColumn(column, table: table), .add, SQLExcludedColumn(column)))
                }
            }.run()
        }
    }
}
