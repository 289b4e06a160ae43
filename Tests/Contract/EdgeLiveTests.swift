import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing

@testable import Handlers
@testable import Server

/// The edge on a live server, where the socket peer is real: forwarded addresses, IP rules,
/// HTTPS policy and TLS, slow clients, the connection cap and the body cap.
@Suite("Edge, live", .serialized)
struct EdgeLiveTests {
    static func withLiveApp<Result: Sendable>(
        sink: MemorySink = MemorySink(),
        configure: @escaping @Sendable (inout AppConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (_ base: String, _ port: Int, _ client: any TestClientProtocol) async throws -> Result
    ) async throws -> Result {
        let providers = try await Harness.providers()
        return try await Harness.withFreshConfig(.sqlite) { config in
            var config = config
            config.providers = providers
            configure(&config)
            let app = try await buildApplication(config: config, logger: Harness.logger(sink))
            let box = Box<Result>()
            try await app.test(.live) { client in
                let port = try #require(client.port)
                await box.set(try await body("http://127.0.0.1:\(port)", port, client))
            }
            return try await box.get()
        }
    }

    /// Never follows redirects, so a 308 is seen as it is.
    static let plain = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    static func get(
        _ url: String, headers: [(String, String)] = [], method: HTTPMethod = .GET, body: String? = nil, client: HTTPClient = plain
    ) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers, String(buffer: collected))
    }

    static func adminCreateRule(_ base: String, cidr: String, type: String, headers: [(String, String)] = []) async throws {
        let created = try await get(
            base + "/admin/ip-rules", headers: headers + [("X-Admin-Key", Harness.adminKeyCanary), ("Content-Type", "application/json")],
            method: .POST, body: #"{"cidr":"\#(cidr)","type":"\#(type)"}"#)
        #expect(created.status == 201, "\(created.body)")
    }

    @Test func aForgedForwardedForFromAnUntrustedPeerMovesNoLimitAndPassesNoRule() async throws {
        try await Self.withLiveApp(configure: { $0.edge.ipRateLimit = 3 }) { base, _, _ in
            for index in 0..<3 {
                let response = try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "198.51.100.\(index)")])
                #expect(response.status == 401)
                #expect(response.headers["RateLimit-Remaining"].first == String(2 - index))
            }
            let limited = try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "198.51.100.99")])
            #expect(limited.status == 429)
            #expect(limited.body.contains("\"rate_limited\""))
            #expect(limited.headers["Retry-After"].first.flatMap(Int.init) ?? 0 > 0)
            // Other route families are not under the per-IP limit.
            #expect(try await Self.get(base + "/health").status == 200)
        }
        try await Self.withLiveApp { base, _, _ in
            try await Self.adminCreateRule(base, cidr: "127.0.0.1", type: "deny")
            let refused = try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "203.0.113.5")])
            #expect(refused.status == 403)
            #expect(refused.body.contains("\"ip_forbidden\""))
            #expect(try await Self.get(base + "/health").status == 200)
        }
    }

    /// The sign-in operations have a per-address limit of their own: anonymous calls that cost
    /// a database read each (and a write with a DPoP proof) cannot be made without end.
    @Test func signingInIsLimitedPerAddressApartFromTheAPI() async throws {
        try await Self.withLiveApp(configure: {
            $0.edge.authRateLimit = 3
            $0.edge.ipRateLimit = 100
        }) { base, _, _ in
            let refresh = #"{"refreshToken":"sab_rt_not-a-token-of-ours-0000000000000000000"}"#
            for index in 0..<3 {
                let response = try await Self.get(
                    base + "/auth/refresh", headers: [("Content-Type", "application/json")], method: .POST, body: refresh)
                #expect(response.status == 401)
                #expect(response.headers["RateLimit-Limit"].first == "3")
                #expect(response.headers["RateLimit-Remaining"].first == String(2 - index))
            }
            let limited = try await Self.get(
                base + "/auth/token", headers: [("Content-Type", "application/json")], method: .POST,
                body: #"{"userId":"someone","appId":"no.such.app","appSecret":"x"}"#)
            #expect(limited.status == 429)
            #expect(limited.body.contains("\"rate_limited\""))
            #expect(limited.headers["Retry-After"].first.flatMap(Int.init) ?? 0 > 0)
            // The API's own per-address count is apart: nothing of it was used by signing in.
            let api = try await Self.get(base + "/api/providers")
            #expect(api.headers["RateLimit-Remaining"].first == "99")
        }
    }

    @Test func behindATrustedProxyTheForwardedClientIsLimitedAndRuled() async throws {
        try await Self.withLiveApp(configure: {
            $0.edge.trustedProxies = [CIDR("127.0.0.1/32")!]
            $0.edge.ipRateLimit = 2
        }) { base, _, _ in
            for _ in 0..<2 {
                #expect(try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "198.51.100.1")]).status == 401)
            }
            #expect(try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "198.51.100.1")]).status == 429)
            // A client that forges a left part is still itself (the right-most untrusted hop).
            #expect(try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "6.6.6.6, 198.51.100.1")]).status == 429)
            #expect(try await Self.get(base + "/api/providers", headers: [("X-Forwarded-For", "198.51.100.2")]).status == 401)

            try await Self.adminCreateRule(base, cidr: "198.51.100.0/24", type: "deny", headers: [("X-Forwarded-For", "192.0.2.1")])
            let denied = try await Self.get(base + "/auth/verify", headers: [("X-Forwarded-For", "::ffff:198.51.100.9")])
            #expect(denied.status == 403)
            #expect(denied.body.contains("\"ip_forbidden\""))
            #expect(try await Self.get(base + "/auth/verify", headers: [("X-Forwarded-For", "192.0.2.1")]).status == 401)
            #expect(try await Self.get(base + "/health", headers: [("X-Forwarded-For", "198.51.100.9")]).status == 200)
        }
    }

    @Test func plainHTTPInProductionIsRedirectedToThePublicURLOrRefused() async throws {
        try await Self.withLiveApp(configure: {
            $0.edge.trustedProxies = [CIDR("127.0.0.1/32")!]
            $0.edge.requireHTTPS = true
            $0.edge.publicURL = "https://api.example.com"
        }) { base, _, _ in
            let redirected = try await Self.get(base + "/api/providers?x=1", headers: [("Host", "evil.example")])
            #expect(redirected.status == 308)
            #expect(redirected.headers["Location"].first == "https://api.example.com/api/providers?x=1")
            let post = try await Self.get(base + "/auth/token", method: .POST, body: "{}")
            #expect(post.status == 403)
            #expect(post.body.contains("\"https_required\""))
            // Forwarded as HTTPS by the trusted proxy: served.
            #expect(try await Self.get(base + "/api/providers", headers: [("X-Forwarded-Proto", "https")]).status == 401)
            #expect(try await Self.get(base + "/health").status == 200)
        }
        // The same header from a peer that is not a trusted proxy changes nothing.
        try await Self.withLiveApp(configure: {
            $0.edge.requireHTTPS = true
            $0.edge.publicURL = "https://api.example.com"
        }) { base, _, _ in
            let status = try await Self.get(base + "/api/providers", headers: [("X-Forwarded-Proto", "https")]).status
            #expect(status == 308)
        }
    }

    @Test func nativeTLSServesHTTPS() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        let openssl = try ProcessTests.Server(
            executable: "/usr/bin/env",
            arguments: [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert,
            ], directory: folder)
        try #require(try await openssl.waitForExit() == 0)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            try await Self.withLiveApp(configure: {
                $0.tlsCertFile = cert
                $0.tlsKeyFile = key
            }) { _, port, _ in
                let response = try await Self.get("https://127.0.0.1:\(port)/health", client: client)
                #expect(response.status == 200)
                #expect(response.headers["Strict-Transport-Security"].first?.hasPrefix("max-age=") == true)
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Opens a raw connection; `closed` completes when the server closes it.
    static func connect(port: Int) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    }

    static func closedWithin(_ channel: any Channel, _ limit: Duration) async -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !channel.isActive
    }

    @Test func aClientThatTricklesItsHeadIsDisconnectedWhileOthersAreServed() async throws {
        try await Self.withLiveApp(configure: { $0.headerTimeout = .seconds(1) }) { base, port, _ in
            let slow = try await Self.connect(port: port)
            let start = ContinuousClock.now
            let trickle = Task {
                for byte in Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100) {
                    guard slow.isActive else { return }
                    try? await slow.writeAndFlush(ByteBuffer(bytes: [byte])).get()
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            // Another client is served meanwhile. It closes its connection: the header timeout also
            // ends idle keep-alive connections, and a pooled one reused as the server closes it is reset.
            let close = [("Connection", "close")]
            #expect(try await Self.get(base + "/health", headers: close).status == 200)
            #expect(await Self.closedWithin(slow, .seconds(5)))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(3), "closed after \(elapsed)")
            trickle.cancel()
            #expect(try await Self.get(base + "/health", headers: close).status == 200)
        }
    }

    /// Opens `count` connections one by one: those still open, and how many the server closed.
    static func connectMany(_ count: Int, port: Int) async throws -> (open: [any Channel], refused: Int) {
        var open: [any Channel] = []
        var refused = 0
        for _ in 0..<count {
            let channel = try await connect(port: port)
            if await closedWithin(channel, .milliseconds(300)) { refused += 1 } else { open.append(channel) }
        }
        return (open, refused)
    }

    @Test func connectionsOverTheCapAreClosed() async throws {
        try await Self.withLiveApp(configure: { $0.maxConnections = 3 }) { _, port, _ in
            var (open, refused) = try await Self.connectMany(5, port: port)
            // The test client may hold a connection of its own: at most 3 in all, and some refused.
            #expect(open.count <= 3)
            #expect(refused >= 2)
            try await open.removeFirst().close()
            try await Task.sleep(for: .milliseconds(200))
            let again = try await Self.connect(port: port)
            #expect(!(await Self.closedWithin(again, .milliseconds(300))))
            for channel in open + [again] { try? await channel.close() }
        }
    }

    @Test func oneAddressCannotTakeEveryConnection() async throws {
        try await Self.withLiveApp(configure: {
            $0.maxConnections = 20
            $0.maxConnectionsPerAddress = 4
        }) { base, port, _ in
            let (open, refused) = try await Self.connectMany(7, port: port)
            #expect(open.count <= 4)
            #expect(refused >= 3)
            // Another address still gets in, though the total cap is far.
            let other = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: "127.0.0.2", port: 0)).connect(host: "127.0.0.1", port: port).get()
            #expect(!(await Self.closedWithin(other, .milliseconds(300))))
            for channel in open + [other] { try? await channel.close() }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await Self.get(base + "/health").status == 200)
        }
    }

    @Test func aChunkedBodyOverTheCapIs413() async throws {
        try await Self.withLiveApp(configure: { $0.edge.maxBodyBytes = 64 * 1024 }) { base, _, client in
            let token = try await Fixture(client: client).signIn().token
            var request = HTTPClientRequest(url: base + "/api/testai/proxy")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            let chunk = ByteBuffer(string: String(repeating: " ", count: 16 * 1024))
            request.body = .stream(
                AsyncStream<ByteBuffer> { continuation in
                    continuation.yield(ByteBuffer(string: #"{"endpoint":"/chat/completions","pad":""#))
                    for _ in 0..<10 { continuation.yield(chunk) }
                    continuation.yield(ByteBuffer(string: #""}"#))
                    continuation.finish()
                }, length: .unknown)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status.code == 413)
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(body.contains("\"payload_too_large\""))
        }
    }
}

/// Edge behaviour that needs no real socket.
@Suite("Edge")
struct EdgeTests {
    @Test(arguments: [DatabaseKind.sqlite])
    func securityHeadersAreOnEveryResponseAndSensitiveRoutesAreNotCached(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let token = try await fixture.signIn()
            let responses = [
                try await fixture.send(.get, "/"),
                try await fixture.send(.get, "/health"),
                try await fixture.send(.get, "/nowhere"),
                try await fixture.send(.get, "/api/providers"),
                try await fixture.send(.get, "/api/split-key", headers: Fixture.bearer(token)),
                try await fixture.send(.post, "/auth/token", json: "{}"),
            ]
            for response in responses {
                #expect(response.headers[HTTPField.Name("Strict-Transport-Security")!] == "max-age=31536000; includeSubDomains")
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                #expect(response.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            }
            #expect(responses[4].headers[.cacheControl] == "no-store")
            #expect(responses[5].headers[.cacheControl] == "no-store")
        }
    }

    @Test func corsAllowsListedOriginsAndTheirPreflightOnly() async throws {
        try await Harness.withApp(
            .sqlite,
            configure: {
                $0.edge.allowedOrigins = [OriginPattern("https://app.example.com")!, OriginPattern("https://*.example.org")!]
            }
        ) { client, _ in
            let fixture = Fixture(client: client)
            let preflight = try await fixture.send(
                .options, "/api/testai/proxy",
                headers: [
                    .origin: "https://eu.example.org", .accessControlRequestMethod: "POST",
                    .accessControlRequestHeaders: "authorization, content-type, x-partial-key-id, x-partial-key",
                ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://eu.example.org")
            let allowed = preflight.headers[.accessControlAllowHeaders] ?? ""
            for header in ["Authorization", "Content-Type", "X-Partial-Key-Id", "X-Partial-Key", "X-Request-Id"] {
                #expect(allowed.contains(header))
            }
            let simple = try await fixture.send(.get, "/", headers: [.origin: "https://app.example.com"])
            #expect(simple.status == .ok)
            #expect(simple.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(simple.headers[.accessControlExposeHeaders]?.contains("X-Request-Id") == true)
            for origin in ["https://example.org", "https://app.example.com.evil.io", "http://app.example.com", "null"] {
                let refused = try await fixture.send(
                    .options, "/api/testai/proxy", headers: [.origin: origin, .accessControlRequestMethod: "POST"])
                #expect(refused.status == .forbidden, "\(origin)")
                #expect(try fixture.decode(APIError.self, refused).error == "cors_forbidden")
            }
            // No Origin: apps and servers pass by default.
            #expect(try await fixture.send(.get, "/").status == .ok)
        }
        try await Harness.withApp(.sqlite, configure: { $0.edge.allowNoOrigin = false }) { client, _ in
            let fixture = Fixture(client: client)
            let refused = try await fixture.send(.get, "/")
            #expect(refused.status == .forbidden)
            #expect(try fixture.decode(APIError.self, refused).error == "cors_forbidden")
            #expect(try await fixture.send(.get, "/health").status == .ok)
        }
    }

    @Test func theUserRateLimitCountsProxiedCallsPerUser() async throws {
        try await Harness.withApp(.sqlite, configure: { $0.edge.userRateLimit = 2 }) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let one = Fixture.bearer(try await fixture.token("user-1", app: app))
            let two = Fixture.bearer(try await fixture.token("user-2", app: app))
            let body = #"{"endpoint":"/chat/completions","model":"m"}"#
            for _ in 0..<2 { #expect(try await fixture.send(.post, "/api/testai/proxy", headers: one, json: body).status == .ok) }
            let limited = try await fixture.send(.post, "/api/testai/proxy", headers: one, json: body)
            #expect(limited.status == .tooManyRequests)
            #expect(try fixture.decode(APIError.self, limited).error == "rate_limited")
            #expect(limited.headers[.rateLimitLimit] == "2")
            #expect(try await fixture.send(.post, "/api/testai/proxy", headers: two, json: body).status == .ok)
            // The refused call was not counted against the quota.
            let quota = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: one))
            #expect(quota.day.requests.used == 2)
        }
    }

    @Test(arguments: Harness.kinds)
    func anIPRuleReachesTheOtherInstanceWithinTheSyncInterval(_ kind: DatabaseKind) async throws {
        try await Harness.withTwoInstances(kind) { one, two in
            #expect(try await two.send(.get, "/").status == .ok)
            // In-process clients have no address: an allow list without them refuses them.
            let created = try await one.send(
                .post, "/admin/ip-rules", headers: Fixture.admin, json: #"{"cidr":"10.0.0.0/8","type":"allow"}"#)
            #expect(created.status == .created)
            #expect(try await one.send(.get, "/").status == .forbidden)
            let start = ContinuousClock.now
            var refused = false
            while ContinuousClock.now - start < .seconds(3) {
                if try await two.send(.get, "/").status == .forbidden {
                    refused = true
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(refused)
            #expect(ContinuousClock.now - start < .seconds(2), "took \(ContinuousClock.now - start) with a 1 s sync interval")
            #expect(try await two.send(.get, "/health").status == .ok)
        }
    }
}
