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
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
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
                try await fixture.send(.get, "/api/me/quota", headers: [.authorization: "Bearer " + Self.resigned(token, header: header)])
                    .status
            }
            // The control: our own header, re-signed the same way, is accepted.
            #expect(try await status(#"{"alg":"HS256","typ":"JWT"}"#) == .ok)
            #expect(try await status(#"{"alg":"HS256"}"#) == .ok)
            for header in [
                #"{"alg":"RS256","typ":"JWT"}"#, #"{"alg":"hs256","typ":"JWT"}"#, #"{"typ":"JWT"}"#, #"{"alg":"none"}"#,
                #"{"alg":"HS256","typ":"at+jwt"}"#, #"{"alg":"HS512","typ":"JWT"}"#, "not json",
            ] {
                #expect(try await status(header) == .unauthorized, "\(header)")
            }
        }
    }

    @Test func byokCanBeTriedOfflineWithTheMockProvider() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let key = try await ContractCases.split(fixture, auth, keyId: "key-mock-0001", provider: "mock")
            let call = #"{"endpoint":"/chat/completions","model":"mock-model","messages":[{"role":"user","content":"hi"}]}"#
            let answered = try await fixture.send(
                .post, "/api/mock/proxy", headers: ContractCases.withPart(auth, id: key.keyId, part: key.clientPart), json: call)
            #expect(answered.status == .ok, "\(String(buffer: answered.body))")
            // The part is checked as for any provider.
            let wrong = try await fixture.send(
                .post, "/api/mock/proxy", headers: ContractCases.withPart(auth, id: key.keyId, part: String(repeating: "A", count: 43)),
                json: call)
            #expect(wrong.status == .unauthorized)
        }
    }

    @Test func analyticsAnswersAreNotCached() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            for (path, headers) in [
                ("/analytics/my-stats", auth), ("/analytics/overview", Fixture.admin), ("/analytics/usage", Fixture.admin),
            ] {
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

/// Requests written byte for byte on a live server: framing, `Host`, HEAD and path shapes.
@Suite("Hardening, raw HTTP", .serialized)
struct RawHTTPTests {
    /// Sends `request` on a new connection and reads until the server closes it or goes quiet.
    static func exchange(_ port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            received += chunk[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    static func status(_ answer: String) -> Int? {
        answer.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
    }

    @Test func malformedChunkedFramingIsA400NotA500AndNotAnErrorLine() async throws {
        let sink = MemorySink()
        try await EdgeLiveTests.withLiveApp(sink: sink) { _, port, _ in
            let head = "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            for framing in [
                "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
                "Transfer-Encoding: xchunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
            ] {
                let answer = try Self.exchange(port, head + framing)
                #expect(Self.status(answer) == 400, "\(framing): \(answer.prefix(200))")
                #expect(!answer.contains("internal_error"))
            }
        }
        #expect(
            !sink.contents.contains { $0.contains("\"level\":\"error\"") }, "\(sink.contents.filter { $0.contains("\"level\":\"error\"") })"
        )
    }

    @Test func http11NeedsExactlyOneHost() async throws {
        try await EdgeLiveTests.withLiveApp { _, port, _ in
            let missing = try Self.exchange(port, "GET /health HTTP/1.1\r\n\r\n")
            #expect(Self.status(missing) == 400)
            #expect(missing.contains("\"invalid_host\""))
            #expect(missing.lowercased().contains("x-request-id:"))
            #expect(Self.status(try Self.exchange(port, "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")) == 400)
            #expect(Self.status(try Self.exchange(port, "GET /health HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n")) == 400)
            // HTTP/1.0 may omit it; one Host is fine, and a client cannot plant the mark itself.
            #expect(Self.status(try Self.exchange(port, "GET /health HTTP/1.0\r\n\r\n")) == 200)
            #expect(
                Self.status(
                    try Self.exchange(port, "GET /health HTTP/1.1\r\nHost: a\r\nX-Safeapi-Invalid-Host: 1\r\nConnection: close\r\n\r\n"))
                    == 200)
        }
    }

    @Test func headIsAnsweredWhereverGetIsWithoutABody() async throws {
        try await EdgeLiveTests.withLiveApp { _, port, client in
            let token = try await Fixture(client: client).signIn().token
            for (path, auth, expected) in [
                ("/health", "", 200), ("/api/providers", "Authorization: Bearer \(token)\r\n", 200), ("/api/me/quota", "", 401),
                ("/admin/apps", "", 401),
            ] {
                let answer = try Self.exchange(port, "HEAD \(path) HTTP/1.1\r\nHost: x\r\n\(auth)Connection: close\r\n\r\n")
                #expect(Self.status(answer) == expected, "\(path): \(answer.prefix(200))")
                let parts = answer.components(separatedBy: "\r\n\r\n")
                #expect(parts.count == 2 && parts[1].isEmpty, "\(path): a HEAD answer has a body")
                #expect(answer.lowercased().contains("content-type: application/json"), "\(path)")
            }
            // On the proxy, HEAD is the GET call (allowed, counted, recorded) without its body.
            let proxied = try Self.exchange(
                port, "HEAD /proxy/testai/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
            #expect(Self.status(proxied) == 200, "\(proxied.prefix(300))")
            #expect(proxied.hasSuffix("\r\n\r\n"), "a HEAD answer has a body")
            #expect(MockProviderServer.shared.received.contains { $0.method == "GET" && $0.path.hasSuffix("/openai/v1/models") })
            // A relayed answer that breaks off is the bridge's 502 on HEAD too, with its request id.
            let broken = try Self.exchange(
                port, "HEAD /proxy/testai/broken-stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
            #expect(Self.status(broken) == 502, "\(broken.prefix(300))")
            #expect(broken.lowercased().contains("x-request-id:"))
            #expect(broken.hasSuffix("\r\n\r\n"), "a HEAD answer has a body")
            // A path with POST only: 405, and Allow tells the truth.
            let post = try Self.exchange(port, "HEAD /auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(Self.status(post) == 405)
            #expect(post.contains("Allow: POST\r\n"), "\(post)")
            let get = try Self.exchange(port, "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            #expect(get.contains("Allow: GET, HEAD\r\n"), "\(get)")
        }
    }

    @Test func emptySegmentsAndTrailingSlashesAreNeverCollapsed() async throws {
        try await EdgeLiveTests.withLiveApp { _, port, client in
            let token = try await Fixture(client: client).signIn().token
            let auth = "Authorization: Bearer \(token)\r\n"
            func answer(_ method: String, _ path: String, body: String? = nil) throws -> String {
                let content = body.map { "Content-Type: application/json\r\nContent-Length: \($0.utf8.count)\r\n\r\n\($0)" } ?? "\r\n"
                return try Self.exchange(port, "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\(auth)Connection: close\r\n" + content)
            }
            // The proxy's endpoint policy decides on the path as sent, as it does on the body form.
            for path in ["/proxy/testai/models//files", "/proxy/testai/chat//completions", "/proxy/testai/models/", "/proxy/testai/"] {
                let method = path.contains("chat") ? "POST" : "GET"
                let sent = try answer(method, path, body: method == "POST" ? "{}" : nil)
                #expect(Self.status(sent) == 400, "\(path): \(sent.prefix(300))")
                #expect(sent.contains("\"invalid_endpoint\""), "\(path)")
                let endpoint = String(path.dropFirst("/proxy/testai".count))
                let body = try answer("POST", "/api/testai/proxy", body: #"{"endpoint":"\#(endpoint)"}"#)
                #expect(Self.status(body) == 400, "body form \(endpoint)")
            }
            #expect(MockProviderServer.shared.received.allSatisfy { !$0.path.hasSuffix("/models/files") })
            // Anywhere else such a path is no route.
            for path in ["//health", "/health/", "/admin/apps/", "/api//providers", "//"] {
                let sent = try answer("GET", path)
                #expect(Self.status(sent) == 404, "\(path): \(sent.prefix(200))")
            }
            #expect(Self.status(try answer("GET", "/health")) == 200)
        }
    }
}
