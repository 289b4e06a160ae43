import Foundation
import Logging
import Testing

@testable import Handlers

@Suite("Support: secrets, hex, request ids, JSON logs")
struct SupportTests {
    @Test func secretsNeverPrint() {
        let secret = Secret("sk-canary-0123456789")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("canary"))
        struct Holder { let key: Secret<String> }
        #expect(!String(describing: Holder(key: secret)).contains("canary"))
        #expect(secret.value == "sk-canary-0123456789")
    }

    @Test func hexRoundTrips() {
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff]
        #expect(Hex.encode(bytes) == "00017f80ff")
        #expect(Hex.decode("00017F80ff") == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func randomBytesDiffer() {
        #expect(RandomBytes.make(count: 32).count == 32)
        #expect(RandomBytes.make(count: 16) != RandomBytes.make(count: 16))
    }

    @Test(arguments: [
        ("abc-123_X.y:z", true),
        (String(repeating: "a", count: 128), true),
        (String(repeating: "a", count: 129), false),
        ("", false),
        ("has space", false),
        ("new\nline", false),
        ("émoji", false),
    ])
    func requestIdsMustBeWellFormed(id: String, accepted: Bool) {
        #expect(RequestIDMiddleware.isWellFormed(id) == accepted)
    }

    @Test func generatedRequestIdsAre32HexDigits() {
        let id = RequestIDMiddleware.generate()
        #expect(id.count == 32)
        #expect(Hex.decode(id)?.count == 16)
        #expect(RequestIDMiddleware.isWellFormed(id))
    }

    @Test func jsonLogLinesAreValidJSONWithTheRequestId() throws {
        let sink = MemorySink()
        var logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .info, sink: sink) }
        logger[metadataKey: "hb.request.id"] = "req-1"
        logger.info("quote \" backslash \\ newline \n tab \t control \u{1}", metadata: ["n": .stringConvertible(3), "list": ["a", "b"]])
        logger.debug("below the level")
        let lines = sink.contents
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "quote \" backslash \\ newline \n tab \t control \u{1}")
        #expect(object["requestId"] as? String == "req-1")
        #expect(object["hb.request.id"] == nil)
        #expect(object["level"] as? String == "info")
        #expect(object["n"] as? String == "3")
        #expect(object["list"] as? [String] == ["a", "b"])
    }

    @Test func deadlineCancelsSlowWork() async throws {
        await #expect(throws: Deadline.Exceeded.self) {
            try await Deadline.run(within: .milliseconds(20)) { try await Task.sleep(for: .seconds(10)) }
        }
        let value = try await Deadline.run(within: .seconds(5)) { 42 }
        #expect(value == 42)
    }
}

@Suite("Revocation list")
struct RevocationListTests {
    static let user = AuthenticatedUser(
        userId: "u-1", appId: "a", tokenId: "t-1", familyId: "f-1", generation: 0, issuedAt: Date(),
        expiresAt: Date().addingTimeInterval(60))

    /// A reload that read the database before this instance's revocation was written must not
    /// wipe it: the revoking instance refuses the token at once, whatever the timing.
    @Test func aReloadWithAnOlderReadKeepsThisInstancesRecentChanges() async throws {
        let database = try await SQLiteBackend.open(path: ":memory:", logger: Logger(label: "t"))
        try await Migrator(migrations: Migrations.all).run(on: database, logger: Logger(label: "t"))
        let list = RevocationList()
        list.apply(
            RevocationRecord(kind: .token, value: "t-1", userId: "u-1", expiresAtMs: Millis.now() + 60_000, createdAtMs: Millis.now()))
        list.setInactive("u-2", true)
        // The database has neither change (as if the reload's query ran first).
        try await list.reload(from: TokenStore(database: database), users: UserStore(database: database))
        #expect(throws: AppError.tokenRevoked) { try list.check(Self.user) }
        let other = AuthenticatedUser(
            userId: "u-2", appId: "a", tokenId: "t-2", familyId: "f-2", generation: 0, issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(60))
        #expect(throws: AppError.userInactive) { try list.check(other) }
        list.setInactive("u-2", false)
        try await list.reload(from: TokenStore(database: database), users: UserStore(database: database))
        #expect(throws: Never.self) { try list.check(other) }
        try await database.close()
    }
}
