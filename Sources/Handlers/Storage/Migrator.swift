import Foundation
public import Logging
import SQLKit

/// One versioned schema change, written once per dialect.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sqlite: [String]
    public let postgres: [String]

    public init(version: Int, name: String, sqlite: [String], postgres: [String]) {
        self.version = version
        self.name = name
        self.sqlite = sqlite
        self.postgres = postgres
    }

    /// The same statements on both databases.
    public init(version: Int, name: String, both: [String]) {
        self.init(version: version, name: name, sqlite: both, postgres: both)
    }

    func statements(for kind: DatabaseKind) -> [String] {
        kind == .sqlite ? sqlite : postgres
    }
}

/// Applies pending migrations in version order, each in its own transaction, and records them in
/// `schema_migrations`. Running it again changes nothing. On PostgreSQL a session advisory lock
/// makes instances that start together take turns: the second one finds nothing left to do.
public struct Migrator: Sendable {
    /// An arbitrary constant shared by every instance of the bridge ("SAFEAPI" in ASCII, as an int).
    static let advisoryLockKey: Int64 = 0x5341_4645_4150_49

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        precondition(
            zip(migrations, migrations.dropFirst()).allSatisfy { $0.version < $1.version },
            "migrations must be listed in increasing version order"
        )
        self.migrations = migrations
    }

    public struct Report: Sendable, Equatable {
        /// Versions applied by this run, in order.
        public var applied: [Int]
        /// The highest version in the database after the run.
        public var current: Int

        public init(applied: [Int], current: Int) {
            self.applied = applied
            self.current = current
        }
    }

    @discardableResult
    public func run(on database: any Database, logger: Logger) async throws -> Report {
        let kind = database.kind
        let migrations = self.migrations
        return try await database.withSQL { sql in
            if kind == .postgres {
                try await sql.raw("SELECT pg_advisory_lock(\(literal: Self.advisoryLockKey))").run()
            }
            do {
                let report = try await Self.apply(migrations, kind: kind, sql: sql, logger: logger)
                if kind == .postgres {
                    try await sql.raw("SELECT pg_advisory_unlock(\(literal: Self.advisoryLockKey))").run()
                }
                return report
            } catch {
                if kind == .postgres {
                    try? await sql.raw("SELECT pg_advisory_unlock(\(literal: Self.advisoryLockKey))").run()
                }
                throw error
            }
        }
    }

    /// The versions already recorded.
    public func appliedVersions(on database: any Database) async throws -> [Int] {
        try await database.withSQL { sql in
            try await Self.createTable(sql)
            return try await Self.recorded(sql)
        }
    }

    private static func apply(_ migrations: [Migration], kind: DatabaseKind, sql: any SQLDatabase, logger: Logger) async throws -> Report {
        try await createTable(sql)
        let done = Set(try await recorded(sql))
        var applied: [Int] = []
        for migration in migrations where !done.contains(migration.version) {
            try await sql.raw("BEGIN").run()
            do {
                for statement in migration.statements(for: kind) {
                    try await sql.raw(SQLQueryString(statement)).run()
                }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await sql.raw(
                    """
                    INSERT INTO schema_migrations (version, name, applied_at_ms) \
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now))
                    """
                ).run()
                try await sql.raw("COMMIT").run()
            } catch {
                try? await sql.raw("ROLLBACK").run()
                throw MigrationError(version: migration.version, name: migration.name, underlying: String(describing: error))
            }
            logger.info(
                "applied migration", metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
            applied.append(migration.version)
        }
        let current = max(done.max() ?? 0, applied.max() ?? 0)
        return Report(applied: applied, current: current)
    }

    private static func createTable(_ sql: any SQLDatabase) async throws {
        try await sql.raw(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at_ms BIGINT NOT NULL
            )
            """
        ).run()
    }

    private static func recorded(_ sql: any SQLDatabase) async throws -> [Int] {
        try await sql.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
            try $0.decode(column: "version", as: Int.self)
        }
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let version: Int
    public let name: String
    public let underlying: String
    public var description: String { "migration \(version) (\(name)) failed: \(underlying)" }
}
