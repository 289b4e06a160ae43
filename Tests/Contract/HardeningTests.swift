import Crypto
import Foundation
import Generated
@testable import Handlers
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import Server
import Testing

/// The faults found by trying the bridge from outside as users and attackers would (issue 13):
/// each test failed before its fix.
@Suite("Hardening")
struct HardeningTests {
    @Test func aRefusedUpstreamConnectionIsA502AtOnce() async throws {
        try await Harness.withApp(.sqlite, configure: { $0.upstreamTimeout = .seconds(30) }) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let started = ContinuousClock.now
            let response = try await fixture.send(.post, "/proxy/dead/chat/completions", headers: auth, json: "{}")
            #expect(response.status == .badGateway)
            // Nothing listens on port 1: the refusal is immediate; the head deadline is 30 s.
            #expect(ContinuousClock.now - started < .seconds(5), "a refused connection waited for the response-head deadline")
        }
    }

    /// A token re-signed with the server's own secret under another header.
    static func resigned(_ token: String, header: String) -> String {
        func base64url(_ bytes: some Sequence<UInt8>) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let payload = token.split(separator: ".")[1]
        let input = base64url(Array(header.utf8)) + "." + payload
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(Harness.jwtSecretCanary.utf8)))
        return input + "." + base64url(Array(mac))
    }

    @Test func aTokenWhoseHeaderIsNotHS256IsRefused() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let token = try await fixture.signIn().token
            func status(_ header: String) async throws -> HTTPResponse.Status {
                try await fixture.send(.get, "/api/me/quota", headers: [.authorization: "Bearer " + Self.resigned(token, header: header)]).status
            }
            // The control: our own header, re-signed the same way, is accepted.
            #expect(try await status(#"{"alg":"HS256","typ":"JWT"}"#) == .ok)
            #expect(try await status(#"{"alg":"HS256"}"#) == .ok)
            for header in [#"{"alg":"RS256","typ":"JWT"}"#, #"{"alg":"hs256","typ":"JWT"}"#, #"{"typ":"JWT"}"#, #"{"alg":"none"}"#,
                           #"{"alg":"HS256","typ":"at+jwt"}"#, #"{"alg":"HS512","typ":"JWT"}"#, "not json"] {
                #expect(try await status(header) == .unauthorized, "\(header)")
            }
        }
    }

    @Test func analyticsAnswersAreNotCached() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            for (path, headers) in [("/analytics/my-stats", auth), ("/analytics/overview", Fixture.admin), ("/analytics/usage", Fixture.admin)] {
                let response = try await fixture.send(.get, path, headers: headers)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.cacheControl] == "no-store", "\(path)")
            }
        }
    }
}

/// What a newcomer reads: `.env.example` names every setting the README's table documents.
@Suite("Newcomer")
struct NewcomerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theEnvExampleNamesEveryProvidersKeyAndBaseURL() throws {
        let example = try String(contentsOf: Self.root.appendingPathComponent(".env.example"), encoding: .utf8)
        for provider in try ProvidersFile.defaults().providers {
            for name in [provider.keyEnv, provider.baseURLEnv].compactMap({ $0 }) {
                #expect(example.contains("# \(name)=") || example.contains("\n\(name)="), "\(name) is not in .env.example")
            }
        }
        for name in ["UPSTREAM_CONNECT_TIMEOUT_MS", "MAX_CONNECTIONS_PER_ADDRESS"] {
            #expect(example.contains("\(name)="), "\(name) is not in .env.example")
        }
    }
}
