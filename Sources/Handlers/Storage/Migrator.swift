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

    /// A statement in a few words, for progress: `INSERT INTO usage_daily`, `CREATE INDEX usage_time`.
    public static func label(_ statement: String) -> String {
        let words = statement.split(whereSeparator: \.isWhitespace).prefix(4)
        let verb = words.prefix(2).joined(separator: " ").uppercased()
        let name = { (index: Int) in words.count > index ? " " + words[index].prefix { $0 != "(" } : "" }
        switch verb {
        case "INSERT INTO", "DELETE FROM", "CREATE TABLE", "CREATE INDEX", "DROP TABLE", "ALTER TABLE", "DROP INDEX": return verb + name(2)
        case "CREATE UNIQUE": return "CREATE UNIQUE INDEX" + name(3)
        default: return String(statement.prefix(40))
        }
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
        /// Versions the database records that this binary does not know: a newer binary migrated
        /// it, and this one may not read or write everything that one does.
        public var unknown: [Int] = []

        public init(applied: [Int], current: Int, unknown: [Int] = []) {
            self.applied = applied
            self.current = current
            self.unknown = unknown
        }
    }

    /// One statement about to run: its place among all of them, and what it does.
    public typealias Progress = @Sendable (_ index: Int, _ count: Int, _ label: String) -> Void

    /// Applies the pending migrations, each in a transaction; `progress` hears of each statement.
    @discardableResult
    public func run(on database: any Database, logger: Logger, progress: Progress? = nil) async throws -> Report {
        let kind = database.kind
        let migrations = self.migrations
        return try await database.withSQL { sql in
            if kind == .postgres {
                try await sql.raw("SELECT pg_advisory_lock(\(literal: Self.advisoryLockKey))").run()
            }
            do {
                let report = try await Self.apply(migrations, kind: kind, sql: sql, logger: logger, progress: progress)
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

    /// The versions the binary knows that the database lacks, and those it records that the
    /// binary does not know.
    /// Reads only: a database without the table has no migration.
    public func compare(with database: any Database) async throws -> (pending: [Int], unknown: [Int]) {
        let exists: SQLQueryString =
            database.kind == .sqlite
            ? "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            : "SELECT 1 AS found WHERE to_regclass('schema_migrations') IS NOT NULL"
        let recorded = Set(
            try await database.withSQL { sql in try await sql.raw(exists).first() == nil ? [] : try await Self.recorded(sql) })
        let known = Set(migrations.map(\.version))
        return (known.subtracting(recorded).sorted(), recorded.subtracting(known).sorted())
    }

    private static func apply(_ migrations: [Migration], kind: DatabaseKind, sql: any SQLDatabase, logger: Logger, progress: Progress?)
        async throws -> Report
    {
        try await createTable(sql)
        let done = Set(try await recorded(sql))
        let pending = migrations.filter { !done.contains($0.version) }
        let count = pending.map { $0.statements(for: kind).count }.reduce(0, +)
        var index = 0
        var applied: [Int] = []
        for migration in pending {
            try await sql.raw("BEGIN").run()
            do {
                for statement in migration.statements(for: kind) {
                    index += 1
                    progress?(index, count, "migration \(migration.version) \(migration.name): \(Migration.label(statement))")
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
        return Report(applied: applied, current: current, unknown: done.subtracting(migrations.map(\.version)).sorted())
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
