import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// Split keys end to end: the provider receives exactly the user's key, every misuse is refused
/// before anything goes upstream, and neither the key nor its client part is kept anywhere.
@Suite("BYOK split keys through the proxy", .serialized)
struct ByokTests {
    static let userKey = "sk-canary-user-byok-key-9f8e7d6c5b4a39281706"

    static func proxy(_ fixture: Fixture, auth: HTTPFields, keyId: String, part: String, provider: String = "testai", marker: String)
        async throws -> TestResponse
    {
        try await fixture.send(
            .post, "/proxy/\(provider)/chat/completions", headers: ContractCases.withPart(auth, id: keyId, part: part),
            json: #"{"model":"gpt-4o-mini","note":"\#(marker)"}"#)
    }

    static func split(_ fixture: Fixture, _ auth: HTTPFields, keyId: String = "key-byok-0001", provider: String = "testai") async throws
        -> SplitKeyCreated
    {
        let response = try await fixture.send(
            .post, "/api/split-key/split", headers: auth, json: #"{"apiKey":"\#(userKey)","provider":"\#(provider)","keyId":"\#(keyId)"}"#)
        guard response.status == .created else { throw FixtureError("split: \(response.status)") }
        return try fixture.decode(SplitKeyCreated.self, response)
    }

    @Test(arguments: Harness.kinds)
    func theProviderReceivesExactlyTheUsersKeyAndUsageNamesTheSplitKey(kind: DatabaseKind) async throws {
        let marker = "byok-roundtrip-\(UUID().uuidString)"
        try await Harness.withApp(kind) { client, config in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let key = try await Self.split(fixture, auth)
            let response = try await Self.proxy(fixture, auth: auth, keyId: key.keyId, part: key.clientPart, marker: marker)
            #expect(response.status == .ok)
            let received = MockProviderServer.shared.requests(marker: marker)
            #expect(received.count == 1)
            #expect(received.first?.headers["authorization"] == "Bearer \(Self.userKey)")
            // The usage writer's batch counts the use, off the request path: wait for it (10 s at most).
            var listed = try fixture.decode(SplitKey.self, try await fixture.send(.get, "/api/split-key/\(key.keyId)", headers: auth))
            for _ in 0..<200 where listed.useCount == 0 {
                try await Task.sleep(for: .milliseconds(50))
                listed = try fixture.decode(SplitKey.self, try await fixture.send(.get, "/api/split-key/\(key.keyId)", headers: auth))
            }
            #expect(listed.useCount == 1)
            #expect(listed.lastUsedAt != nil)
            let rows = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                try await database.withSQL { sql in
                    try await sql.raw("SELECT key_source, split_key_id FROM usage_records").all().map {
                        (try $0.decode(column: "key_source", as: String.self), try $0.decode(column: "split_key_id", as: String?.self))
                    }
                }
            }
            #expect(rows.count == 1)
            #expect(rows.first?.0 == "byok")
            #expect(rows.first?.1 == key.keyId)
        }
    }

    @Test(arguments: Harness.kinds)
    func everyMisuseIsRefusedAndTheProviderReceivesNothing(kind: DatabaseKind) async throws {
        let marker = "byok-misuse-\(UUID().uuidString)"
        try await Harness.withApp(kind) { client, config in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let owner = Fixture.bearer(try await fixture.token("owner-1", app: app))
            let other = Fixture.bearer(try await fixture.token("other-1", app: app))
            let key = try await Self.split(fixture, owner, keyId: "key-byok-0001")
            let claudeKey = try await Self.split(fixture, owner, keyId: "key-byok-0002", provider: "testclaude")
            let tampered = try await Self.split(fixture, owner, keyId: "key-byok-0003")
            let deleted = try await Self.split(fixture, owner, keyId: "key-byok-0004")
            let rotated = try await Self.split(fixture, owner, keyId: "key-byok-0005")

            // Tamper with one row's ciphertext directly in the database.
            try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                try await database.withSQL { sql in
                    let row = try await sql.raw("SELECT ciphertext FROM split_keys WHERE key_id = 'key-byok-0003'").first()
                    var bytes = Hex.decode(try row!.decode(column: "ciphertext", as: String.self))!
                    bytes[0] ^= 0x01
                    try await sql.raw("UPDATE split_keys SET ciphertext = \(bind: Hex.encode(bytes)) WHERE key_id = 'key-byok-0003'").run()
                }
            }
            #expect(try await fixture.send(.delete, "/api/split-key/\(deleted.keyId)", headers: owner).status == .noContent)
            var rotateHeaders = owner
            rotateHeaders[.partialKey] = rotated.clientPart
            let newPart = try fixture.decode(
                SplitKeyRotated.self, try await fixture.send(.post, "/api/split-key/\(rotated.keyId)/rotate", headers: rotateHeaders))
            #expect(newPart.clientPart != rotated.clientPart)

            let wrongPart = ClientPart.encode(RandomBytes.make(count: 32))
            let cases: [(String, HTTPFields, String, String, String, Int, String)] = [
                ("tampered ciphertext", owner, tampered.keyId, tampered.clientPart, "testai", 401, "split_key_invalid"),
                ("wrong client part", owner, key.keyId, wrongPart, "testai", 401, "split_key_invalid"),
                ("another user", other, key.keyId, key.clientPart, "testai", 404, "split_key_not_found"),
                ("another provider", owner, claudeKey.keyId, claudeKey.clientPart, "testai", 403, "split_key_wrong_provider"),
                ("deleted key", owner, deleted.keyId, deleted.clientPart, "testai", 401, "split_key_revoked"),
                ("old part after rotation", owner, rotated.keyId, rotated.clientPart, "testai", 401, "split_key_invalid"),
            ]
            for (name, auth, keyId, part, provider, status, code) in cases {
                let response = try await Self.proxy(fixture, auth: auth, keyId: keyId, part: part, provider: provider, marker: marker)
                #expect(Int(response.status.code) == status, "\(name)")
                #expect(try fixture.decode(APIError.self, response).error == code, "\(name)")
            }
            // One header without the other never falls back to the server's key.
            var idOnly = owner
            idOnly[.partialKeyId] = key.keyId
            let noPart = try await fixture.send(.post, "/proxy/testai/chat/completions", headers: idOnly, json: #"{"note":"\#(marker)"}"#)
            #expect(try fixture.decode(APIError.self, noPart).error == "split_key_invalid")
            var partOnly = owner
            partOnly[.partialKey] = key.clientPart
            let noId = try await fixture.send(.post, "/proxy/testai/chat/completions", headers: partOnly, json: #"{"note":"\#(marker)"}"#)
            #expect(try fixture.decode(APIError.self, noId).error == "split_key_not_found")
            #expect(MockProviderServer.shared.requests(marker: marker).isEmpty, "a refused split key reached the provider")
            // The same keys used rightly still work: the refusals came from what was wrong.
            #expect(
                try await Self.proxy(fixture, auth: owner, keyId: rotated.keyId, part: newPart.clientPart, marker: marker).status == .ok)
            #expect(MockProviderServer.shared.requests(marker: marker).count == 1)
            // /validate gives another user the same answer as a wrong part: no enumeration.
            let probe = try await fixture.send(
                .post, "/api/split-key/validate", headers: ContractCases.withPart(other, id: key.keyId, part: key.clientPart))
            #expect(try fixture.decode(APIError.self, probe).error == "split_key_invalid")
        }
    }

    /// A deleted user's keys are erased: the same id made again finds none, and the old client
    /// part opens nothing.
    @Test(arguments: Harness.kinds)
    func deletingAUserErasesTheirSplitKeys(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let auth = Fixture.bearer(try await fixture.token("user-gone", app: app))
            let created = try await Self.split(fixture, auth)
            #expect(try await fixture.send(.delete, "/admin/users/user-gone", headers: Fixture.admin).status == .noContent)
            let again = Fixture.bearer(try await fixture.token("user-gone", app: app))
            let listed = try fixture.decode(SplitKeyList.self, try await fixture.send(.get, "/api/split-key", headers: again))
            #expect(listed.keys.allSatisfy { !$0.active })
            let validated = try await fixture.send(
                .post, "/api/split-key/validate", headers: ContractCases.withPart(again, id: created.keyId, part: created.clientPart))
            #expect(validated.status == .unauthorized)
            let call = try await Self.proxy(
                fixture, auth: again, keyId: created.keyId, part: created.clientPart, marker: "gone-" + UUID().uuidString)
            #expect(call.status == .unauthorized)
        }
    }

    @Test func neitherTheKeyNorItsClientPartIsKeptAnywhere() async throws {
        let sink = MemorySink()
        let marker = "byok-canary-\(UUID().uuidString)"
        let (parts, bodies, bytes) = try await Harness.withApp(.sqlite, sink: sink) { client, config in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            var bodies: [String] = []
            let created = try await fixture.send(
                .post, "/api/split-key/split", headers: auth,
                json: #"{"apiKey":"\#(Self.userKey)","provider":"testai","keyId":"key-canary-01"}"#)
            let key = try fixture.decode(SplitKeyCreated.self, created)
            _ = try await Self.proxy(fixture, auth: auth, keyId: key.keyId, part: key.clientPart, marker: marker)
            var rotate = auth
            rotate[.partialKey] = key.clientPart
            let rotated = try fixture.decode(
                SplitKeyRotated.self, try await fixture.send(.post, "/api/split-key/\(key.keyId)/rotate", headers: rotate))
            for response in [
                try await fixture.send(.get, "/api/split-key", headers: auth),
                try await fixture.send(.get, "/api/split-key/\(key.keyId)", headers: auth),
                try await fixture.send(.get, "/admin/split-keys", headers: Fixture.admin),
                try await fixture.send(
                    .post, "/api/split-key/validate", headers: ContractCases.withPart(auth, id: key.keyId, part: rotated.clientPart)),
                try await Self.proxy(fixture, auth: auth, keyId: key.keyId, part: key.clientPart, marker: marker),
            ] {
                bodies.append(String(buffer: response.body))
            }
            try await Task.sleep(for: .milliseconds(600))
            var bytes = Data()
            if case .sqlite(let path) = config.database {
                for suffix in ["", "-wal", "-shm"] { bytes.append((try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()) }
            }
            return ([key.clientPart, rotated.clientPart], bodies, bytes)
        }
        #expect(bytes.range(of: Data("key-canary-01".utf8)) != nil, "the split key rows are not in the bytes read")
        for secret in [Self.userKey] + parts {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "the database files hold a secret")
            for body in bodies { #expect(!body.contains(secret), "a response holds a secret") }
            for line in sink.contents { #expect(!line.contains(secret), "a log line holds a secret") }
        }
        // The client part's raw bytes are not in the database either.
        for part in parts {
            let raw = Data(ClientPart.decode(part)!)
            #expect(bytes.range(of: raw) == nil)
            #expect(bytes.range(of: Data(Hex.encode(raw).utf8)) == nil)
        }
    }
}
