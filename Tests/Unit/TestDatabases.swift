import Foundation
import Handlers
import Logging
import PostgresNIO
import SQLKit

/// Fresh databases for store tests: a SQLite file always; a PostgreSQL schema of its own when
/// `TEST_DATABASE_URL` is set (CI sets it), dropped afterwards.
enum TestDatabases {
    static let postgresURL = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// The kinds to run each store test on.
    static var kinds: [DatabaseKind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with `instances` independent connections (pools) to one fresh database, as
    /// if that many servers shared it.
    static func withFresh<Result: Sendable>(
        _ kind: DatabaseKind,
        instances: Int = 1,
        _ body: ([any Database]) async throws -> Result
    ) async throws -> Result {
        switch kind {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-test-\(UUID().uuidString).sqlite").path
            var databases: [SQLiteBackend] = []
            for _ in 0..<instances { databases.append(try await SQLiteBackend.open(path: path, logger: logger)) }
            defer {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
            do {
                let result = try await body(databases)
                for database in databases { try await database.close() }
                return result
            } catch {
                for database in databases { try? await database.close() }
                throw error
            }
        case .postgres:
            guard case .postgres(var settings) = try DatabaseLocation.parse(postgresURL, dataDirectory: "") else {
                fatalError("TEST_DATABASE_URL is not a postgres:// URL")
            }
            let schema = "test_" + Hex.encode(RandomBytes.make(count: 6))
            settings.maximumConnections = 2
            return try await withRunning(PostgresBackend(configuration: settings.clientConfiguration, logger: logger)) { admin in
                try await admin.withSQL { try await $0.raw(SQLQueryString("CREATE SCHEMA " + schema)).run() }
                settings.searchPath = schema
                var databases: [PostgresBackend] = []
                for _ in 0..<instances { databases.append(PostgresBackend(configuration: settings.clientConfiguration, logger: logger)) }
                do {
                    let result = try await withRunning(databases) { try await body($0) }
                    try await admin.withSQL { try await $0.raw(SQLQueryString("DROP SCHEMA " + schema + " CASCADE")).run() }
                    return result
                } catch {
                    try? await admin.withSQL { try await $0.raw(SQLQueryString("DROP SCHEMA " + schema + " CASCADE")).run() }
                    throw error
                }
            }
        }
    }

    /// Runs the pools' `run()` around `body`, as `DatabaseService` does in the server.
    private static func withRunning<Result>(_ databases: [PostgresBackend], _ body: ([any Database]) async throws -> Result) async throws
        -> Result
    {
        let tasks = databases.map { database in Task { await database.client.run() } }
        do {
            let result = try await body(databases)
            for task in tasks {
                task.cancel()
                await task.value
            }
            return result
        } catch {
            for task in tasks {
                task.cancel()
                await task.value
            }
            throw error
        }
    }

    private static func withRunning<Result>(_ database: PostgresBackend, _ body: (PostgresBackend) async throws -> Result) async throws
        -> Result
    {
        try await withRunning([database]) { try await body($0[0] as! PostgresBackend) }
    }
}
