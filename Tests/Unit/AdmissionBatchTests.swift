import Foundation
import Generated
import Testing

@testable import Handlers

/// Quota admission in batches: however the concurrent requests of many users are grouped, each
/// user gets exactly its quota, and every admitted request sees its own count.
@Suite("Admission batches")
struct AdmissionBatchTests {
    static let quotas: [String: Int64] = ["user-a": 30, "user-b": 7, "user-c": 1, "user-d": 0]

    static func seed(_ database: any Database) async throws {
        _ = try await Migrator(migrations: Migrations.all).run(on: database, logger: TestDatabases.logger)
        let (app, _) = try await AppStore(database: database).register(name: "batch", description: nil, appId: "batch.app")
        for (userId, quota) in quotas {
            _ = try await UserStore(database: database).findOrCreate(
                userId: userId, appId: app.appId, dailyQuota: quota, monthlyQuota: 1000, now: 0)
        }
    }

    /// 40 requests per user, all at once over `ledgers` (one per instance).
    static func burst(_ ledgers: [QuotaLedger]) async -> [String: [LimitStanding?]] {
        await withTaskGroup(of: (String, LimitStanding?).self) { group in
            for round in 0..<40 {
                for (index, userId) in quotas.keys.sorted().enumerated() {
                    let ledger = ledgers[(round + index) % ledgers.count]
                    group.addTask { (userId, try? await ledger.admit(userId: userId)) }
                }
            }
            var results: [String: [LimitStanding?]] = [:]
            for await (userId, standing) in group { results[userId, default: []].append(standing) }
            return results
        }
    }

    static func check(_ results: [String: [LimitStanding?]]) {
        for (userId, quota) in quotas {
            let admitted = results[userId, default: []].compactMap { $0 }
            #expect(Int64(admitted.count) == quota, "\(userId): \(admitted.count) admitted, quota \(quota)")
            // Each admitted request was told its own place: remaining runs from quota-1 down to 0.
            #expect(admitted.map(\.remaining).sorted() == (0..<quota).map { $0 }, "\(userId)")
        }
    }

    @Test(arguments: TestDatabases.kinds)
    func everyUserGetsExactlyItsQuotaAndEachRequestItsOwnCount(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            try await Self.seed(databases[0])
            let results = await Self.burst([QuotaLedger(database: databases[0], users: UserStore(database: databases[0]))])
            Self.check(results)
            // The counters agree with what was admitted.
            let ledger = QuotaLedger(database: databases[0], users: UserStore(database: databases[0]))
            for (userId, quota) in Self.quotas {
                let day = QuotaWindow.current(.day, at: Date())
                #expect(try await ledger.usage(userId: userId, keys: [day.key])[day.key]?.requests ?? 0 == quota)
            }
        }
    }

    @Test(.enabled(if: TestDatabases.postgresURL != nil))
    func batchesOfThreeInstancesShareOneCount() async throws {
        try await TestDatabases.withFresh(.postgres, instances: 3) { databases in
            try await Self.seed(databases[0])
            Self.check(await Self.burst(databases.map { QuotaLedger(database: $0, users: UserStore(database: $0)) }))
        }
    }

    @Test func aUsersRequestFromAnotherDayIsLeftToTheOneRequestPath() {
        let before = QuotaWindow.current(.day, at: Date(timeIntervalSince1970: 1_794_873_599))
        let after = QuotaWindow.current(.day, at: Date(timeIntervalSince1970: 1_794_873_601))
        let month = QuotaWindow.current(.month, at: Date(timeIntervalSince1970: 1_794_873_600))
        let groups = AdmissionBatch.grouped([("u", before, month), ("u", after, month), ("u", before, month), ("v", after, month)])
        #expect(groups.map(\.userId) == ["u", "v"])
        #expect(groups.map(\.members) == [[0, 2], [3]])
    }

    /// Calls on both sides of midnight in one batch share the month: its limit still holds.
    @Test(arguments: TestDatabases.kinds)
    func callsOnBothSidesOfMidnightShareTheMonthExactly(kind: DatabaseKind) async throws {
        try await TestDatabases.withFresh(kind) { databases in
            let database = databases[0]
            _ = try await Migrator(migrations: Migrations.all).run(on: database, logger: TestDatabases.logger)
            let (app, _) = try await AppStore(database: database).register(name: "midnight", description: nil, appId: "midnight.app")
            _ = try await UserStore(database: database).findOrCreate(
                userId: "night-owl", appId: app.appId, dailyQuota: 100, monthlyQuota: 6, now: 0)
            let ledger = QuotaLedger(database: database, users: UserStore(database: database))
            let midnight = Date(timeIntervalSince1970: 1_794_873_600)  // 2026-11-17T00:00:00Z
            for _ in 0..<5 {
                let admitted = await withTaskGroup(of: Bool.self) { group in
                    for index in 0..<20 {
                        let now = midnight.addingTimeInterval(index % 2 == 0 ? -0.5 : 0.5)
                        group.addTask { (try? await ledger.admit(userId: "night-owl", now: now)) != nil }
                    }
                    return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(admitted <= 6)
            }
            let month = QuotaWindow.current(.month, at: midnight)
            #expect(try await ledger.usage(userId: "night-owl", keys: [month.key])[month.key]?.requests == 6)
        }
    }
}
