import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Handlers
@testable import Server

/// Quotas and budgets under concurrency, on each database, and across two instances.
@Suite("Quotas and budgets")
struct QuotaTests {
    static func chat(_ marker: String) -> String {
        #"{"endpoint":"/chat/completions","model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(marker)"}]}"#
    }

    /// Sends `count` proxied requests at once, spread over `fixtures`; answers status and body of each.
    static func burst(_ count: Int, over fixtures: [Fixture], auth: HTTPFields, marker: String) async throws -> [(
        status: Int, body: String, headers: HTTPFields
    )] {
        try await withThrowingTaskGroup(of: (Int, String, HTTPFields).self) { group in
            for index in 0..<count {
                let fixture = fixtures[index % fixtures.count]
                group.addTask {
                    let response = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: chat(marker))
                    return (Int(response.status.code), String(buffer: response.body), response.headers)
                }
            }
            var results: [(status: Int, body: String, headers: HTTPFields)] = []
            for try await result in group { results.append(result) }
            return results
        }
    }

    static func checkRefusals(_ results: [(status: Int, body: String, headers: HTTPFields)], limit: Int64) throws {
        for refused in results where refused.status == 429 {
            let error = try APICoding.decoder.decode(APIError.self, from: Data(refused.body.utf8))
            #expect(error.error == "quota_exceeded")
            #expect(error.quota?.metric == .requests)
            #expect(error.quota?.limit == limit)
            #expect(error.quota?.remaining == 0)
            #expect(refused.headers[.retryAfter].flatMap(Int.init) ?? 0 > 0)
            #expect(refused.headers[.rateLimitLimit] == String(limit))
            #expect(refused.headers[.rateLimitRemaining] == "0")
            #expect(refused.headers[.rateLimitReset] == refused.headers[.retryAfter])
        }
    }

    @Test(arguments: Harness.kinds)
    func twoHundredConcurrentRequestsAgainstAQuotaOfFiftyLetExactlyFiftyThrough(_ kind: DatabaseKind) async throws {
        let marker = "quota-" + UUID().uuidString
        try await Harness.withApp(kind, configure: { $0.defaultDailyQuota = 50 }) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let results = try await Self.burst(200, over: [fixture], auth: auth, marker: marker)
            let statuses = Dictionary(grouping: results, by: \.status).mapValues(\.count)
            #expect(statuses == [200: 50, 429: 150])
            #expect(MockProviderServer.shared.requests(marker: marker).count == 50)
            try Self.checkRefusals(results, limit: 50)

            let standing = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            #expect(standing.day.requests == QuotaCounter(limit: 50, used: 50, remaining: 0))
            #expect(standing.month.requests.used == 50)
        }
    }

    @Test func twoInstancesOnOnePostgresShareTheQuota() async throws {
        guard Harness.postgresURL != nil else { return }
        let marker = "quota2-" + UUID().uuidString
        try await Harness.withTwoInstances(
            .postgres,
            configure: {
                $0.defaultDailyQuota = 50
            }
        ) { one, two in
            let auth = Fixture.bearer(try await one.signIn())
            let results = try await Self.burst(200, over: [one, two], auth: auth, marker: marker)
            let statuses = Dictionary(grouping: results, by: \.status).mapValues(\.count)
            #expect(statuses == [200: 50, 429: 150])
            #expect(MockProviderServer.shared.requests(marker: marker).count == 50)
            try Self.checkRefusals(results, limit: 50)
        }
    }

    @Test(arguments: Harness.kinds)
    func theMonthlyQuotaRefusesWithoutSpendingTheDay(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: { $0.defaultMonthlyQuota = 2 }) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            for expected in [200, 200, 429, 429] {
                let response = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: Self.chat("m"))
                #expect(Int(response.status.code) == expected)
                if expected == 429 {
                    let error = try fixture.decode(APIError.self, response)
                    #expect(error.quota?.period == .month)
                }
            }
            let standing = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            #expect(standing.day.requests.used == 2)
            #expect(standing.month.requests.used == 2)
        }
    }

    @Test(arguments: Harness.kinds)
    func refusedRequestsAreNotCountedAndFailedUpstreamCallsAre(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            // Refused before the call: not on the allow-list, unknown provider.
            _ = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: #"{"endpoint":"/files"}"#)
            _ = try await fixture.send(.post, "/api/nope/proxy", headers: auth, json: Self.chat("x"))
            // Admitted, then the provider fails: counted (as in the old product).
            let failed = try await fixture.send(.post, "/api/dead/proxy", headers: auth, json: Self.chat("x"))
            #expect(failed.status == .badGateway)
            let ok = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: Self.chat("x"))
            #expect(ok.status == .ok)
            #expect(ok.headers[.rateLimitLimit] == "100")
            #expect(ok.headers[.rateLimitRemaining] == "98")
            let standing = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            #expect(standing.day.requests.used == 2)
        }
    }

    /// Every testai answer uses 1500 tokens. Waves of five run at once; between waves the test
    /// waits until the charges are written, so the overshoot is bounded by one wave in flight.
    @Test(arguments: Harness.kinds)
    func aTokenBudgetIsPassedByAtMostTheRequestsInFlight(_ kind: DatabaseKind) async throws {
        let budget: Int64 = 10_000
        let wave = 5
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let patch = try await fixture.send(
                .patch, "/admin/users/user-1", headers: Fixture.admin, json: #"{"budgets":{"dailyTokens":\#(budget)}}"#)
            #expect(patch.status == .ok)
            #expect(try fixture.decode(User.self, patch).budgets.dailyTokens == budget)
            var admitted = 0
            var refusal: APIError?
            for round in 0..<10 {
                let results = try await Self.burst(wave, over: [fixture], auth: auth, marker: "budget-\(round)")
                admitted += results.filter { $0.status == 200 }.count
                if let refused = results.first(where: { $0.status == 429 }) {
                    refusal = try APICoding.decoder.decode(APIError.self, from: Data(refused.body.utf8))
                    break
                }
                try await Self.waitForCharges(fixture, auth: auth, tokens: Int64(admitted) * 1500)
            }
            let breach = try #require(refusal?.quota)
            #expect(breach.metric == .tokens)
            #expect(breach.scope == .user)
            #expect(breach.limit == budget)
            try await Self.waitForCharges(fixture, auth: auth, tokens: Int64(admitted) * 1500)
            let standing = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            #expect(standing.day.tokensUsed <= budget + Int64(wave) * 1500)
            #expect(standing.day.tokens?.limit == budget)
        }
    }

    @Test(arguments: Harness.kinds)
    func aSplitKeyBudgetRefusesItsKeyButNotTheServerKey(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let auth = Fixture.bearer(try await fixture.signIn())
            let created = try await fixture.send(
                .post, "/api/split-key/split", headers: auth,
                json:
                    #"{"apiKey":"\#(MockProviderServer.upstreamKey)","provider":"testai","keyId":"key-budget1","budgets":{"dailyTokens":1000}}"#
            )
            #expect(created.status == .created)
            let part = try fixture.decode(SplitKeyCreated.self, created).clientPart
            let byok = ContractCases.withPart(auth, id: "key-budget1", part: part)
            let first = try await fixture.send(.post, "/api/testai/proxy", headers: byok, json: Self.chat("k1"))
            #expect(first.status == .ok)
            try await Self.waitForCharges(fixture, auth: auth, tokens: 1500)
            let second = try await fixture.send(.post, "/api/testai/proxy", headers: byok, json: Self.chat("k2"))
            #expect(second.status == .tooManyRequests)
            let breach = try #require(try fixture.decode(APIError.self, second).quota)
            #expect(breach.scope == .splitKey)
            #expect(breach.metric == .tokens)
            #expect(breach.used == 1500)
            // The refusal was not counted, and the server's key still works.
            let server = try await fixture.send(.post, "/api/testai/proxy", headers: auth, json: Self.chat("k3"))
            #expect(server.status == .ok)
            let standing = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            #expect(standing.day.requests.used == 2)
            let key = try fixture.decode(SplitKey.self, try await fixture.send(.get, "/api/split-key/key-budget1", headers: auth))
            #expect(key.budgets.dailyTokens == 1000)
        }
    }

    /// Polls `GET /api/me/quota` until the usage writer has charged `tokens` (at most 5 s).
    static func waitForCharges(_ fixture: Fixture, auth: HTTPFields, tokens: Int64) async throws {
        for _ in 0..<100 {
            let standing = try fixture.decode(MyQuota.self, try await fixture.send(.get, "/api/me/quota", headers: auth))
            if standing.day.tokensUsed >= tokens { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the usage writer did not charge \(tokens) tokens within 5 s")
    }
}
