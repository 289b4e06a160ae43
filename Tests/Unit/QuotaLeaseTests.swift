import Foundation
import Generated
import SQLKit
import Synchronization
import Testing

@testable import Handlers

/// Quota leases: a busy user is admitted from blocks held in memory, and the counts stay exact;
/// a quiet user, a user near a limit and a user with a budget are counted one statement a call.
@Suite("Quota leases")
struct QuotaLeaseTests {
    /// One instance's connection to the shared database: counts the round trips it makes, and can
    /// be cut (the instance crashed: nothing it still meant to write arrives).
    final class Connection: Database {
        let base: any Database
        private let state = Mutex((roundTrips: 0, cut: false))

        init(_ base: any Database) { self.base = base }

        var kind: DatabaseKind { base.kind }
        var roundTrips: Int { state.withLock { $0.roundTrips } }
        func cut() { state.withLock { $0.cut = true } }

        private func enter() throws {
            try state.withLock { state in
                guard !state.cut else { throw CancellationError() }
                state.roundTrips += 1
            }
        }

        func withSQL<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
            try enter()
            return try await base.withSQL(body)
        }

        func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
            try enter()
            return try await base.transaction(body)
        }
    }

    static func seed(_ database: any Database, users: [(id: String, daily: Int64)], budget: Bool = false) async throws {
        _ = try await Migrator(migrations: Migrations.all).run(on: database, logger: TestDatabases.logger)
        let (app, _) = try await AppStore(database: database).register(name: "leases", description: nil, appId: "leases.app")
        for user in users {
            _ = try await UserStore(database: database).findOrCreate(
                userId: user.id, appId: app.appId, dailyQuota: user.daily, monthlyQuota: 1_000_000, now: 0)
            if budget {
                try await database.withSQL { sql in
                    try await sql.raw("UPDATE users SET daily_token_budget = 1000000 WHERE user_id = \(bind: user.id)").run()
                }
            }
        }
    }

    static func ledger(_ connection: Connection) -> QuotaLedger {
        QuotaLedger(database: connection, users: UserStore(database: connection))
    }

    /// The requests counted in the user's day.
    static func counter(_ database: any Database, _ userId: String) async throws -> Int64 {
        let day = QuotaWindow.current(.day, at: Date()).key
        return try await database.withSQL { sql in
            try await sql.raw("SELECT requests FROM quota_counters WHERE user_id = \(bind: userId) AND period = \(bind: day)").first()?
                .decode(column: "requests", as: Int64.self) ?? 0
        }
    }

    /// 400 calls one after another: most come from blocks, each sees its own count, and once the
    /// blocks are given back the counter holds exactly the calls made.
    @Test(arguments: TestDatabases.kinds)
    func aBusyUsersCallsComeFromBlocksAndTheCountStaysExact(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            try await Self.seed(databases[0], users: [("busy", 1000)])
            let connection = Connection(databases[0])
            // Paced over a second, so a loaded machine's slower calls still make a busy user.
            let ledger = QuotaLedger(database: connection, users: UserStore(database: connection), leaseLifetime: .seconds(1))
            var remaining: [Int64] = []
            var heldAtSomePoint = false
            for call in 0..<400 {
                remaining.append(try await ledger.admit(userId: "busy").remaining)
                if call % 50 == 49 {
                    let counted = try await Self.counter(databases[0], "busy")
                    // The database never holds fewer than were admitted; more while a block is held.
                    #expect(counted >= Int64(call + 1))
                    if counted > Int64(call + 1) { heldAtSomePoint = true }
                }
            }
            #expect(heldAtSomePoint)
            #expect(remaining == (0..<400).map { 999 - Int64($0) })
            // Far fewer round trips than calls (the probes above are on another connection).
            #expect(connection.roundTrips < 200, "\(connection.roundTrips) round trips for 400 calls")
            let standing = try await ledger.standing(of: try #require(try await UserStore(database: databases[0]).get("busy")))
            #expect(standing.day.requests.used == 400)
            await ledger.returnLeases()
            #expect(try await Self.counter(databases[0], "busy") == 400)
        }
    }

    /// Warmed up on three instances (so each holds blocks), then 900 calls at once: exactly the
    /// quota of 600 gets through, however the blocks were spread.
    @Test(arguments: TestDatabases.kinds)
    func aBurstOverThreeInstancesLetsExactlyTheQuotaThrough(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind, instances: 3) { databases in
            try await Self.seed(databases[0], users: [("burst", 600)])
            let ledgers = databases.map { Self.ledger(Connection($0)) }
            var admitted = 0
            for call in 0..<150 where (try? await ledgers[call % 3].admit(userId: "burst")) != nil { admitted += 1 }
            #expect(admitted == 150)
            admitted += await withTaskGroup(of: Bool.self) { group in
                for call in 0..<900 {
                    let ledger = ledgers[call % 3]
                    group.addTask { (try? await ledger.admit(userId: "burst")) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(admitted == 600)
            for ledger in ledgers { await ledger.returnLeases() }
            #expect(try await Self.counter(databases[0], "burst") == 600)
        }
    }

    /// An instance that stops calling while it holds a block gives it back once the user has been
    /// idle for a lease lifetime: another instance refused meanwhile waits for it, so the quota is
    /// used exactly.
    @Test(arguments: TestDatabases.kinds)
    func aBlockHeldByAnIdleInstanceComesBackToTheOthers(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind, instances: 2) { databases in
            try await Self.seed(databases[0], users: [("shared", 500)])
            // Idle for a second before it gives back, so the second instance runs out meanwhile.
            let first = QuotaLedger(database: databases[0], users: UserStore(database: databases[0]), leaseLifetime: .seconds(1))
            var admitted: Int64 = 0
            while try await Self.counter(databases[1], "shared") == admitted {
                _ = try await first.admit(userId: "shared")
                admitted += 1
            }
            // At once, so the quota is reached while the first instance still holds its block.
            let second = Self.ledger(Connection(databases[1]))
            admitted += await withTaskGroup(of: Int64.self) { group in
                for _ in 0..<600 { group.addTask { (try? await second.admit(userId: "shared")) != nil ? 1 : 0 } }
                return await group.reduce(0, +)
            }
            #expect(admitted == 500)
            #expect(try await Self.counter(databases[1], "shared") == 500)
        }
    }

    /// An instance that dies holding a block takes its unused requests with it: the others admit
    /// fewer (never more), and once the block's time is up they refuse without waiting for it.
    @Test(arguments: TestDatabases.kinds)
    func anInstanceThatDiesHoldingABlockOnlyUnderAdmits(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind, instances: 2) { databases in
            try await Self.seed(databases[0], users: [("crash", 500)])
            let doomed = Connection(databases[0])
            // A lifetime of a second: under a loaded machine the block is still held when the
            // connection is cut (at 100 ms an idle pause could give it back first).
            let first = QuotaLedger(database: doomed, users: UserStore(database: doomed), leaseLifetime: .seconds(1))
            var admittedByFirst: Int64 = 0
            var held: Int64 = 0
            while held == 0 {
                _ = try await first.admit(userId: "crash")
                admittedByFirst += 1
                held = try await Self.counter(databases[1], "crash") - admittedByFirst
            }
            doomed.cut()
            let second = Self.ledger(Connection(databases[1]))
            var admittedBySecond: Int64 = 0
            while (try? await second.admit(userId: "crash")) != nil { admittedBySecond += 1 }
            #expect(held > 0 && held <= 256)
            #expect(admittedByFirst + admittedBySecond == 500 - held)
            // The dead instance's block still counts, and nothing more is admitted.
            #expect(try await Self.counter(databases[1], "crash") == 500)
        }
    }

    /// Calls spaced wider than a lease's lifetime take no block: each is one statement, and the
    /// counter always equals the calls made.
    @Test func aQuietUserTakesNoBlock() async throws {
        try await TestDatabases.withFresh(.sqlite) { databases in
            try await Self.seed(databases[0], users: [("quiet", 1000)])
            let ledger = Self.ledger(Connection(databases[0]))
            for call in 1...4 {
                _ = try await ledger.admit(userId: "quiet")
                #expect(try await Self.counter(databases[0], "quiet") == Int64(call))
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// What a leaser remembers of users goes once they are idle: a thousand users seen once leave
    /// nothing behind.
    @Test func usersSeenOnceAreForgotten() async throws {
        try await TestDatabases.withFresh(.sqlite) { databases in
            let leases = QuotaLeases(database: databases[0], rules: .init(lifetime: .milliseconds(20)))
            let (day, month) = (QuotaWindow.current(.day, at: Date()), QuotaWindow.current(.month, at: Date()))
            for index in 0..<1000 { _ = leases.take(userId: "once-\(index)", day: day, month: month) }
            #expect(leases.knownUsers == 1000)
            for _ in 0..<100 where leases.knownUsers > 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(leases.knownUsers == 0)
        }
    }

    /// A user with a token budget is charged after each response, so takes no block: the counter
    /// always equals the calls made. The same near a limit: the last 64 are counted one by one.
    @Test(arguments: TestDatabases.kinds)
    func aUserWithABudgetOrNearALimitTakesNoBlock(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            try await Self.seed(databases[0], users: [("budgeted", 1000)], budget: true)
            let ledger = Self.ledger(Connection(databases[0]))
            for call in 1...150 {
                _ = try await ledger.admit(userId: "budgeted")
                if call % 10 == 0 { #expect(try await Self.counter(databases[0], "budgeted") == Int64(call)) }
            }
            try await databases[0].withSQL { sql in
                try await sql.raw("UPDATE users SET daily_token_budget = NULL, daily_quota = 214 WHERE user_id = 'budgeted'").run()
            }
            // 64 left: from here on every call is counted as it is made, up to the limit.
            for call in 151...214 {
                _ = try await ledger.admit(userId: "budgeted")
                #expect(try await Self.counter(databases[0], "budgeted") == Int64(call))
            }
            await #expect(throws: AppError.self) { try await ledger.admit(userId: "budgeted") }
        }
    }
}
