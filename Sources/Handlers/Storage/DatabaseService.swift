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
        case let postgres as PostgresDatabase:
            // Runs the pool until the group shuts down (cancellation ends it).
            await cancelWhenGracefulShutdown {
                await postgres.client.run()
            }
        case let sqlite as SQLiteDatabase:
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
            return try await SQLiteDatabase.open(path: path, logger: logger)
        case .postgres(let settings):
            return PostgresDatabase(configuration: settings.clientConfiguration, logger: logger)
        }
    }
}
