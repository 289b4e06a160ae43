import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Handlers
@testable import Server

extension Fixture {
    /// An app with guests on, with these limits.
    @discardableResult
    func takingGuests(appId: String = "com.example.app", perAddress: Int64 = 5, perHour: Int64 = 100, perDay: Int64 = 1000) async throws
        -> AppCredentials
    {
        let app = try await createApp(appId)
        let settings = #"{"enabled":true,"newPerAddressPerHour":\#(perAddress),"newPerHour":\#(perHour),"maxPerDay":\#(perDay)}"#
        let response = try await send(.put, "/admin/apps/\(appId)/guests", headers: Fixture.admin, json: settings)
        guard response.status == .ok else { throw FixtureError("setAppGuests: \(response.status) \(String(buffer: response.body))") }
        return app
    }

    func install(_ installId: String, appId: String = "com.example.app") async throws -> TestResponse {
        try await send(.post, "/auth/install", json: #"{"client_id":"\#(appId)","install_id":"\#(installId)"}"#)
    }
}

@Suite("Guests: one guest per install, and limits made-up install ids cannot walk around")
struct GuestTests {
    /// `count` requests at once, `send(index)` each; how many got each status.
    static func burst(count: Int = 200, _ send: @escaping @Sendable (Int) async throws -> HTTPResponse.Status) async throws
        -> [HTTPResponse.Status: Int]
    {
        try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
            for index in 0..<count { group.addTask { try await send(index) } }
            var statuses: [HTTPResponse.Status: Int] = [:]
            for try await status in group { statuses[status, default: 0] += 1 }
            return statuses
        }
    }

    /// 200 new installs at once against a limit of L: exactly L guests, the rest 429.
    static func burst(_ fixture: Fixture) async throws -> [HTTPResponse.Status: Int] {
        try await burst { index in try await fixture.install("install-\(UUID().uuidString.prefix(8))-\(index)").status }
    }

    @Test(arguments: Harness.kinds)
    func theLimitsPerAddressAndPerAppHoldUnderAConcurrentBurst(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.takingGuests(perAddress: 20, perHour: 100_000, perDay: 100_000)
            let byAddress = try await Self.burst(fixture)
            #expect(byAddress[.ok] == 20)
            #expect(byAddress[.tooManyRequests] == 180)
            let refused = try await fixture.install("install-after-the-burst")
            #expect(refused.status == .tooManyRequests)
            #expect(try fixture.decode(APIError.self, refused).error == "guest_limit_reached")
            #expect(refused.headers[.retryAfter].flatMap(Int.init).map { (1...3600).contains($0) } == true)
        }
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.takingGuests(perAddress: 100_000, perHour: 30, perDay: 100_000)
            #expect(try await Self.burst(fixture)[.ok] == 30)
        }
    }

    @Test(arguments: Harness.kinds)
    func anInstallKeepsItsGuestAndIsCountedOnce(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            try await fixture.takingGuests(perAddress: 1)
            let first = try await fixture.install("install-0001")
            #expect(first.status == .ok)
            let again = try await fixture.install("install-0001")
            #expect(again.status == .ok)
            #expect(try fixture.decode(TokenResponse.self, again).user.userId == "guest:install-0001")
            #expect(try fixture.decode(TokenResponse.self, again).user.quotas.daily == 10)
            #expect(try await fixture.install("install-0002").status == .tooManyRequests)
            // An app that does not take guests.
            try await fixture.createApp("com.example.other")
            let off = try await fixture.install("install-0003", appId: "com.example.other")
            #expect(off.status == .unauthorized)
            #expect(try fixture.decode(APIError.self, off).error == "guests_disabled")
        }
    }

    @Test(arguments: Harness.kinds)
    func signingInCarriesTheGuestsUsageOverAndClosesTheGuest(kind: DatabaseKind) async throws {
        try await Harness.withApp(kind, configure: IdentityTests.configure) { client, _ in
            let fixture = Fixture(client: client)
            let idp = TestIdentityProvider()
            try await fixture.takingGuests()
            _ = try await fixture.send(
                .put, "/admin/apps/com.example.app/identity-providers", headers: Fixture.admin, json: try idp.providersBody())
            let guest = try fixture.decode(TokenResponse.self, try await fixture.install("install-carry"))
            for _ in 0..<3 {
                let call = try await fixture.send(
                    .post, "/proxy/mock/v1/chat/completions", headers: Fixture.bearer(guest),
                    json: #"{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(call.status == .ok)
            }
            let signedIn = try await fixture.exchange(TestIdentityProvider.form(try idp.token()) + "&install_id=install-carry")
            #expect(signedIn.status == .ok, "\(String(buffer: signedIn.body))")
            let pair = try fixture.decode(TokenExchangeResponse.self, signedIn)
            #expect(pair.user.usage.today == 3)
            let quota = try await fixture.send(.get, "/api/me/quota", headers: [.authorization: "Bearer \(pair.accessToken)"])
            #expect(try fixture.decode(MyQuota.self, quota).day.requests.used == 3)
            // The guest is closed: its token stops working, its counts moved once, and installing
            // again does not reopen it.
            let guestCall = try await fixture.send(.get, "/api/me/quota", headers: Fixture.bearer(guest))
            #expect(guestCall.status == .unauthorized || guestCall.status == .forbidden)
            let closed = try await fixture.install("install-carry")
            #expect(closed.status == .forbidden)
            let again = try await fixture.exchange(TestIdentityProvider.form(try idp.token()) + "&install_id=install-carry")
            #expect(try fixture.decode(TokenExchangeResponse.self, again).user.usage.today == 3)
        }
    }
}
