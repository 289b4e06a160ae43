import SQLKit
import ServiceLifecycle
import Testing

@testable import Handlers

@Suite("Storage: migrations on SQLite and PostgreSQL")
struct MigratorTests {
    static let first = [
        Migration(version: 1, name: "create_widgets", both: ["CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT NOT NULL)"]),
        Migration(version: 2, name: "create_gadgets", both: ["CREATE TABLE gadgets (id BIGINT PRIMARY KEY)"]),
    ]

    @Test(arguments: TestDatabases.kinds)
    func appliesPendingMigrationsInOrderAndRecordsThem(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            let report = try await Migrator(migrations: Self.first).run(on: database, logger: TestDatabases.logger)
            #expect(report == .init(applied: [1, 2], current: 2))
            #expect(try await Migrator(migrations: Self.first).appliedVersions(on: database) == [1, 2])
            try await database.withSQL { sql in
                try await sql.raw("INSERT INTO widgets (id, name) VALUES (1, 'a')").run()
                let count = try await sql.raw("SELECT COUNT(*) AS n FROM widgets").first()?.decode(column: "n", as: Int.self)
                #expect(count == 1)
            }
        }
    }

    @Test(arguments: TestDatabases.kinds)
    func runningAgainChangesNothingAndLaterMigrationsApplyAlone(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            try await Migrator(migrations: Self.first).run(on: database, logger: TestDatabases.logger)
            let again = try await Migrator(migrations: Self.first).run(on: database, logger: TestDatabases.logger)
            #expect(again == .init(applied: [], current: 2))
            let third = Self.first + [Migration(version: 3, name: "add_color", both: ["ALTER TABLE widgets ADD COLUMN color TEXT"])]
            let later = try await Migrator(migrations: third).run(on: database, logger: TestDatabases.logger)
            #expect(later == .init(applied: [3], current: 3))
        }
    }

    @Test(arguments: TestDatabases.kinds)
    func aFailingMigrationLeavesNoTraceAndStopsTheRun(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            let broken = [
                Self.first[0],
                Migration(version: 2, name: "half_done", both: ["CREATE TABLE half (id BIGINT)", "THIS IS NOT SQL"]),
                Migration(version: 3, name: "never", both: ["CREATE TABLE never (id BIGINT)"]),
            ]
            await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: broken).run(on: database, logger: TestDatabases.logger)
            }
            let versions = try await Migrator(migrations: broken).appliedVersions(on: database)
            #expect(versions == [1])
            // The failed migration's first statement was rolled back with it.
            await #expect(throws: (any Error).self) {
                try await database.withSQL { try await $0.raw("SELECT * FROM half").run() }
            }
        }
    }

    /// Two instances starting at once on one PostgreSQL database: the advisory lock makes them
    /// take turns, so each migration runs once (a second CREATE TABLE would fail).
    @Test(.enabled(if: TestDatabases.postgresURL != nil))
    func concurrentInstancesApplyEachMigrationOnce() async throws {
        let many = (1...8).map { Migration(version: $0, name: "t\($0)", both: ["CREATE TABLE t\($0) (id BIGINT PRIMARY KEY)"]) }
        try await TestDatabases.withFresh(.postgres, instances: 4) { databases in
            let reports = try await withThrowingTaskGroup(of: Migrator.Report.self) { group in
                for database in databases {
                    group.addTask { try await Migrator(migrations: many).run(on: database, logger: TestDatabases.logger) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(reports.flatMap(\.applied).sorted() == Array(1...8))
            #expect(reports.allSatisfy { $0.current == 8 })
        }
    }

    @Test(arguments: TestDatabases.kinds)
    func pingAnswers(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            try await databases[0].ping()
            #expect(databases[0].kind == kind)
        }
    }
}

@Suite("DATABASE_URL")
struct DatabaseLocationTests {
    @Test func unsetMeansASQLiteFileInTheDataDirectory() throws {
        #expect(try DatabaseLocation.parse(nil, dataDirectory: "./data") == .sqlite(path: "./data/safeapi.sqlite"))
        #expect(try DatabaseLocation.parse("  ", dataDirectory: "/var/lib/x") == .sqlite(path: "/var/lib/x/safeapi.sqlite"))
    }

    @Test func sqliteSpellings() throws {
        #expect(try DatabaseLocation.parse("sqlite:///abs/dev.db", dataDirectory: "") == .sqlite(path: "/abs/dev.db"))
        #expect(try DatabaseLocation.parse("sqlite://rel/dev.db", dataDirectory: "") == .sqlite(path: "rel/dev.db"))
        #expect(try DatabaseLocation.parse("file:./dev.db", dataDirectory: "") == .sqlite(path: "./dev.db"))
        #expect(try DatabaseLocation.parse("sqlite::memory:", dataDirectory: "") == .sqlite(path: ":memory:"))
    }

    @Test func postgresURL() throws {
        let location = try DatabaseLocation.parse(
            "postgresql://app:p%40ss@db.internal:6543/bridge?sslmode=require&pool_max=40&search_path=tenant_a", dataDirectory: "")
        guard case .postgres(let settings) = location else {
            Issue.record("not postgres")
            return
        }
        #expect(settings.host == "db.internal")
        #expect(settings.port == 6543)
        #expect(settings.username == "app")
        #expect(settings.password?.value == "p@ss")
        #expect(settings.database == "bridge")
        #expect(settings.tls == .require)
        #expect(settings.maximumConnections == 40)
        #expect(settings.searchPath == "tenant_a")
        #expect(!location.description.contains("p@ss"))
        #expect(!location.description.contains("p%40ss"))
        let plain = try DatabaseLocation.parse("postgres://u@localhost/db", dataDirectory: "")
        guard case .postgres(let defaults) = plain else {
            Issue.record("not postgres")
            return
        }
        #expect(defaults.port == 5432)
        #expect(defaults.tls == .prefer)
        #expect(defaults.password == nil)
    }

    @Test(arguments: [
        ("mysql://u@h/db", "must start with"),
        ("postgres://h/db", "needs a user name"),
        ("postgres://u@h", "needs a database name"),
        ("postgres://u@h/db?sslmode=maybe", "sslmode must be"),
        ("postgres://u@h/db?pool_max=0", "pool_max"),
        ("postgres://u@h/db?search_path=a;drop", "search_path"),
        ("postgres://u@h/db?color=red", "unknown option 'color'"),
        ("sqlite:", "needs a file path"),
    ])
    func malformedURLsAreRefusedWithAReason(url: String, reason: String) {
        let error = #expect(throws: DatabaseLocation.ParseError.self) {
            _ = try DatabaseLocation.parse(url, dataDirectory: "")
        }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }
}

@Suite("Usage recorder")
struct UsageRecorderTests {
    static func record(_ index: Int, model: String?) -> UsageRecord {
        UsageRecord(
            requestId: "r\(index)", userId: "u", appId: "a", provider: "p", endpoint: "/e", model: model, status: 200,
            inputTokens: Int64(index),
            outputTokens: 1, cachedTokens: 0, costMicros: 2, latencyMs: 3, ttfbMs: model == nil ? nil : 1, streamed: false,
            cancelled: false,
            keySource: "server", splitKeyId: nil, clientIp: "127.0.0.1", userAgent: nil, createdAtMs: Millis.now()
        )
    }

    /// Rows with and without optional values in one batch, and everything queued is written on shutdown.
    @Test(arguments: TestDatabases.kinds)
    func aMixedBatchIsWrittenWholeAndFlushedOnShutdown(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            try await Migrator(migrations: Migrations.all).run(on: database, logger: TestDatabases.logger)
            let recorder = UsageRecorder(
                database: database, followers: [SplitKeyStore(database: database)], metrics: BridgeMetrics(), logger: TestDatabases.logger)
            for index in 0..<450 { recorder.record(Self.record(index, model: index.isMultiple(of: 2) ? "m" : nil)) }
            let group = ServiceGroup(configuration: .init(services: [recorder], logger: TestDatabases.logger))
            let running = Task { try await group.run() }
            try await Task.sleep(for: .milliseconds(50))
            await group.triggerGracefulShutdown()
            try await running.value
            let (count, sum) = try await database.withSQL { sql in
                let row = try await sql.raw("SELECT COUNT(*) AS n, CAST(SUM(input_tokens) AS BIGINT) AS s FROM usage_records").first()
                return (try row?.decode(column: "n", as: Int.self), try row?.decode(column: "s", as: Int.self))
            }
            #expect(count == 450)
            #expect(sum == (0..<450).reduce(0, +))
        }
    }
}

@Suite("Storage: transactions")
struct TransactionTests {
    static let table = Migration(version: 1, name: "items", both: ["CREATE TABLE items (id BIGINT PRIMARY KEY, source TEXT NOT NULL)"])

    static func count(_ database: any Database, _ source: String) async throws -> Int64 {
        try await database.withSQL { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM items WHERE source = \(bind: source)").first()?.decode(column: "n", as: Int64.self)
                ?? -1
        }
    }

    @Test(arguments: TestDatabases.kinds)
    func aThrownBodyLeavesNothingAndAReturnedOneEverything(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            _ = try await Migrator(migrations: [Self.table]).run(on: database, logger: TestDatabases.logger)
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO items (id, source) VALUES (1, 'rolled')").run()
                    try await sql.raw("INSERT INTO items (id, source) VALUES (2, 'rolled')").run()
                    throw Boom()
                }
            }
            #expect(try await Self.count(database, "rolled") == 0)
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO items (id, source) VALUES (1, 'kept')").run()
                try await sql.raw("INSERT INTO items (id, source) VALUES (2, 'kept')").run()
            }
            #expect(try await Self.count(database, "kept") == 2)
        }
    }

    /// Transactions and plain statements from many tasks at once: every one lands, none waits forever.
    @Test(arguments: TestDatabases.kinds)
    func concurrentTransactionsAndStatementsAllLand(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            _ = try await Migrator(migrations: [Self.table]).run(on: database, logger: TestDatabases.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        if index % 2 == 0 {
                            try await database.transaction { sql in
                                try await sql.raw("INSERT INTO items (id, source) VALUES (\(bind: Int64(index * 10)), 'tx')").run()
                                try await sql.raw("INSERT INTO items (id, source) VALUES (\(bind: Int64(index * 10 + 1)), 'tx')").run()
                            }
                        } else {
                            try await database.withSQL { sql in
                                try await sql.raw("INSERT INTO items (id, source) VALUES (\(bind: Int64(index * 10)), 'plain')").run()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await Self.count(database, "tx") == 40)
            #expect(try await Self.count(database, "plain") == 20)
        }
    }

    /// Long reads and writes on the shared connection while transactions commit on the other: no
    /// statement fails with SQLITE_BUSY ("database is locked"). Statements on one SQLite
    /// connection must not interleave: a write stepping beside an unfinished read upgrades that
    /// read's snapshot, which fails at once once another connection has committed.
    @Test func readsWritesAndTransactionsTogetherNeverMeetABusyDatabase() async throws {
        try await TestDatabases.withFresh(.sqlite) { databases in
            let database = databases[0]
            _ = try await Migrator(migrations: [Self.table]).run(on: database, logger: TestDatabases.logger)
            try await database.withSQL { sql in
                for id in 0..<300 {
                    try await sql.raw("INSERT INTO items (id, source) VALUES (\(bind: Int64(1_000_000 + id)), 'seed')").run()
                }
            }
            let failures = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<12 {
                    group.addTask {
                        var failures = 0
                        for round in 0..<60 {
                            let id = Int64(worker * 1000 + round)
                            do {
                                switch worker % 3 {
                                case 0:
                                    try await database.transaction { sql in
                                        try await sql.raw("INSERT INTO items (id, source) VALUES (\(bind: id), 'tx')").run()
                                    }
                                case 1:
                                    _ = try await database.withSQL { try await $0.raw("SELECT id, source FROM items ORDER BY id").all() }
                                default:
                                    try await database.withSQL {
                                        try await $0.raw("INSERT INTO items (id, source) VALUES (\(bind: id), 'plain')").run()
                                    }
                                }
                            } catch {
                                failures += 1
                            }
                        }
                        return failures
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(failures == 0)
            #expect(try await Self.count(database, "tx") == 4 * 60)
            #expect(try await Self.count(database, "plain") == 4 * 60)
        }
    }
}
