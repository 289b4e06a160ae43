import Foundation
public import Logging
public import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite through one SQLiteNIO connection (it has no pool). Single statements from many tasks are
/// safe on it; callers that need a multi-statement transaction must serialize (see STACK-NOTES).
public final class SQLiteBackend: Database {
    public let kind = DatabaseKind.sqlite
    private let connection: SQLiteConnection

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (creating it and its folder if needed) the file at `path`, or an in-memory database
    /// for `":memory:"`. WAL journaling, a busy timeout and foreign keys are switched on.
    public static func open(path: String, logger: Logger) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage
        if path == ":memory:" {
            storage = .memory
        } else {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            storage = .file(path: path)
        }
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let database = SQLiteBackend(connection: connection)
        try await database.withSQL { sql in
            if path != ":memory:" {
                _ = try await sql.raw("PRAGMA journal_mode=WAL").all()
            }
            try await sql.raw("PRAGMA busy_timeout=5000").run()
            try await sql.raw("PRAGMA foreign_keys=ON").run()
        }
        return database
    }

    public func withSQL<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await body(connection.sql(queryLogLevel: nil))
    }

    /// Closes the connection. It runs even from a cancelled task (shutdown cancels services), so it
    /// uses the future-based close: the async one refuses to start once its task is cancelled.
    public func close() async throws {
        try await connection.close().get()
    }
}
