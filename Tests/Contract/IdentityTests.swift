import Crypto
import CryptoExtras
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Handlers
@testable import Server

/// An identity provider the tests play: its keys (P-256 and Ed25519, made per run), its key set,
/// and subject tokens signed as it would sign them, or forged in the ways attackers forge them.
struct TestIdentityProvider: Sendable {
    static let issuer = "https://idp.test.example"
    static let audience = "bridge-test-client"

    /// One RSA key for the process: making one takes a while.
    static let rsaKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    let ecKey = P256.Signing.PrivateKey()
    let edKey = Curve25519.Signing.PrivateKey()
    let ecKid: String
    let edKid: String

    init(kidSuffix: String = "1") {
        ecKid = "ec-" + kidSuffix
        edKid = "ed-" + kidSuffix
    }

    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The public keys, as the provider publishes them.
    var jwks: String {
        let raw = ecKey.publicKey.rawRepresentation
        let x = Self.base64URL(raw.prefix(32))
        let y = Self.base64URL(raw.suffix(32))
        let ed = Self.base64URL(edKey.publicKey.rawRepresentation)
        let rsa = try! Self.rsaKey.publicKey.getKeyPrimitives()
        return #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(ecKid)","use":"sig","alg":"ES256"},"#
            + #"{"kty":"OKP","crv":"Ed25519","x":"\#(ed)","kid":"\#(edKid)","use":"sig"},"#
            + #"{"kty":"RSA","n":"\#(Self.base64URL(rsa.modulus))","e":"\#(Self.base64URL(rsa.publicExponent))","kid":"rsa-\#(ecKid)","use":"sig"}]}"#
    }

    /// Standard claims for `sub`, valid now, plus `extra` (which may override any of them).
    static func claims(sub: String = "user|42", extra: [String: Any] = [:], now: Date = Date()) -> [String: Any] {
        let time = Int(now.timeIntervalSince1970)
        var claims: [String: Any] = [
            "iss": issuer, "aud": audience, "sub": sub, "iat": time, "exp": time + 600, "email_verified": true,
        ]
        for (name, value) in extra { claims[name] = value }
        return claims
    }

    enum Signature {
        case es256, edDSA, rs256, none
        case hs256(secret: String)
        case foreignES256
    }

    /// A compact JWS of `claims`. `header` adds or overrides header fields.
    func token(_ claims: [String: Any] = Self.claims(), signature: Signature = .es256, header: [String: Any] = [:]) throws -> String {
        var fields: [String: Any]
        switch signature {
        case .es256, .foreignES256: fields = ["alg": "ES256", "kid": ecKid, "typ": "JWT"]
        case .edDSA: fields = ["alg": "EdDSA", "kid": edKid, "typ": "JWT"]
        case .rs256: fields = ["alg": "RS256", "kid": "rsa-" + ecKid, "typ": "JWT"]
        case .none: fields = ["alg": "none", "typ": "JWT"]
        case .hs256: fields = ["alg": "HS256", "kid": ecKid, "typ": "JWT"]
        }
        for (name, value) in header { fields[name] = value }
        return try Self.compact(fields, claims) { input in
            switch signature {
            case .es256: try ecKey.signature(for: input).rawRepresentation
            case .foreignES256: try P256.Signing.PrivateKey().signature(for: input).rawRepresentation
            case .edDSA: try edKey.signature(for: input)
            case .rs256: try Self.rsaKey.signature(for: input, padding: .insecurePKCS1v1_5).rawRepresentation
            case .none: Data()
            case .hs256(let secret): Data(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: Data(secret.utf8))))
            }
        }
    }

    /// A compact JWS: header and claims as JSON, then `sign` over their base64url forms.
    static func compact(_ header: [String: Any], _ claims: [String: Any], sign: (Data) throws -> Data) throws -> String {
        let encode = { (object: [String: Any]) in base64URL(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) }
        let input = try encode(header) + "." + encode(claims)
        return input + "." + base64URL(try sign(Data(input.utf8)))
    }

    /// The admin body that makes an app trust this provider, keys inline or at `jwksUri`.
    func providersBody(namespace: String = "idp", jwksUri: String? = nil, requiredClaims: [String: String]? = nil) throws -> String {
        var provider: [String: Any] = ["issuer": Self.issuer, "namespace": namespace, "audiences": [Self.audience]]
        if let jwksUri { provider["jwksUri"] = jwksUri } else { provider["jwks"] = jwks }
        if let requiredClaims { provider["requiredClaims"] = requiredClaims }
        return String(decoding: try JSONSerialization.data(withJSONObject: ["providers": [provider]]), as: UTF8.self)
    }

    /// The exchange request, form-encoded as RFC 8693 says.
    static func form(
        _ token: String, clientId: String = "com.example.app", grantType: String = "urn:ietf:params:oauth:grant-type:token-exchange"
    )
        -> String
    {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
        return "grant_type=\(encode(grantType))&subject_token=\(encode(token))"
            + "&subject_token_type=\(encode("urn:ietf:params:oauth:token-type:id_token"))&client_id=\(encode(clientId))"
    }
}

extension Fixture {
    /// An app that trusts `provider` (keys inline unless `jwksUri`).
    @discardableResult
    func trusting(
        _ provider: TestIdentityProvider, appId: String = "com.example.app", jwksUri: String? = nil, requiredClaims: [String: String]? = nil
    )
        async throws -> AppCredentials
    {
        let app = try await createApp(appId)
        let response = try await send(
            .put, "/admin/apps/\(appId)/identity-providers", headers: Fixture.admin,
            json: try provider.providersBody(jwksUri: jwksUri, requiredClaims: requiredClaims))
        guard response.status == .ok else {
            throw FixtureError("setAppIdentityProviders: \(response.status) \(String(buffer: response.body))")
        }
        return app
    }

    /// `POST /auth/exchange` with a form body.
    func exchange(_ form: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/auth/exchange", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: form))
    }
}

@Suite("Identity: apps without a backend sign their users in with their identity provider's token")
struct IdentityTests {
    static func configure(_ config: inout AppConfig) {
        config.identityAllowInsecure = true
        config.identityKeysRefetchInterval = .milliseconds(500)
    }

    @Test(arguments: Harness.kinds)
    func aGoodTokenBuysTheUsersPairInEitherEncodingAndAlgorithm(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: Self.configure) { client, _ in
            let fixture = Fixture(client: client)
            let idp = TestIdentityProvider()
            try await fixture.trusting(idp)
            let response = try await fixture.exchange(TestIdentityProvider.form(try idp.token()))
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let pair = try fixture.decode(TokenExchangeResponse.self, response)
            #expect(pair.user.userId == "idp:user|42")
            #expect(pair.tokenType == .bearer && pair.issuedTokenType == .urnIetfParamsOauthTokenTypeAccessToken)
            #expect(response.headers[.cacheControl] == "no-store")
            // The token is the bridge's own: it verifies, and names the namespaced user.
            let verified = try await fixture.send(.get, "/auth/verify", headers: [.authorization: "Bearer \(pair.accessToken)"])
            #expect(verified.status == .ok)
            // JSON works too, and EdDSA; a 255-character sub with OpenID's characters is one user.
            let long = String(repeating: "a|B.c-", count: 42) + "xyz"
            let json = try JSONSerialization.data(withJSONObject: [
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": try idp.token(TestIdentityProvider.claims(sub: long), signature: .edDSA),
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "client_id": "com.example.app",
            ])
            let second = try await client.execute(
                uri: "/auth/exchange", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: json))
            #expect(second.status == .ok, "\(String(buffer: second.body))")
            #expect(try fixture.decode(TokenExchangeResponse.self, second).user.userId == "idp:" + long)
            // RS256, the most common.
            let rsa = try await fixture.exchange(
                TestIdentityProvider.form(try idp.token(TestIdentityProvider.claims(sub: "rsa-user"), signature: .rs256)))
            #expect(rsa.status == .ok, "\(String(buffer: rsa.body))")
        }
    }

    @Test(arguments: Harness.kinds)
    func everyForgeryIsRefusedWithItsReason(kind: DatabaseKind) async throws {
        let sink = MemorySink()
        let idp = TestIdentityProvider()
        let good = try idp.token()
        try await Harness.withApp(kind, sink: sink, configure: Self.configure) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.trusting(idp, requiredClaims: ["email_verified": "true"])
            let now = Date()
            let cases: [(String, String, String)] = [
                ("expired", try idp.token(TestIdentityProvider.claims(now: now.addingTimeInterval(-700))), "expired"),
                (
                    "not yet valid", try idp.token(TestIdentityProvider.claims(extra: ["nbf": Int(now.timeIntervalSince1970) + 600])),
                    "not valid yet"
                ),
                ("another issuer", try idp.token(TestIdentityProvider.claims(extra: ["iss": "https://evil.example"])), "not trusted"),
                ("another audience", try idp.token(TestIdentityProvider.claims(extra: ["aud": ["someone-else"]])), "audience"),
                ("alg none", try idp.token(signature: .none), "algorithm 'none'"),
                ("HS256 keyed with the public key set", try idp.token(signature: .hs256(secret: idp.jwks)), "algorithm 'HS256'"),
                ("a kid not in the set", try idp.token(header: ["kid": "made-up"]), "key the issuer does not publish"),
                ("another key's signature", try idp.token(signature: .foreignES256), "signature"),
                (
                    "a jku pointing elsewhere", try idp.token(signature: .foreignES256, header: ["jku": "http://127.0.0.1:9/evil.json"]),
                    "signature"
                ),
                ("ES256 header on the Ed25519 key", try idp.token(header: ["kid": idp.edKid]), "does not match its key"),
                (
                    "HS256 keyed with the RSA key's PEM",
                    try idp.token(signature: .hs256(secret: TestIdentityProvider.rsaKey.publicKey.pemRepresentation)), "algorithm 'HS256'"
                ),
                ("required claim false", try idp.token(TestIdentityProvider.claims(extra: ["email_verified": false])), "email_verified"),
                (
                    "required claim missing", try idp.token(TestIdentityProvider.claims().filter { $0.key != "email_verified" }),
                    "email_verified"
                ),
                ("no sub", try idp.token(TestIdentityProvider.claims().filter { $0.key != "sub" }), "'sub'"),
                ("not a JWT", "not.a-jwt", "not a signed JWT"),
            ]
            for (name, token, reason) in cases {
                let response = try await fixture.exchange(TestIdentityProvider.form(token))
                #expect(response.status == .badRequest, "\(name)")
                let error = try fixture.decode(TokenExchangeError.self, response)
                #expect(error.error == "invalid_grant", "\(name)")
                #expect(error.errorDescription?.contains(reason) == true, "\(name): \(error.errorDescription ?? "")")
                #expect(!error.requestId.isEmpty)
            }
            // The request's own shape, and the client.
            let other: [(String, HTTPResponse.Status, String)] = [
                (TestIdentityProvider.form(try idp.token(), grantType: "password"), .badRequest, "unsupported_grant_type"),
                (
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=com.example.app", .badRequest,
                    "invalid_request"
                ),
                (TestIdentityProvider.form(try idp.token(), clientId: "no.such.app"), .unauthorized, "invalid_client"),
                (TestIdentityProvider.form(try idp.token()) + "&client_id=twice", .badRequest, "invalid_request"),
            ]
            for (form, status, code) in other {
                let response = try await fixture.exchange(form)
                #expect(response.status == status, "\(code)")
                #expect(try fixture.decode(TokenExchangeError.self, response).error == code)
            }
            // A namespace names one app's users: another app cannot take it, nor 'guest'.
            try await fixture.createApp("com.example.other")
            for namespace in ["idp", "guest"] {
                let clash = try await fixture.send(
                    .put, "/admin/apps/com.example.other/identity-providers", headers: Fixture.admin,
                    json: try idp.providersBody(namespace: namespace))
                #expect(clash.status == .unprocessableContent, "\(namespace)")
                #expect(try fixture.decode(APIError.self, clash).error == "identity_provider_conflict")
            }
            // A JSON body with a member that is not a string, or another content type: invalid_request.
            let typed = try await client.execute(
                uri: "/auth/exchange", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(
                    string:
                        #"{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"x","subject_token_type":"urn:ietf:params:oauth:token-type:id_token","client_id":"com.example.app","install_id":12345678}"#
                ))
            #expect(try fixture.decode(TokenExchangeError.self, typed).error == "invalid_request")
            let text = try await client.execute(
                uri: "/auth/exchange", method: .post, headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: TestIdentityProvider.form(good)))
            #expect(try fixture.decode(TokenExchangeError.self, text).error == "invalid_request")
            // The same provider's good token still works: the refusals came from what was changed.
            let pair = try await fixture.exchange(TestIdentityProvider.form(good))
            #expect(pair.status == .ok)
            let issued = try fixture.decode(TokenExchangeResponse.self, pair)
            // Identity tokens and what they bought are secrets: no log line carries one (nor its
            // signature alone), while the refusals were logged as security events.
            let logs = sink.contents.joined(separator: "\n")
            for secret in [good, String(good.split(separator: ".").last!), issued.accessToken, issued.refreshToken] {
                #expect(!logs.contains(secret))
            }
            #expect(logs.contains("invalid_grant"))
        }
    }

    /// Keys from a `jwksUri`: a rotated key is picked up after one fetch; made-up `kid`s cost at
    /// most one fetch per interval; cached keys outlive the key server; without any, 503.
    @Test func keysAreFetchedCachedRotatedAndSurviveTheirServer() async throws {
        let port = try await MockProviderServer.shared.port()
        let name = "idp-" + UUID().uuidString.prefix(8).lowercased()
        let uri = "http://127.0.0.1:\(port)/jwks/\(name)"
        let server = MockProviderServer.shared
        try await Harness.withApp(.sqlite, configure: Self.configure) { client, _ in
            let fixture = Fixture(client: client)
            let first = TestIdentityProvider(kidSuffix: "1")
            // The server is down and nothing is cached: 503, not 500.
            try await fixture.trusting(first, jwksUri: uri)
            let down = try await fixture.exchange(TestIdentityProvider.form(try first.token()))
            #expect(down.status == .serviceUnavailable)
            #expect(try fixture.decode(TokenExchangeError.self, down).error == "temporarily_unavailable")
            // Requests while it is down do not each try again.
            let downStarted = ContinuousClock.now
            for _ in 0..<10 { _ = try await fixture.exchange(TestIdentityProvider.form(try first.token())) }
            if ContinuousClock.now - downStarted < .milliseconds(500) { #expect(server.fetches(of: name) == 1) }

            server.publish(name, jwks: first.jwks)
            try await Task.sleep(for: .milliseconds(600))  // past the refetch interval of the failed attempt
            #expect(try await fixture.exchange(TestIdentityProvider.form(try first.token())).status == .ok)
            let fetched = server.fetches(of: name)
            // A flood of made-up kids: refused, and at most one more fetch within the interval.
            let started = ContinuousClock.now
            for index in 0..<20 {
                let response = try await fixture.exchange(TestIdentityProvider.form(try first.token(header: ["kid": "flood-\(index)"])))
                #expect(response.status == .badRequest)
            }
            if ContinuousClock.now - started < .milliseconds(500) { #expect(server.fetches(of: name) <= fetched + 1) }
            // The provider rotates its keys: the new kid is accepted after one fetch.
            let second = TestIdentityProvider(kidSuffix: "2")
            server.publish(name, jwks: second.jwks)
            try await Task.sleep(for: .milliseconds(600))
            let before = server.fetches(of: name)
            #expect(try await fixture.exchange(TestIdentityProvider.form(try second.token())).status == .ok)
            #expect(server.fetches(of: name) == before + 1)
            // The key server goes down: the cached keys still work.
            server.publish(name, jwks: nil)
            #expect(try await fixture.exchange(TestIdentityProvider.form(try second.token())).status == .ok)
        }
    }
}
