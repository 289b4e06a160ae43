import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// The audit log: who did what to what, before and after, in a hash chain that shows tampering.
@Suite("Audit log")
struct AuditTests {
    static func logs(_ fixture: Fixture, query: String = "") async throws -> AuditLogPage {
        try fixture.decode(AuditLogPage.self, try await fixture.send(.get, "/admin/audit-logs" + query, headers: Fixture.admin))
    }

    static func verify(_ fixture: Fixture) async throws -> AuditVerification {
        try fixture.decode(AuditVerification.self, try await fixture.send(.get, "/admin/audit-logs/verify", headers: Fixture.admin))
    }

    @Test(arguments: Harness.kinds)
    func mutationsAreRecordedWithActorTargetAndStatesButNoSecret(_ kind: DatabaseKind) async throws {
        let sink = MemorySink()
        try await Harness.withApp(kind, sink: sink) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let token = try await fixture.token("user-1", app: app)
            let auth = Fixture.bearer(token)
            let patched = try await fixture.send(
                .patch, "/admin/users/user-1", headers: [.adminKey: Harness.adminKeyCanary, .userAgent: "ops-console/1.0"],
                json: #"{"dailyQuota":7}"#)
            #expect(patched.status == .ok)
            #expect(try await fixture.send(.delete, "/admin/users/nobody-here", headers: Fixture.admin).status == .notFound)
            let split = try await fixture.send(.post, "/api/split-key/split", headers: auth, json: ContractCases.splitJSON())
            let created = try fixture.decode(SplitKeyCreated.self, split)

            let page = try await Self.logs(fixture)
            #expect(page.total == 4)
            let byAction = Dictionary(grouping: page.logs, by: \.action)
            let update = try #require(byAction["user.update"]?.first)
            #expect(update.actorType == .admin)
            #expect(update.actorId.hasPrefix("admin-"))
            #expect(update.target == "user-1")
            #expect(update.before?.contains("\"dailyQuota\":100") == true)
            #expect(update.after?.contains("\"dailyQuota\":7") == true)
            #expect(update.userAgent == "ops-console/1.0")
            #expect(update.success)
            let failed = try #require(byAction["user.delete"]?.first)
            #expect(!failed.success)
            #expect(failed.error == "not_found")
            let splitEntry = try #require(byAction["split_key.create"]?.first)
            #expect(splitEntry.actorType == .user)
            #expect(splitEntry.actorId == "user-1")
            #expect(splitEntry.target == "key-00000001")
            #expect(byAction["app.create"]?.first?.after?.contains(app.app.appId) == true)

            // No secret anywhere in the log: the app secret, the user's key, its client part, the admin key, the token.
            let everything = try await client.execute(uri: "/admin/audit-logs?limit=500", method: .get, headers: Fixture.admin, body: nil)
            let text = String(buffer: everything.body)
            for secret in [
                app.appSecret, "sk-user-own-key-0123456789", created.clientPart, Harness.adminKeyCanary, token.token, token.refreshToken,
            ] {
                #expect(!text.contains(secret))
            }
            #expect(try await Self.logs(fixture, query: "?action=split_key.").total == 1)
            #expect(try await Self.logs(fixture, query: "?success=false").total == 1)
            #expect(try await Self.logs(fixture, query: "?actorId=user-1").total == 1)
            #expect(try await Self.verify(fixture).valid)
        }
    }

    /// A user signed in through an identity provider, or a guest, has a ':' in their id; their
    /// entries can be looked up by it.
    @Test func entriesOfAUserWithANamespacedIdCanBeFound() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.takingGuests()
            let guest = try fixture.decode(TokenResponse.self, try await fixture.install("install-audit-1"))
            let split = try await fixture.send(
                .post, "/api/split-key/split", headers: Fixture.bearer(guest), json: ContractCases.splitJSON())
            #expect(split.status == .created)
            let page = try await Self.logs(fixture, query: "?actorId=guest%3Ainstall-audit-1")
            #expect(page.total == 1)
            #expect(page.logs.first?.actorId == "guest:install-audit-1")
        }
    }

    @Test(arguments: Harness.kinds)
    func editingOrRemovingARowIsFoundByVerify(_ kind: DatabaseKind) async throws {
        try await Harness.withFreshConfig(kind) { config in
            var config = config
            config.providers = try await Harness.providers()
            let final = config
            let app = try await buildApplication(config: final, logger: Harness.logger(MemorySink()))
            try await app.test(.router) { client in
                let fixture = Fixture(client: client)
                for index in 0..<5 { _ = try await fixture.createApp("com.example.app\(index)") }
                let intact = try await Self.verify(fixture)
                #expect(intact.valid)
                #expect(intact.checked == 5)
                #expect(intact.headHash?.count == 64)

                try await DatabaseFactory.with(final.database, logger: Harness.logger(MemorySink())) { database in
                    try await database.withSQL { try await $0.raw("UPDATE audit_log SET target = 'someone-else' WHERE seq = 3").run() }
                }
                let edited = try await Self.verify(fixture)
                #expect(!edited.valid)
                #expect(edited.firstBroken?.seq == 3)
                #expect(edited.firstBroken?.reason == .hashMismatch)
                #expect(edited.checked == 2)

                try await DatabaseFactory.with(final.database, logger: Harness.logger(MemorySink())) { database in
                    try await database.withSQL { try await $0.raw("DELETE FROM audit_log WHERE seq = 3").run() }
                }
                let removed = try await Self.verify(fixture)
                #expect(removed.firstBroken?.seq == 4)
                #expect(removed.firstBroken?.reason == .gap)
            }
        }
    }

    @Test(arguments: Harness.kinds)
    func concurrentWritersExtendOneChain(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { _ = try await fixture.createApp("com.example.c\(index)") }
                }
                try await group.waitForAll()
            }
            let result = try await Self.verify(fixture)
            #expect(result.valid)
            #expect(result.checked == 20)
            #expect(try await Self.logs(fixture, query: "?action=app.create&limit=500").logs.map(\.seq).sorted() == Array(1...20))
        }
    }
}
