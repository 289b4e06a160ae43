import Crypto
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Handlers
@testable import Server

/// A device's DPoP key (RFC 9449), as an app holds it: it signs proofs and never leaves the device.
struct TestDPoPKey: Sendable {
    enum Kind: Sendable { case es256, edDSA }
    let kind: Kind
    let ec = P256.Signing.PrivateKey()
    let ed = Curve25519.Signing.PrivateKey()

    init(_ kind: Kind = .es256) { self.kind = kind }

    /// The public key as a JWK, members in RFC 7638 order.
    var jwk: [(String, String)] {
        switch kind {
        case .es256:
            let raw = ec.publicKey.rawRepresentation
            return [
                ("crv", "P-256"), ("kty", "EC"), ("x", TestIdentityProvider.base64URL(raw.prefix(32))),
                ("y", TestIdentityProvider.base64URL(raw.suffix(32))),
            ]
        case .edDSA:
            return [("crv", "Ed25519"), ("kty", "OKP"), ("x", TestIdentityProvider.base64URL(ed.publicKey.rawRepresentation))]
        }
    }

    /// RFC 7638, computed here on its own: SHA-256 of the required members without blanks.
    var thumbprint: String {
        let canonical = "{" + jwk.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
        return TestIdentityProvider.base64URL(Data(SHA256.hash(data: Data(canonical.utf8))))
    }

    /// A proof for `POST` on `url`, as at sign-in.
    func proof(url: String) throws -> String { try proof("POST", url) }

    /// A proof for `method` on `url`; `ath` when a token is given. `claims` and `header` override.
    func proof(
        _ method: String, _ url: String, token: String? = nil, jti: String = UUID().uuidString, iat: Date = Date(),
        claims: [String: Any] = [:], header: [String: Any] = [:], signedBy signer: TestDPoPKey? = nil
    ) throws -> String {
        var fields: [String: Any] = [
            "typ": "dpop+jwt", "alg": kind == .es256 ? "ES256" : "EdDSA", "jwk": Dictionary(uniqueKeysWithValues: jwk),
        ]
        for (name, value) in header { fields[name] = value }
        var payload: [String: Any] = ["jti": jti, "htm": method, "htu": url, "iat": Int(iat.timeIntervalSince1970)]
        if let token { payload["ath"] = TestIdentityProvider.base64URL(Data(SHA256.hash(data: Data(token.utf8)))) }
        for (name, value) in claims { payload[name] = value }
        let key = signer ?? self
        return try TestIdentityProvider.compact(fields, payload) { input in
            switch key.kind {
            case .es256: try key.ec.signature(for: input).rawRepresentation
            case .edDSA: try key.ed.signature(for: input)
            }
        }
    }
}

extension Fixture {
    /// A guest's token pair from `/auth/install`, bound to `key` when given.
    func boundInstall(_ installId: String, key: TestDPoPKey?, appId: String = "com.example.app") async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.dpop] = try key.proof(url: DPoPTests.origin + "/auth/install") }
        return try await send(
            .post, "/auth/install", headers: headers, json: #"{"client_id":"\#(appId)","install_id":"\#(installId)"}"#)
    }

    /// `Authorization: DPoP` with a fresh proof for `method` on `path`.
    static func dpop(_ token: TokenResponse, key: TestDPoPKey, _ method: String, _ path: String) throws -> HTTPFields {
        [.authorization: "DPoP \(token.token)", .dpop: try key.proof(method, DPoPTests.origin + path, token: token.token)]
    }
}

@Suite("DPoP: tokens bound to a device's key are useless without it (RFC 9449)")
struct DPoPTests {
    static let origin = "https://bridge.test"

    static func configure(_ config: inout AppConfig) {
        config.edge.publicURL = origin
        IdentityTests.configure(&config)
    }

    /// The challenge and code of a refusal on the API.
    static func expectRefused(_ response: TestResponse, _ fixture: Fixture, code: String = "invalid_dpop_proof", challenge: String)
        throws
    {
        #expect(response.status == .unauthorized)
        #expect(try fixture.decode(APIError.self, response).error == code)
        #expect(response.headers[.wwwAuthenticate]?.hasPrefix("DPoP error=\"\(challenge)\"") == true, "\(response.headers)")
    }

    @Test(arguments: Harness.kinds)
    func aBoundGuestTokenWorksOnlyWithFreshProofsFromItsKey(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: Self.configure) { client, _ in
            let fixture = Fixture(client: client)
            let marker = "dpop-" + UUID().uuidString
            try await fixture.takingGuests()
            let key = TestDPoPKey(.es256)
            let issued = try await fixture.boundInstall("install-dpop-1", key: key)
            #expect(issued.status == .ok, "\(String(buffer: issued.body))")
            let pair = try fixture.decode(TokenResponse.self, issued)
            #expect(pair.tokenType == .dPoP)
            // The token carries the key's thumbprint, computed by the test on its own.
            let payload = try #require(pair.token.split(separator: ".").dropFirst().first)
            let claims = try JSONSerialization.jsonObject(with: try #require(Credentials.base64URLDecoded(payload))) as? [String: Any]
            #expect((claims?["cnf"] as? [String: String])?["jkt"] == key.thumbprint)

            // Accepted with a fresh proof, on the API and on the proxy.
            let quota = try await fixture.send(.get, "/api/me/quota", headers: try Fixture.dpop(pair, key: key, "GET", "/api/me/quota"))
            #expect(quota.status == .ok, "\(String(buffer: quota.body))")
            let call = try await fixture.send(
                .post, "/api/testai/proxy", headers: try Fixture.dpop(pair, key: key, "POST", "/api/testai/proxy"),
                json: QuotaTests.chat(marker))
            #expect(call.status == .ok)

            // Each refusal: 401 with the DPoP challenge, nothing upstream.
            let url = Self.origin + "/api/me/quota"
            let dpop = "DPoP \(pair.token)"
            try Self.expectRefused(
                try await fixture.send(.get, "/api/me/quota", headers: Fixture.bearer(pair)), fixture, code: "token_requires_dpop",
                challenge: "invalid_token")
            try Self.expectRefused(
                try await fixture.send(.get, "/api/me/quota", headers: [.authorization: dpop]), fixture, challenge: "invalid_dpop_proof")
            let other = TestDPoPKey(.es256)
            let refusals: [(String, String)] = [
                ("another key", try other.proof("GET", url, token: pair.token)),
                ("another key's signature on this jwk", try key.proof("GET", url, token: pair.token, signedBy: other)),
                ("wrong htm", try key.proof("POST", url, token: pair.token)),
                ("wrong htu", try key.proof("GET", Self.origin + "/api/me", token: pair.token)),
                ("wrong host", try key.proof("GET", "https://evil.test/api/me/quota", token: pair.token)),
                ("stale iat", try key.proof("GET", url, token: pair.token, iat: Date().addingTimeInterval(-120))),
                ("future iat", try key.proof("GET", url, token: pair.token, iat: Date().addingTimeInterval(120))),
                ("wrong ath", try key.proof("GET", url, token: "another-token")),
                ("no ath", try key.proof("GET", url)),
                ("typ JWT", try key.proof("GET", url, token: pair.token, header: ["typ": "JWT"])),
                ("alg none", try key.proof("GET", url, token: pair.token, header: ["alg": "none"])),
                ("private key in jwk", try key.proof("GET", url, token: pair.token, header: ["jwk": ["kty": "oct", "k": "c2VjcmV0"]])),
            ]
            for (name, proof) in refusals {
                let refused = try await fixture.send(.get, "/api/me/quota", headers: [.authorization: dpop, .dpop: proof])
                try Self.expectRefused(refused, fixture, challenge: "invalid_dpop_proof")
                #expect(refused.status == .unauthorized, "\(name)")
            }
            // A replayed proof: its jti was seen.
            let once = try key.proof("GET", url, token: pair.token)
            #expect(try await fixture.send(.get, "/api/me/quota", headers: [.authorization: dpop, .dpop: once]).status == .ok)
            let replay = try await fixture.send(.get, "/api/me/quota", headers: [.authorization: dpop, .dpop: once])
            try Self.expectRefused(replay, fixture, challenge: "invalid_dpop_proof")
            #expect(try fixture.decode(APIError.self, replay).message.contains("jti"))
            // An unbound token is not to be sent as DPoP.
            let bearer = try fixture.decode(TokenResponse.self, try await fixture.boundInstall("install-bearer-1", key: nil))
            #expect(bearer.tokenType == .bearer)
            try Self.expectRefused(
                try await fixture.send(.get, "/api/me/quota", headers: try Fixture.dpop(bearer, key: key, "GET", "/api/me/quota")), fixture,
                challenge: "invalid_dpop_proof")
            #expect(try await fixture.send(.get, "/api/me/quota", headers: Fixture.bearer(bearer)).status == .ok)
            #expect(MockProviderServer.shared.requests(marker: marker).count == 1)
        }
    }

    @Test(arguments: Harness.kinds)
    func refreshKeepsTheBindingAndNeedsTheKey(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: Self.configure) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.takingGuests()
            let key = TestDPoPKey(.edDSA)
            let pair = try fixture.decode(TokenResponse.self, try await fixture.boundInstall("install-dpop-2", key: key))
            let body = #"{"refreshToken":"\#(pair.refreshToken)"}"#
            let url = Self.origin + "/auth/refresh"
            // Without a proof, or with another key's: refused, and the refresh token is not spent.
            for headers: HTTPFields in [[:], [.dpop: try TestDPoPKey(.edDSA).proof(url: url)], [.dpop: try key.proof("POST", url + "x")]] {
                let refused = try await fixture.send(.post, "/auth/refresh", headers: headers, json: body)
                #expect(refused.status == .badRequest)
                #expect(try fixture.decode(APIError.self, refused).error == "invalid_dpop_proof")
            }
            let refreshed = try await fixture.send(.post, "/auth/refresh", headers: [.dpop: try key.proof(url: url)], json: body)
            #expect(refreshed.status == .ok, "\(String(buffer: refreshed.body))")
            let next = try fixture.decode(TokenResponse.self, refreshed)
            #expect(next.tokenType == .dPoP)
            #expect(
                try await fixture.send(.get, "/api/me/quota", headers: try Fixture.dpop(next, key: key, "GET", "/api/me/quota")).status
                    == .ok)
            #expect(try await fixture.send(.get, "/api/me/quota", headers: Fixture.bearer(next)).status == .unauthorized)
        }
    }

    @Test(arguments: Harness.kinds)
    func anAppThatRequiresDPoPIssuesOnlyBoundTokens(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: Self.configure) { client, _ in
            let fixture = Fixture(client: client)
            let idp = TestIdentityProvider()
            let app = try await fixture.trusting(idp)
            let guests = try await fixture.send(
                .put, "/admin/apps/com.example.app/guests", headers: Fixture.admin, json: #"{"enabled":true}"#)
            #expect(guests.status == .ok)
            let early = try fixture.decode(TokenResponse.self, try await fixture.boundInstall("install-dpop-early", key: nil))
            let updated = try await fixture.send(
                .patch, "/admin/apps/com.example.app", headers: Fixture.admin, json: #"{"requireDPoP":true}"#)
            #expect(try fixture.decode(App.self, updated).requireDPoP == true)

            // A pair issued before: refreshing it without a proof is refused and does not spend it.
            let body = #"{"refreshToken":"\#(early.refreshToken)"}"#
            let unproven = try await fixture.send(.post, "/auth/refresh", json: body)
            #expect(unproven.status == .badRequest)
            #expect(try fixture.decode(APIError.self, unproven).error == "invalid_dpop_proof")
            let late = TestDPoPKey(.es256)
            let proven = try await fixture.send(
                .post, "/auth/refresh", headers: [.dpop: try late.proof(url: Self.origin + "/auth/refresh")], json: body)
            #expect(proven.status == .ok, "\(String(buffer: proven.body))")
            #expect(try fixture.decode(TokenResponse.self, proven).tokenType == .dPoP)

            let install = try await fixture.boundInstall("install-dpop-3", key: nil)
            #expect(install.status == .badRequest)
            #expect(try fixture.decode(APIError.self, install).error == "invalid_dpop_proof")
            let token = try await fixture.send(
                .post, "/auth/token", json: #"{"userId":"backend-user","appId":"com.example.app","appSecret":"\#(app.appSecret)"}"#)
            #expect(token.status == .badRequest)
            let exchange = try await fixture.exchange(TestIdentityProvider.form(try idp.token()))
            #expect(exchange.status == .badRequest)
            #expect(try fixture.decode(TokenExchangeError.self, exchange).error == "invalid_dpop_proof")

            // With a proof: a bound pair, by the RFC 8693 route too.
            let key = TestDPoPKey(.es256)
            let signedIn = try await fixture.client.execute(
                uri: "/auth/exchange", method: .post,
                headers: [
                    .contentType: "application/x-www-form-urlencoded", .dpop: try key.proof(url: Self.origin + "/auth/exchange"),
                ],
                body: ByteBuffer(string: TestIdentityProvider.form(try idp.token())))
            #expect(signedIn.status == .ok, "\(String(buffer: signedIn.body))")
            let exchanged = try fixture.decode(TokenExchangeResponse.self, signedIn)
            #expect(exchanged.tokenType == .dPoP)
            let badProof = try await fixture.client.execute(
                uri: "/auth/exchange", method: .post,
                headers: [
                    .contentType: "application/x-www-form-urlencoded", .dpop: try key.proof("GET", Self.origin + "/auth/exchange"),
                ],
                body: ByteBuffer(string: TestIdentityProvider.form(try idp.token())))
            #expect(badProof.status == .badRequest)
            #expect(try fixture.decode(TokenExchangeError.self, badProof).error == "invalid_dpop_proof")
            #expect(
                try fixture.decode(App.self, try await fixture.send(.get, "/admin/apps/com.example.app", headers: Fixture.admin))
                    .requireDPoP == true)
        }
    }

    /// Without `PUBLIC_URL`, the proof names the URL the client called: its `Host` (the test
    /// client's is `localhost`).
    @Test func withoutAPublicURLTheProofNamesTheHostCalled() async throws {
        try await Harness.withApp(.sqlite, configure: IdentityTests.configure) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.takingGuests()
            let key = TestDPoPKey(.es256)
            let body = #"{"client_id":"com.example.app","install_id":"install-host-1"}"#
            let good = try await fixture.send(
                .post, "/auth/install", headers: [.dpop: try key.proof(url: "http://localhost/auth/install")],
                json: body)
            #expect(good.status == .ok, "\(String(buffer: good.body))")
            let wrong = try await fixture.send(
                .post, "/auth/install", headers: [.dpop: try key.proof(url: "http://other.example.com/auth/install")],
                json: body)
            #expect(wrong.status == .badRequest)
        }
    }

    /// A proof spent on one instance is refused on the other: the `jti`s live in the database.
    @Test func aProofIsNotAcceptedTwiceAcrossInstances() async throws {
        guard Harness.postgresURL != nil else { return }
        try await Harness.withTwoInstances(
            .postgres,
            configure: Self.configure
        ) { one, two in
            try await one.takingGuests()
            let key = TestDPoPKey(.es256)
            let pair = try one.decode(TokenResponse.self, try await one.boundInstall("install-dpop-4", key: key))
            let headers = try Fixture.dpop(pair, key: key, "GET", "/api/me/quota")
            #expect(try await one.send(.get, "/api/me/quota", headers: headers).status == .ok)
            try Self.expectRefused(try await two.send(.get, "/api/me/quota", headers: headers), two, challenge: "invalid_dpop_proof")
        }
    }
}
