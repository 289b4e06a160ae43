import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import Testing

@testable import Handlers
@testable import Server

/// The auth rules of the spec, end to end through the application.
@Suite("Auth: tokens, refresh, revocation, admin key")
struct AuthTests {
    static let kinds = Harness.kinds

    // MARK: Forged and stale tokens

    /// Signs claims as the bridge would, but with any secret and times.
    static func sign(
        secret: String, userId: String = "user-1", issuedAt: Date = Date(), lifetime: TimeInterval = 900,
        notBefore: Date? = nil, issuer: String = "safeapi-bridge", audience: String = "safeapi-bridge-clients"
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        let claims = AccessClaims(
            sub: .init(value: userId), app: "com.example.app", jti: .init(value: UUID().uuidString), iat: .init(value: issuedAt),
            nbf: .init(value: notBefore ?? issuedAt), exp: .init(value: issuedAt.addingTimeInterval(lifetime)),
            iss: .init(value: issuer), aud: .init(value: [audience]), gen: 0, fam: "family"
        )
        return try await keys.sign(claims)
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test(arguments: kinds)
    func forgedExpiredAndMisdirectedTokensAreRefusedEachWithItsCode(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            _ = try await fixture.signIn()
            let secret = Harness.jwtSecretCanary
            let now = Date()
            let payload =
                #"{"sub":"user-1","app":"com.example.app","jti":"x","iat":\#(Int(now.timeIntervalSince1970)),"nbf":\#(Int(now.timeIntervalSince1970)),"exp":\#(Int(now.timeIntervalSince1970) + 900),"iss":"safeapi-bridge","aud":"safeapi-bridge-clients","gen":0,"fam":"f"}"#
            let cases: [(String, String)] = [
                (try await Self.sign(secret: "another-secret-entirely-0123456789abcdef"), "token_invalid_signature"),
                (Self.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + Self.base64URL(payload) + ".", "token_invalid_signature"),
                (
                    Self.base64URL(#"{"alg":"HS512","typ":"JWT"}"#) + "." + Self.base64URL(payload) + ".c2lnbmF0dXJl",
                    "token_invalid_signature"
                ),
                (try await Self.sign(secret: secret, issuedAt: now.addingTimeInterval(-901), lifetime: 900), "token_expired"),
                (try await Self.sign(secret: secret, notBefore: now.addingTimeInterval(60)), "token_not_yet_valid"),
                (try await Self.sign(secret: secret, issuer: "someone-else"), "token_invalid_issuer"),
                (try await Self.sign(secret: secret, audience: "another-audience"), "token_invalid_audience"),
                ("only-one-part", "token_malformed"),
            ]
            for (token, code) in cases {
                let response = try await fixture.send(.get, "/auth/verify", headers: [.authorization: "Bearer \(token)"])
                #expect(response.status == .unauthorized, "\(code)")
                #expect(try fixture.decode(APIError.self, response).error == code)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            // The same construction with the right secret and times is accepted: the refusals above
            // come from what was changed.
            let good = try await Self.sign(secret: secret)
            #expect(try await fixture.send(.get, "/auth/verify", headers: [.authorization: "Bearer \(good)"]).status == .ok)
        }
    }

    @Test func aTokenExpiredByOneSecondIsRefused() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            _ = try await fixture.signIn()
            let expired = try await Self.sign(secret: Harness.jwtSecretCanary, issuedAt: Date().addingTimeInterval(-61), lifetime: 60)
            let response = try await fixture.send(.get, "/auth/verify", headers: [.authorization: "Bearer \(expired)"])
            #expect(try fixture.decode(APIError.self, response).error == "token_expired")
        }
    }

    // MARK: Refresh

    @Test(arguments: kinds)
    func fiftyParallelRefreshesLeaveExactlyOneValidSuccessor(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let pair = try await fixture.signIn()
            let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = responses.filter { $0.status == .ok }
            #expect(winners.count == 1)
            for loser in responses where loser.status != .ok {
                #expect(loser.status == .unauthorized)
                #expect(try fixture.decode(APIError.self, loser).error == "refresh_token_already_used")
            }
            let successor = try fixture.decode(TokenResponse.self, try #require(winners.first))
            #expect(try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(successor)).status == .ok)
            let next = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(successor.refreshToken)"}"#)
            #expect(next.status == .ok)
        }
    }

    @Test(arguments: kinds)
    func reusingARotatedRefreshTokenAfterTheGraceRevokesTheWholeFamily(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: { $0.refreshReuseGrace = .zero }) { client, _ in
            let fixture = Fixture(client: client)
            let first = try await fixture.signIn()
            let rotated = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(first.refreshToken)"}"#)
            let second = try fixture.decode(TokenResponse.self, rotated)
            try await Task.sleep(for: .milliseconds(5))
            let replay = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(first.refreshToken)"}"#)
            #expect(try fixture.decode(APIError.self, replay).error == "refresh_token_reused")
            // Everything of that sign-in is dead: the successor's refresh token and both access tokens.
            let stolen = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(second.refreshToken)"}"#)
            #expect(try fixture.decode(APIError.self, stolen).error == "refresh_token_revoked")
            for token in [first, second] {
                let verify = try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(token))
                #expect(try fixture.decode(APIError.self, verify).error == "token_revoked")
            }
        }
    }

    // MARK: Revocation

    @Test(arguments: kinds)
    func logoutRevokesThisTokenAndLogoutAllRevokesEveryToken(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let phone = try await fixture.token("user-1", app: app)
            let laptop = try await fixture.token("user-1", app: app)
            #expect(try await fixture.send(.post, "/auth/logout", headers: Fixture.bearer(phone)).status == .ok)
            #expect(
                try fixture.decode(APIError.self, try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(phone))).error
                    == "token_revoked")
            let refreshAfterLogout = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(phone.refreshToken)"}"#)
            #expect(try fixture.decode(APIError.self, refreshAfterLogout).error == "refresh_token_revoked")
            #expect(try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(laptop)).status == .ok)

            let tablet = try await fixture.token("user-1", app: app)
            #expect(try await fixture.send(.post, "/auth/logout", headers: Fixture.bearer(tablet), json: #"{"all":true}"#).status == .ok)
            for token in [laptop, tablet] {
                #expect(
                    try fixture.decode(APIError.self, try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(token))).error
                        == "token_revoked")
            }
            // Signing in again afterwards works at once.
            let fresh = try await fixture.token("user-1", app: app)
            #expect(try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(fresh)).status == .ok)
        }
    }

    @Test(arguments: kinds)
    func aRevocationOnOneInstanceHoldsOnAnotherWithinTheSyncInterval(kind: DatabaseKind) async throws {
        try await Harness.withTwoInstances(kind, configure: { $0.revocationSyncInterval = .milliseconds(200) }) { one, two in
            let pair = try await one.signIn()
            #expect(try await two.send(.get, "/auth/verify", headers: Fixture.bearer(pair)).status == .ok)
            #expect(try await one.send(.post, "/auth/logout", headers: Fixture.bearer(pair)).status == .ok)
            let deadline = ContinuousClock.now + .seconds(3)
            var refused = false
            let started = ContinuousClock.now
            while !refused && ContinuousClock.now < deadline {
                let response = try await two.send(.get, "/auth/verify", headers: Fixture.bearer(pair))
                refused = response.status == .unauthorized
                if !refused { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(refused, "the other instance still accepts a revoked token")
            #expect(ContinuousClock.now - started < .seconds(1), "the revocation took longer than the documented bound")
        }
    }

    @Test(arguments: kinds)
    func deactivatingOrDeletingAUserStopsTheirTokensAtOnce(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let pair = try await fixture.token("user-1", app: app)
            try await fixture.deactivate("user-1")
            #expect(
                try fixture.decode(APIError.self, try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(pair))).error
                    == "user_inactive")
            let reactivate = try await fixture.send(.patch, "/admin/users/user-1", headers: Fixture.admin, json: #"{"active":true}"#)
            #expect(reactivate.status == .ok)
            // Deactivation revoked the old tokens for good; a new sign-in works.
            #expect(
                try fixture.decode(APIError.self, try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(pair))).error
                    == "token_revoked")
            let again = try await fixture.token("user-1", app: app)
            #expect(try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(again)).status == .ok)

            #expect(try await fixture.send(.delete, "/admin/users/user-1", headers: Fixture.admin).status == .noContent)
            #expect(
                try fixture.decode(APIError.self, try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(again))).error
                    == "token_revoked")
            // The same userId can sign in afresh, and its new token is not caught by the old revocation.
            let recreated = try await fixture.token("user-1", app: app)
            #expect(try await fixture.send(.get, "/auth/verify", headers: Fixture.bearer(recreated)).status == .ok)
        }
    }

    @Test func revocationsSurviveARestart() async throws {
        try await Harness.withFreshConfig(.sqlite) { config in
            let first = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
            let pair = Box<TokenResponse>()
            try await first.test(.router) { client in
                let fixture = Fixture(client: client)
                let token = try await fixture.signIn()
                #expect(try await fixture.send(.post, "/auth/logout", headers: Fixture.bearer(token)).status == .ok)
                await pair.set(token)
            }
            let second = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
            let token = try await pair.get()
            try await second.test(.router) { client in
                let response = try await Fixture(client: client).send(.get, "/auth/verify", headers: Fixture.bearer(token))
                #expect(response.status == .unauthorized)
            }
        }
    }

    // MARK: Apps

    @Test func rotatingOrDeactivatingAnAppStopsItsOldCredentials() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let rotated = try fixture.decode(
                AppCredentials.self, try await fixture.send(.post, "/admin/apps/com.example.app/rotate-secret", headers: Fixture.admin))
            #expect(rotated.appSecret != app.appSecret)
            let old = try await fixture.send(
                .post, "/auth/token", json: #"{"userId":"user-1","appId":"com.example.app","appSecret":"\#(app.appSecret)"}"#)
            #expect(try fixture.decode(APIError.self, old).error == "invalid_app_credentials")
            let pair = try await fixture.token("user-1", app: rotated)
            _ = try await fixture.send(.patch, "/admin/apps/com.example.app", headers: Fixture.admin, json: #"{"active":false}"#)
            let refused = try await fixture.send(
                .post, "/auth/token", json: #"{"userId":"user-1","appId":"com.example.app","appSecret":"\#(rotated.appSecret)"}"#)
            #expect(try fixture.decode(APIError.self, refused).error == "invalid_app_credentials")
            let refresh = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#)
            #expect(try fixture.decode(APIError.self, refresh).error == "invalid_app_credentials")
            let listed = try fixture.decode(AppList.self, try await fixture.send(.get, "/admin/apps", headers: Fixture.admin))
            #expect(listed.apps.map(\.active) == [false])
        }
    }

    // MARK: Admin key

    @Test func fiveFailuresThrottleAnAddressButTheRightKeyAlwaysWorks() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            for _ in 0..<20 {
                #expect(try await fixture.send(.get, "/admin/apps", headers: Fixture.admin).status == .ok)
            }
            for attempt in 1...5 {
                let response = try await fixture.send(.get, "/admin/apps", headers: [.adminKey: "guess-\(attempt)"])
                #expect(response.status == .unauthorized)
            }
            let throttled = try await fixture.send(.get, "/admin/apps", headers: [.adminKey: "guess-6"])
            #expect(throttled.status == .tooManyRequests)
            let seconds = try #require(throttled.headers[.retryAfter].flatMap(Int.init))
            #expect((890...900).contains(seconds))
            #expect(try fixture.decode(APIError.self, throttled).retryAfter == Int64(seconds))
            // No key is no guess: 401, not throttled.
            #expect(try await fixture.send(.get, "/admin/apps", headers: [:]).status == .unauthorized)
            // The operator behind the same address (a NAT, a load balancer) is not locked out.
            #expect(try await fixture.send(.get, "/admin/apps", headers: Fixture.admin).status == .ok)
            // ... and the right key does not lift the throttle on the guesses.
            #expect(try await fixture.send(.get, "/admin/apps", headers: [.adminKey: "guess-7"]).status == .tooManyRequests)
        }
    }

    @Test func whileThrottledEveryKeyIsComparedOnlyAfterTheHold() async throws {
        let key = "the-admin-key-0123456789abcdefghij"
        let guardian = AdminGuard(adminKey: Secret(key), failureHold: .milliseconds(400), logger: Harness.logger(MemorySink()))
        for _ in 0..<5 { _ = try? await guardian.authorize(presented: "nope", clientIP: "10.0.0.9") }
        // A guesser learns nothing faster than the hold, not even that a key was right.
        var started = ContinuousClock.now
        _ = try await guardian.authorize(presented: key, clientIP: "10.0.0.9")
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        started = ContinuousClock.now
        await #expect(throws: AppError.self) { _ = try await guardian.authorize(presented: "nope", clientIP: "10.0.0.9") }
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        // No key is no guess: answered at once.
        started = ContinuousClock.now
        await #expect(throws: AppError.adminKeyRequired) { _ = try await guardian.authorize(presented: nil, clientIP: "10.0.0.9") }
        #expect(ContinuousClock.now - started < .milliseconds(400))
    }

    @Test func theThrottleEndsAfterItsTimeAndHoldsInTotal() async throws {
        let key = "the-admin-key-0123456789abcdefghij"
        let guardian = AdminGuard(adminKey: Secret(key), failureHold: .zero, logger: Harness.logger(MemorySink()))
        let start = ContinuousClock.now
        for _ in 0..<5 {
            #expect(throws: AppError.invalidAdminKey) { _ = try guardian.check(presented: "nope", clientIP: "10.0.0.1", now: start) }
        }
        #expect(throws: AppError.adminLockedOut(retryAfter: 900)) {
            _ = try guardian.check(presented: "nope", clientIP: "10.0.0.1", now: start)
        }
        #expect(throws: Never.self) { _ = try guardian.check(presented: key, clientIP: "10.0.0.1", now: start) }
        // Another address is not affected.
        #expect(throws: AppError.invalidAdminKey) { _ = try guardian.check(presented: "nope", clientIP: "10.0.0.2", now: start) }
        #expect(throws: AppError.invalidAdminKey) {
            _ = try guardian.check(presented: "nope", clientIP: "10.0.0.1", now: start + .seconds(901))
        }
        // Failures spread over more than 15 minutes do not add up.
        for minute in 0..<6 {
            #expect(throws: AppError.invalidAdminKey) {
                _ = try guardian.check(presented: "nope", clientIP: "10.0.0.3", now: start + .seconds(Int64(minute) * 240))
            }
        }
        // The right key forgives the typos before it; missing keys are not counted at all.
        for _ in 0..<4 {
            #expect(throws: AppError.invalidAdminKey) { _ = try guardian.check(presented: "nope", clientIP: "10.0.0.4", now: start) }
        }
        #expect(throws: Never.self) { _ = try guardian.check(presented: key, clientIP: "10.0.0.4", now: start) }
        for _ in 0..<10 {
            #expect(throws: AppError.adminKeyRequired) { _ = try guardian.check(presented: nil, clientIP: "10.0.0.4", now: start) }
        }
        #expect(throws: AppError.invalidAdminKey) { _ = try guardian.check(presented: "nope", clientIP: "10.0.0.4", now: start) }
        // In total: 1 000 wrong keys within a minute from many addresses throttle every wrong key
        // for a minute; the right key still works.
        let later = start + .seconds(3600)
        for index in 0..<1000 {
            #expect(throws: AppError.invalidAdminKey) {
                _ = try guardian.check(presented: "nope", clientIP: "10.1.\(index / 4).\(index % 4)", now: later)
            }
        }
        #expect(throws: AppError.adminLockedOut(retryAfter: 59)) {
            _ = try guardian.check(presented: "nope", clientIP: "10.2.0.1", now: later + .seconds(1))
        }
        #expect(throws: Never.self) { _ = try guardian.check(presented: key, clientIP: "10.2.0.1", now: later + .seconds(1)) }
        #expect(throws: AppError.invalidAdminKey) {
            _ = try guardian.check(presented: "nope", clientIP: "10.2.0.2", now: later + .seconds(61))
        }
    }

    // MARK: Secrets

    @Test func appSecretsRefreshTokensAndTheJWTSecretNeverReachLogsOrErrors() async throws {
        let sink = MemorySink()
        let (secrets, errorBodies) = try await Harness.withApp(.sqlite, sink: sink) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let pair = try await fixture.token("user-1", app: app)
            let rotated = try fixture.decode(
                TokenResponse.self, try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#))
            var errors: [String] = []
            for response in [
                try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#),
                try await fixture.send(
                    .post, "/auth/token", json: #"{"userId":"user-1","appId":"com.example.app","appSecret":"\#(app.appSecret)x"}"#),
                try await fixture.send(.get, "/auth/verify", headers: [.authorization: "Bearer \(pair.token)x"]),
                try await fixture.send(.get, "/admin/apps", headers: [.adminKey: Harness.adminKeyCanary + "x"]),
            ] {
                errors.append(String(buffer: response.body))
            }
            return (
                [
                    app.appSecret, pair.refreshToken, rotated.refreshToken, pair.token, rotated.token, Harness.jwtSecretCanary,
                    Harness.adminKeyCanary,
                ], errors
            )
        }
        #expect(sink.contents.count > 10)
        for secret in secrets {
            for line in sink.contents { #expect(!line.contains(secret), "a log line holds a secret: \(line)") }
            for body in errorBodies { #expect(!body.contains(secret), "an error body holds a secret") }
        }
    }

    @Test func theDatabaseHoldsOnlyHashesOfAppSecretsAndRefreshTokens() async throws {
        try await Harness.withFreshConfig(.sqlite) { config in
            let app = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
            let secrets = Box<[String]>()
            try await app.test(.router) { client in
                let fixture = Fixture(client: client)
                let credentials = try await fixture.createApp()
                let pair = try await fixture.token("user-1", app: credentials)
                await secrets.set([credentials.appSecret, pair.refreshToken, Harness.jwtSecretCanary, Harness.adminKeyCanary])
            }
            guard case .sqlite(let path) = config.database else { return }
            var bytes = Data()
            for suffix in ["", "-wal", "-shm"] { bytes.append((try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()) }
            // The rows searched are in the bytes read: the app and the user are there, the secrets not.
            #expect(bytes.range(of: Data("com.example.app".utf8)) != nil)
            #expect(bytes.range(of: Data("user-1".utf8)) != nil)
            for secret in try await secrets.get() {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "the database files hold a secret")
            }
        }
    }
}
