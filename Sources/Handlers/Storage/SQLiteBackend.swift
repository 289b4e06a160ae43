import Foundation
public import Logging
import NIOCore
import NIOPosix
public import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite through one SQLiteNIO connection (it has no pool). Single statements from many tasks are
/// safe on it. A transaction runs on a second connection to the same file, one transaction at a
/// time: SQLite's own write lock (WAL, `busy_timeout`) then keeps every other writer out until it
/// commits, while reads go on. (An in-memory database has no second connection: there, the
/// transaction's statements run on the shared one, without that isolation.)
///
/// Each connection has a thread of its own, so its statements run one after another. On a shared
/// thread pool SQLiteNIO steps statements of one connection side by side, and a write beside an
/// unfinished read inherits the read's snapshot: once the other connection has committed, SQLite
/// refuses it at once with SQLITE_BUSY ("database is locked"), whatever the busy timeout.
public final class SQLiteBackend: Database {
    public let kind = DatabaseKind.sqlite
    private let connection: SQLiteConnection
    private let writer: SQLiteConnection?
    /// One thread per connection. The writer's is its own too: a statement of the shared
    /// connection waiting on the write lock must not block the transaction that holds the lock.
    private let threads: [NIOThreadPool]
    private let turns = Permits()  // one transaction at a time on the writer connection

    private init(connection: SQLiteConnection, writer: SQLiteConnection?, threads: [NIOThreadPool]) {
        self.connection = connection
        self.writer = writer
        self.threads = threads
    }

    /// A thread for one connection.
    private static func thread() -> NIOThreadPool {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        return thread
    }

    /// Opens (creating it and its folder if needed) the file at `path`, or an in-memory database
    /// for `":memory:"`. WAL journaling (synchronous NORMAL), a busy timeout and foreign keys are
    /// switched on.
    public static func open(path: String, logger: Logger) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage
        if path == ":memory:" {
            storage = .memory
        } else {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            storage = .file(path: path)
        }
        var threads = [thread()]
        let connection = try await SQLiteConnection.open(
            storage: storage, threadPool: threads[0], logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        var writer: SQLiteConnection?
        if path != ":memory:" {
            threads.append(thread())
            writer = try await SQLiteConnection.open(
                storage: storage, threadPool: threads[1], logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        }
        let database = SQLiteBackend(connection: connection, writer: writer, threads: threads)
        for each in [connection] + (writer.map { [$0] } ?? []) {
            let sql = each.sql(queryLogLevel: nil)
            if path != ":memory:" {
                _ = try await sql.raw("PRAGMA journal_mode=WAL").all()
                // WAL's recommended durability: a commit survives the process crashing; only an
                // OS crash or power loss can lose the last commits (never corrupt the file). FULL
                // would fsync every commit: every quota admission would wait for the disk.
                try await sql.raw("PRAGMA synchronous=NORMAL").run()
            }
            try await sql.raw("PRAGMA busy_timeout=5000").run()
            try await sql.raw("PRAGMA foreign_keys=ON").run()
        }
        return database
    }

    public func withSQL<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await body(connection.sql(queryLogLevel: nil))
    }

    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        await turns.acquire()
        let sql = (writer ?? connection).sql(queryLogLevel: nil)
        do {
            try await sql.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(sql)
                try await sql.raw("COMMIT").run()
                await turns.release()
                return result
            } catch {
                try? await sql.raw("ROLLBACK").run()
                throw error
            }
        } catch {
            await turns.release()
            throw error
        }
    }

    /// Closes the connection. It runs even from a cancelled task (shutdown cancels services), so it
    /// uses the future-based close: the async one refuses to start once its task is cancelled.
    public func close() async throws {
        try await writer?.close().get()
        try await connection.close().get()
        for thread in threads { try await thread.shutdownGracefully() }
    }
}
