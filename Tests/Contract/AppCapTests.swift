import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Handlers
@testable import Server

@Suite("App caps: new users per hour, and calls and cost per day and month for all of an app's users")
struct AppCapTests {
    @Test(arguments: Harness.kinds)
    func theCapOnNewUsersHoldsUnderAConcurrentBurstAndSparesExistingUsers(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.takingGuests(perAddress: 1000, perHour: 1000, perDay: 1000)
            _ = try await fixture.token("existing-user", app: app)
            let capped = try await fixture.send(
                .put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"newUsersPerHour":30}"#)
            #expect(capped.status == .ok)
            // 200 new users at once, half by the app's backend and half as guests: exactly 30.
            let statuses = try await GuestTests.burst { index in
                guard index.isMultiple(of: 2) else { return try await fixture.install("install-cap-\(index)").status }
                return try await fixture.send(
                    .post, "/auth/token",
                    json: #"{"userId":"new-user-\#(index)","appId":"com.example.app","appSecret":"\#(app.appSecret)"}"#
                ).status
            }
            #expect(statuses[.ok] == 30)
            #expect(statuses[.tooManyRequests] == 170)
            let refused = try await fixture.send(
                .post, "/auth/token", json: #"{"userId":"one-more","appId":"com.example.app","appSecret":"\#(app.appSecret)"}"#)
            #expect(try fixture.decode(APIError.self, refused).error == "app_cap_reached")
            #expect(refused.headers[.retryAfter] != nil)
            // A user who exists is not a new user.
            #expect(try await fixture.token("existing-user", app: app).user.userId == "existing-user")
        }
    }

    static func setCaps(_ fixture: Fixture, _ json: String) async throws {
        let response = try await fixture.send(.put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: json)
        guard response.status == .ok else { throw FixtureError("setAppCaps: \(response.status) \(String(buffer: response.body))") }
    }

    /// 200 calls at once from 50 users of one app (each user well under their own quota),
    /// spread over `fixtures`: the status each user got, per call.
    static func burst(_ fixtures: [Fixture], tokens: [TokenResponse], marker: String) async throws -> [(user: Int, response: TestResponse)]
    {
        try await withThrowingTaskGroup(of: (Int, TestResponse).self) { group in
            for index in 0..<200 {
                let user = index % tokens.count
                let fixture = fixtures[index % fixtures.count]
                group.addTask {
                    (
                        user,
                        try await fixture.send(
                            .post, "/api/testai/proxy", headers: Fixture.bearer(tokens[user]), json: QuotaTests.chat(marker))
                    )
                }
            }
            var results: [(user: Int, response: TestResponse)] = []
            for try await result in group { results.append(result) }
            return results
        }
    }

    /// The cap lets exactly 100 of the 200 through; each refusal is the app's, with its headers,
    /// and gave the user's count back.
    static func checkTheCapOfAHundred(_ fixtures: [Fixture], marker: String) async throws {
        let fixture = fixtures[0]
        let app = try await fixture.createApp("com.example.app")
        var tokens: [TokenResponse] = []
        for index in 0..<50 { tokens.append(try await fixture.token("cap-user-\(index)", app: app)) }
        try await setCaps(fixture, #"{"dailyRequests":100,"monthlyRequests":100000}"#)
        if fixtures.count > 1 { try await Task.sleep(for: .seconds(1)) }  // the other instance's copy (APP_CAPS_SYNC_MS = 100)
        let results = try await burst(fixtures, tokens: tokens, marker: marker)
        #expect(results.filter { $0.response.status == .ok }.count == 100)
        #expect(results.filter { $0.response.status == .tooManyRequests }.count == 100)
        #expect(MockProviderServer.shared.requests(marker: marker).count == 100)
        for refused in results.map(\.response) where refused.status == .tooManyRequests {
            let error = try fixture.decode(APIError.self, refused)
            #expect(error.error == "app_quota_exceeded")
            #expect(error.quota?.scope == .app)
            #expect(error.quota?.metric == .requests)
            #expect(error.quota?.period == .day)
            #expect(error.quota?.limit == 100)
            #expect(refused.headers[.rateLimitLimit] == "100")
            #expect(refused.headers[.rateLimitRemaining] == "0")
            #expect(refused.headers[.retryAfter] != nil)
        }
        for user in [0, 17, 49] {
            let admitted = results.filter { $0.user == user && $0.response.status == .ok }.count
            // A block an instance leased for the user and did not use goes back once the user has
            // been quiet for QUOTA_LEASE_MS: under load that can be after the burst has ended.
            var used: Int64 = -1
            for _ in 0..<60 where used != Int64(admitted) {
                if used >= 0 { try await Task.sleep(for: .milliseconds(50)) }
                used = try fixture.decode(
                    MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: Fixture.bearer(tokens[user]))
                ).day.requests.used
            }
            #expect(used == Int64(admitted))
        }
    }

    @Test(arguments: Harness.kinds)
    func twoHundredCallsFromFiftyUsersAgainstAnAppCapOfAHundredLetExactlyAHundredThrough(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            try await Self.checkTheCapOfAHundred([Fixture(client: client)], marker: "appcap-" + UUID().uuidString)
        }
    }

    @Test func twoInstancesOnOnePostgresShareTheAppCap() async throws {
        guard Harness.postgresURL != nil else { return }
        try await Harness.withTwoInstances(
            .postgres,
            configure: {
                $0.appCapsSyncInterval = .milliseconds(100)
            }
        ) { one, two in
            try await Self.checkTheCapOfAHundred([one, two], marker: "appcap2-" + UUID().uuidString)
        }
    }

    /// A cost cap refuses once the charged cost reaches it; webhooks hear of 80 % and 100 % once,
    /// and a request cap's marks likewise.
    @Test(arguments: Harness.kinds)
    func aCostCapRefusesOnceReachedAndTheMarksAreAnnouncedOnce(kind: DatabaseKind) async throws {
        try await Harness.withApp(
            kind,
            configure: Harness.holdingWebhooks
        ) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let hook = try await WebhookTests.createHook(fixture, port: 9, events: ["app.cap.warning", "app.cap.reached"])
            try await Self.setCaps(fixture, #"{"dailyCostMicros":1,"monthlyRequests":5}"#)
            let first = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("cost-1"))
            #expect(first.status == .ok)
            // The tightest standing: 4 of the app's 5 calls a month are left (the user has 99 of 100).
            #expect(first.headers[.rateLimitLimit] == "5")
            #expect(first.headers[.rateLimitRemaining] == "4")
            try await QuotaTests.waitForCharges(fixture, auth: auth, tokens: 1500)
            let refused = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("cost-2"))
            #expect(refused.status == .tooManyRequests)
            let breach = try #require(try fixture.decode(APIError.self, refused).quota)
            #expect(breach.scope == .app)
            #expect(breach.metric == .costMicros)
            #expect(breach.limit == 1)
            #expect(breach.used > 1)
            // Refused by the app: the user's count was given back.
            let quota = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            #expect(quota.day.requests.used == 1)
            // The request cap's marks: 4 of 5 is 80 %, 5 of 5 is 100 %.
            try await Self.setCaps(fixture, #"{"monthlyRequests":5}"#)
            for index in 2...5 {
                let call = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("cost-\(index + 1)"))
                #expect(call.status == .ok)
                #expect(call.headers[.rateLimitRemaining] == String(5 - index))
            }
            let over = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("cost-7"))
            #expect(try fixture.decode(APIError.self, over).error == "app_quota_exceeded")
            let deliveries = try fixture.decode(
                WebhookDeliveryList.self,
                try await fixture.send(.get, "/admin/webhooks/\(hook.webhook.id)/deliveries", headers: Fixture.admin))
            #expect(
                deliveries.deliveries.map(\.event).sorted() == ["app.cap.reached", "app.cap.reached", "app.cap.warning", "app.cap.warning"])
        }
    }

    /// A call the app's cap refuses is given back, and announces nothing: the user's 80 % warning
    /// goes out with the call that really takes them there.
    @Test(arguments: Harness.kinds)
    func aCallTheAppRefusesDoesNotAnnounceTheUsersWarning(kind: DatabaseKind) async throws {
        try await Harness.withApp(
            kind,
            configure: {
                Harness.holdingWebhooks(&$0)
                $0.defaultDailyQuota = 5
            }
        ) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let hook = try await WebhookTests.createHook(fixture, port: 9, events: ["quota.warning"])
            try await Self.setCaps(fixture, #"{"dailyRequests":3}"#)
            func deliveries() async throws -> [String] {
                try fixture.decode(
                    WebhookDeliveryList.self,
                    try await fixture.send(.get, "/admin/webhooks/\(hook.webhook.id)/deliveries", headers: Fixture.admin)
                ).deliveries.map(\.event)
            }
            for index in 1...3 {
                #expect(try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("w\(index)")).status == .ok)
            }
            // The 4th call is the user's 80 % of 5, but the app's cap of 3 refuses it.
            let refused = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("w4"))
            #expect(try fixture.decode(APIError.self, refused).error == "app_quota_exceeded")
            #expect(try await deliveries().isEmpty)
            try await Self.setCaps(fixture, #"{"dailyRequests":100}"#)
            #expect(try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: QuotaTests.chat("w5")).status == .ok)
            #expect(try await deliveries() == ["quota.warning"])
        }
    }
}
