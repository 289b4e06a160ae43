public import Logging
import PostgresNIO
public import ServiceLifecycle

/// Keeps the database open for the life of the service group and closes it last: it is listed
/// first, so the group shuts it down after the HTTP server has drained and the writers flushed.
public struct DatabaseService: Service {
    public let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func run() async throws {
        switch database {
        case let postgres as PostgresBackend:
            // Runs the pool until the group shuts down (cancellation ends it).
            await cancelWhenGracefulShutdown {
                await postgres.client.run()
            }
        case let sqlite as SQLiteBackend:
            try? await gracefulShutdown()
            try await sqlite.close()
        default:
            try? await gracefulShutdown()
        }
    }
}

/// Opens the database a location names.
public enum DatabaseFactory {
    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> any Database {
        switch location {
        case .sqlite(let path):
            return try await SQLiteBackend.open(path: path, logger: logger)
        case .postgres(let settings):
            return PostgresBackend(configuration: settings.clientConfiguration, logger: logger)
        }
    }

    /// For one-shot commands (`migrate`): opens the database, keeps its pool running while `body`
    /// runs, then closes it.
    public static func with<Result: Sendable>(
        _ location: DatabaseLocation,
        logger: Logger,
        _ body: @Sendable (any Database) async throws -> Result
    ) async throws -> Result {
        let database = try await open(location, logger: logger)
        switch database {
        case let postgres as PostgresBackend:
            let pool = Task { await postgres.client.run() }
            defer { pool.cancel() }
            return try await body(postgres)
        case let sqlite as SQLiteBackend:
            do {
                let result = try await body(sqlite)
                try await sqlite.close()
                return result
            } catch {
                try? await sqlite.close()
                throw error
            }
        default:
            return try await body(database)
        }
    }
}
