public import SQLKit

/// Which engine a database runs on; migrations and a few statements differ by dialect.
public enum DatabaseKind: String, Sendable {
    case sqlite, postgres
}

/// The one storage layer: stores are written once over SQLKit and run on SQLite and PostgreSQL.
public protocol Database: Sendable {
    var kind: DatabaseKind { get }

    /// Runs `body` with one connection: every statement inside it runs on the same session,
    /// so a transaction or an advisory lock taken inside holds for the whole closure.
    func withSQL<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// `body` must use only the `SQLDatabase` it is given.
    func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result
}

extension Database {
    /// `body` on `sql` when given (inside a transaction), else on a connection of its own.
    func using<Result: Sendable>(_ sql: (any SQLDatabase)?, _ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        if let sql { return try await body(sql) }
        return try await withSQL(body)
    }

    /// A trivial round trip (`SELECT 1`), for readiness.
    public func ping() async throws {
        try await withSQL { sql in
            _ = try await sql.raw("SELECT 1 AS ok").first()
        }
    }
}

public enum StoreError: Error, CustomStringConvertible {
    /// A row that a statement just saw is gone (deleted concurrently).
    case vanished(String)
    public var description: String {
        switch self {
        case .vanished(let what): "the \(what) row disappeared during the operation"
        }
    }
}
