import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import Handlers
@testable import Server

/// A webhook receiver on 127.0.0.1 that checks every signature and fails the first attempts.
final class WebhookReceiver: Sendable {
    struct Attempt: Sendable {
        var id: String
        var timestamp: String
        var signatureValid: Bool
        var body: String
        var answered: Int
    }
    let failFirst: Int
    let secret = Mutex<String?>(nil)
    let attempts = Mutex<[Attempt]>([])

    init(failFirst: Int) { self.failFirst = failFirst }

    var received: [Attempt] { attempts.withLock { $0 } }
    var delivered: [Attempt] { received.filter { $0.answered == 204 } }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hook") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            let timestamp = request.headers[HTTPField.Name("webhook-timestamp")!] ?? ""
            let signature = request.headers[HTTPField.Name("webhook-signature")!] ?? ""
            let expected = self.secret.withLock { $0 }.flatMap {
                WebhookCrypto.signature(secret: $0, id: id, timestamp: Int64(timestamp) ?? -1, body: Data(body.readableBytesView))
            }
            let status = self.attempts.withLock { attempts in
                let answer = attempts.count < self.failFirst ? 500 : 204
                attempts.append(
                    Attempt(
                        id: id, timestamp: timestamp, signatureValid: expected != nil && expected == signature, body: String(buffer: body),
                        answered: answer))
                return answer
            }
            return Response(status: HTTPResponse.Status(code: status))
        }
        return router
    }
}

@Suite("Webhooks", .serialized)
struct WebhookTests {
    static func configure(_ config: inout AppConfig, providers: ProviderRegistry) {
        config.providers = providers
        config.webhookAllowPrivate = true
        config.webhookPollInterval = .milliseconds(40)
        config.webhookRetryBase = .milliseconds(40)
    }

    static func waitUntil(_ limit: Duration = .seconds(10), _ condition: () -> Bool) async throws {
        let start = ContinuousClock.now
        while !condition(), ContinuousClock.now - start < limit { try await Task.sleep(for: .milliseconds(20)) }
    }

    static func createHook(_ fixture: Fixture, port: Int, events: [String]) async throws -> WebhookWithSecret {
        let events = events.map { "\"\($0)\"" }.joined(separator: ",")
        let response = try await fixture.send(
            .post, "/admin/webhooks", headers: Fixture.admin, json: #"{"url":"http://127.0.0.1:\#(port)/hook","events":[\#(events)]}"#)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        return try fixture.decode(WebhookWithSecret.self, response)
    }

    @Test(arguments: Harness.kinds)
    func aReceiverThatFailsThreeTimesGetsTheEventOnceSigned(_ kind: DatabaseKind) async throws {
        let receiver = WebhookReceiver(failFirst: 3)
        let providers = try await Harness.providers()
        try await Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) {
            hookClient in
            let port = try #require(hookClient.port)
            try await Harness.withFreshConfig(kind) { base in
                var config = base
                Self.configure(&config, providers: providers)
                let app = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
                try await app.test(.router) { client in
                    let fixture = Fixture(client: client)
                    let hook = try await Self.createHook(fixture, port: port, events: ["user.created", "key.split"])
                    #expect(hook.secret.hasPrefix("whsec_"))
                    receiver.secret.withLock { $0 = hook.secret }
                    _ = try await fixture.signIn("new-user")
                    try await Self.waitUntil { !receiver.delivered.isEmpty }
                    try await Task.sleep(for: .milliseconds(200))  // time for a wrong extra delivery to show
                    let attempts = receiver.received
                    #expect(attempts.count == 4)
                    #expect(receiver.delivered.count == 1)
                    #expect(Set(attempts.map(\.id)).count == 1)
                    #expect(attempts.allSatisfy { $0.signatureValid })
                    #expect(attempts.first?.body.contains("\"type\":\"user.created\"") == true)
                    #expect(attempts.first?.body.contains("new-user") == true)
                    let deliveries = try fixture.decode(
                        WebhookDeliveryList.self,
                        try await fixture.send(.get, "/admin/webhooks/\(hook.webhook.id)/deliveries", headers: Fixture.admin))
                    #expect(deliveries.deliveries.first?.status == .delivered)
                    #expect(deliveries.deliveries.first?.attempts == 4)
                    #expect(deliveries.deliveries.first?.lastStatus == 204)
                    // The secret is in no answer but the one that created it, and not in clear in the database.
                    let listed = try await fixture.send(.get, "/admin/webhooks", headers: Fixture.admin)
                    #expect(!String(buffer: listed.body).contains(hook.secret))
                }
                let secret = receiver.secret.withLock { $0 } ?? "unset"
                try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                    let stored = try await WebhookStore(database: database).all()
                    #expect(stored.count == 1)
                    #expect(
                        stored.allSatisfy { !$0.secretSealed.contains(secret) && !$0.secretSealed.contains(String(secret.dropFirst(6))) })
                }
            }
        }
    }

    @Test func deliveryResumesAfterARestartAndStillArrivesOnce() async throws {
        let receiver = WebhookReceiver(failFirst: 3)
        let providers = try await Harness.providers()
        try await Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) {
            hookClient in
            let port = try #require(hookClient.port)
            try await Harness.withFreshConfig(.sqlite) { base in
                var config = base
                Self.configure(&config, providers: providers)
                config.webhookRetryBase = .milliseconds(300)
                let first = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
                try await first.test(.router) { client in
                    let fixture = Fixture(client: client)
                    let hook = try await Self.createHook(fixture, port: port, events: ["test"])
                    receiver.secret.withLock { $0 = hook.secret }
                    #expect(
                        try await fixture.send(.post, "/admin/webhooks/\(hook.webhook.id)/test", headers: Fixture.admin).status == .accepted
                    )
                    try await Self.waitUntil { receiver.received.count >= 2 }
                }
                // The first server is gone after two failed attempts; a new one picks the event up.
                let before = receiver.received.count
                #expect(before >= 2 && before < 4)
                let second = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
                try await second.test(.router) { _ in
                    try await Self.waitUntil(.seconds(30)) { !receiver.delivered.isEmpty }
                    try await Task.sleep(for: .milliseconds(400))
                }
                #expect(receiver.delivered.count == 1)
                #expect(receiver.received.count == 4)
                #expect(Set(receiver.received.map(\.id)).count == 1)
                #expect(receiver.received.allSatisfy { $0.signatureValid })
            }
        }
    }

    /// Twenty first tokens at once for one new user: one user, and one `user.created` event,
    /// written in the same transaction as the user.
    @Test(arguments: Harness.kinds)
    func aNewUserAndItsEventAreWrittenTogetherOnce(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(
            kind,
            configure: Harness.holdingWebhooks
        ) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            let hook = try await Self.createHook(fixture, port: 9, events: ["user.created", "key.split", "key.revoked"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { _ = try await fixture.token("twin", app: app) } }
                try await group.waitForAll()
            }
            let auth = Fixture.bearer(try await fixture.token("twin", app: app))
            _ = try await ContractCases.split(fixture, auth)
            #expect(try await fixture.send(.delete, "/api/split-key/key-00000001", headers: auth).status == .noContent)
            let deliveries = try fixture.decode(
                WebhookDeliveryList.self,
                try await fixture.send(.get, "/admin/webhooks/\(hook.webhook.id)/deliveries", headers: Fixture.admin))
            #expect(deliveries.deliveries.map(\.event).sorted() == ["key.revoked", "key.split", "user.created"])
        }
    }

    @Test func theGuardRefusesPrivateAndMetadataAddresses() async {
        let guardrail = WebhookURLGuard(httpsOnly: true, allowPrivate: false)
        for url in [
            "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x", "https://[fd00::1]/x", "https://[fe80::1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://169.254.169.254/latest", "https://100.100.100.200/x", "https://metadata.google.internal/x", "https://localhost/x",
            "http://93.184.216.34/x", "https://user:pw@93.184.216.34/x", "not a url", "https://no-such-host.invalid/x",
        ] {
            #expect(await guardrail.refusal(url) != nil, "\(url)")
        }
        #expect(await guardrail.refusal("https://93.184.216.34/hook") == nil)
        #expect(await WebhookURLGuard(httpsOnly: false, allowPrivate: true).refusal("http://127.0.0.1:9/hook") == nil)
    }

    @Test func theGuardRefusesEveryIPv6FormOfARefusedIPv4Address() async {
        for lenient in [false, true] {
            // On create and on PATCH outside production, http is allowed: only the address decides.
            let guardrail = WebhookURLGuard(httpsOnly: !lenient, allowPrivate: false)
            let scheme = lenient ? "http" : "https"
            for host in [
                "[::127.0.0.1]", "[::7f00:1]", "[::ffff:0:7f00:1]", "[::ffff:0:a00:1]", "[::]", "[::1]", "[::a9fe:a9fe]",
                "[64:ff9b::a00:1]", "[64:ff9b::808:808]", "[64:ff9b:1::a00:1]", "[2002:7f00:1::]", "[2002:a00:1::1]", "[2002:a9fe:a9fe::]",
                "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[2001:0:a00:1::1]", "[fec0::1]",
            ] {
                #expect(await guardrail.refusal("\(scheme)://\(host)/hook") != nil, "\(host)")
            }
            // 6to4 and Teredo around public addresses, and plain public IPv6, are not refused.
            for host in ["[2002:5db8:d822::1]", "[2001:0:5db8:d822::a247:27dd]", "[2606:4700::1111]"] {
                #expect(await guardrail.refusal("\(scheme)://\(host)/hook") == nil, "\(host)")
            }
        }
    }

    @Test func aNamedHostIsPinnedToTheAddressThatWasChecked() async throws {
        // The first lookup says public, the next one (a re-pointed name) private.
        let lookups = Mutex(0)
        let rebinding = WebhookURLGuard(httpsOnly: false, allowPrivate: false) { _ in
            lookups.withLock { count in
                count += 1
                return [IPAddress(count == 1 ? "93.184.216.34" : "127.0.0.1")!]
            }
        }
        #expect(
            await rebinding.check("http://hooks.example.com:8080/x")
                == .allowed(pin: .init(host: "hooks.example.com", address: "93.184.216.34")))
        #expect(
            await rebinding.check("http://hooks.example.com:8080/x")
                == .refused("resolves to a private, loopback, link-local or reserved address"))
        #expect(await rebinding.check("http://[2606:4700::1111]/x") == .allowed(pin: nil))
        // The pin keeps the host's spelling: the HTTP client's override is looked up by it.
        let publicOnly = WebhookURLGuard(httpsOnly: false, allowPrivate: false) { _ in [IPAddress("93.184.216.34")!] }
        #expect(
            await publicOnly.check("http://Hooks.Example.com/x")
                == .allowed(pin: .init(host: "Hooks.Example.com", address: "93.184.216.34")))
    }

    @Test func aPinnedDeliveryConnectsToThePinnedAddress() async throws {
        // No resolver knows this name: only the pin can bring the request to the receiver.
        let receiver = WebhookReceiver(failFirst: 0)
        try await Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) {
            hookClient in
            let port = try #require(hookClient.port)
            let guardrail = WebhookURLGuard(httpsOnly: false, allowPrivate: true) { _ in [IPAddress("127.0.0.1")!] }
            let url = "http://Hooks.Nowhere.invalid:\(port)/hook"
            guard case .allowed(let pin?) = await guardrail.check(url) else { throw CancellationError() }
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: WebhookWorker.clientConfiguration(pin: pin))
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            let response = try await client.execute(request, timeout: .seconds(5))
            #expect(response.status.code == 204)
            try await client.shutdown()
            #expect(receiver.received.count == 1)
        }
    }

    @Test func signaturesFollowStandardWebhooks() {
        // The Standard Webhooks reference example.
        let signature = WebhookCrypto.signature(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
            body: Data(#"{"test": 2432232314}"#.utf8)
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }
}
