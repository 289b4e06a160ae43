import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Handlers
@testable import Server

/// The request a case sends, after its preparation.
struct RequestSpec: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var headers: HTTPFields = [:]
    var body: String?
}

/// One request against one operation, and the status the spec says it gets.
struct ContractCase: Sendable, CustomTestStringConvertible {
    enum Setup: Sendable {
        /// The application as `buildApplication` makes it, on a fresh database.
        case standard
        /// The application's router over a database that cannot be reached.
        case unreachableDatabase
    }

    let operationId: String
    let name: String
    let expectedStatus: Int
    var expectedCode: String?
    var setup: Setup = .standard
    var configure: @Sendable (inout AppConfig) -> Void = { _ in }
    /// Prepares what it needs through the running app, then names the request to check.
    let prepare: @Sendable (Fixture) async throws -> RequestSpec

    var testDescription: String { "\(operationId) → \(expectedStatus)\(expectedCode.map { " \($0)" } ?? ""): \(name)" }
}

/// Set-up helpers that go through the API itself, as a client would.
struct Fixture: Sendable {
    let client: any TestClientProtocol
    static let admin: HTTPFields = [.adminKey: Harness.adminKeyCanary]

    func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], json: String? = nil) async throws -> TestResponse {
        var headers = headers
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try APICoding.decoder.decode(T.self, from: Data(response.body.readableBytesView))
    }

    @discardableResult
    func createApp(_ appId: String = "com.example.app") async throws -> AppCredentials {
        let response = try await send(.post, "/admin/apps", headers: Self.admin, json: #"{"name":"Example","appId":"\#(appId)"}"#)
        guard response.status == .created else { throw FixtureError("createApp: \(response.status)") }
        return try decode(AppCredentials.self, response)
    }

    func signIn(_ userId: String = "user-1", appId: String = "com.example.app") async throws -> TokenResponse {
        let app = try await createApp(appId)
        return try await token(userId, app: app)
    }

    func token(_ userId: String, app: AppCredentials) async throws -> TokenResponse {
        let response = try await send(
            .post, "/auth/token", json: #"{"userId":"\#(userId)","appId":"\#(app.app.appId)","appSecret":"\#(app.appSecret)"}"#)
        guard response.status == .ok else { throw FixtureError("token: \(response.status) \(String(buffer: response.body))") }
        return try decode(TokenResponse.self, response)
    }

    func deactivate(_ userId: String) async throws {
        let response = try await send(.patch, "/admin/users/\(userId)", headers: Self.admin, json: #"{"active":false}"#)
        guard response.status == .ok else { throw FixtureError("deactivate: \(response.status)") }
    }

    static func bearer(_ token: TokenResponse) -> HTTPFields { [.authorization: "Bearer \(token.token)"] }

    /// A dashboard session, signed in with the admin key: its cookie and CSRF token as headers.
    func dashboardSession() async throws -> (headers: HTTPFields, cookie: String, csrf: String) {
        let response = try await send(.post, "/dashboard/session", json: #"{"adminKey":"\#(Harness.adminKeyCanary)"}"#)
        guard response.status == .ok, let setCookie = response.headers[.setCookie], let cookie = setCookie.split(separator: ";").first
        else { throw FixtureError("dashboard sign-in: \(response.status)") }
        let csrf = try decode(DashboardSession.self, response).csrfToken
        return ([.cookie: String(cookie), .csrfToken: csrf], String(cookie), csrf)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Every operation's success and error statuses. `ContractTests.everyOperationAndStatusHasACase`
/// fails when the spec gains an operation or a status that has no case here.
enum ContractCases {
    static var all: [ContractCase] {
        let specific =
            system + dashboard + auth + identity + admin + ipRules + audit + analytics + webhooks + proxy + gateway + splitKeys
            + securedByAdminKey
            + securedByBearer
            + edge
        return specific + notJSON + badHost(besides: specific)
    }

    /// Every operation that takes a JSON body refuses one sent as text (415), after authentication.
    static var notJSON: [ContractCase] {
        RouteTable.all.filter { $0.responses[415] != nil }.map { route in
            ContractCase(
                operationId: route.operationId, name: "a JSON body sent as text/plain", expectedStatus: 415,
                expectedCode: "unsupported_media_type"
            ) { fixture in
                var headers: HTTPFields =
                    route.security.contains("adminKey")
                    ? Fixture.admin : route.security.contains("bearerAuth") ? Fixture.bearer(try await fixture.signIn()) : [:]
                headers[.contentType] = "text/plain"
                return RequestSpec(method: route.method, path: concrete(route.path), headers: headers, body: "{}")
            }
        }
    }

    /// The `Host` check answers on every route; it is the 400 case of the routes that have no
    /// other. The live check (`HTTP1HostCheck`) marks the request; in process the mark is sent.
    static func badHost(besides cases: [ContractCase]) -> [ContractCase] {
        RouteTable.all.filter { route in
            route.responses[400] != nil && !cases.contains { $0.operationId == route.operationId && $0.expectedStatus == 400 }
        }.map { route in
            ContractCase(operationId: route.operationId, name: "two Host headers", expectedStatus: 400, expectedCode: "invalid_host") { _ in
                RequestSpec(
                    method: route.method, path: concrete(route.path), headers: [HTTPField.Name("x-safeapi-invalid-host")!: "repeated"])
            }
        }
    }

    static func splitJSON(_ keyId: String = "key-00000001", provider: String = "testai") -> String {
        #"{"apiKey":"sk-user-own-key-0123456789","provider":"\#(provider)","keyId":"\#(keyId)","description":"laptop"}"#
    }

    @Sendable static func signedIn(_ fixture: Fixture) async throws -> (TokenResponse, HTTPFields) {
        let pair = try await fixture.signIn()
        return (pair, Fixture.bearer(pair))
    }

    @Sendable static func split(_ fixture: Fixture, _ auth: HTTPFields, keyId: String = "key-00000001", provider: String = "testai")
        async throws -> SplitKeyCreated
    {
        let response = try await fixture.send(.post, "/api/split-key/split", headers: auth, json: splitJSON(keyId, provider: provider))
        guard response.status == .created else { throw FixtureError("split: \(response.status) \(String(buffer: response.body))") }
        return try fixture.decode(SplitKeyCreated.self, response)
    }

    @Sendable static func withPart(_ auth: HTTPFields, id: String, part: String) -> HTTPFields {
        var headers = auth
        headers[.partialKeyId] = id
        headers[.partialKey] = part
        return headers
    }

    static var splitKeys: [ContractCase] {
        let wrongPart = ClientPart.encode([UInt8](repeating: 7, count: 32))
        return [
            ContractCase(operationId: "updateSplitKey", name: "set budgets", expectedStatus: 200) { fixture in
                let auth = try await signedIn(fixture).1
                _ = try await split(fixture, auth)
                return request(
                    .patch, "/api/split-key/key-00000001", headers: auth,
                    json: #"{"budgets":{"dailyTokens":1000,"monthlyCostMicros":5000000}}"#)
            },
            ContractCase(operationId: "updateSplitKey", name: "negative budget", expectedStatus: 400, expectedCode: "validation_failed") {
                fixture in
                let auth = try await signedIn(fixture).1
                _ = try await split(fixture, auth)
                return request(.patch, "/api/split-key/key-00000001", headers: auth, json: #"{"budgets":{"dailyTokens":-1}}"#)
            },
            ContractCase(operationId: "updateSplitKey", name: "not the caller's", expectedStatus: 404, expectedCode: "split_key_not_found")
            { fixture in
                request(.patch, "/api/split-key/key-00000001", headers: try await signedIn(fixture).1, json: #"{"description":"x"}"#)
            },
            ContractCase(operationId: "createSplitKey", name: "split", expectedStatus: 201) { fixture in
                request(.post, "/api/split-key/split", headers: try await signedIn(fixture).1, json: splitJSON())
            },
            ContractCase(operationId: "createSplitKey", name: "the old field names", expectedStatus: 201) { fixture in
                request(
                    .post, "/api/split-key/split", headers: try await signedIn(fixture).1,
                    json: #"{"originalKey":"sk-own-0123456789","apiProvider":"TESTAI"}"#)
            },
            ContractCase(operationId: "createSplitKey", name: "no key", expectedStatus: 400, expectedCode: "invalid_request") { fixture in
                request(.post, "/api/split-key/split", headers: try await signedIn(fixture).1, json: #"{"provider":"testai"}"#)
            },
            ContractCase(operationId: "createSplitKey", name: "no such provider", expectedStatus: 404, expectedCode: "provider_not_found") {
                fixture in
                request(.post, "/api/split-key/split", headers: try await signedIn(fixture).1, json: #"{"apiKey":"k","provider":"nope"}"#)
            },
            ContractCase(
                operationId: "createSplitKey", name: "a provider that takes no key", expectedStatus: 422,
                expectedCode: "provider_takes_no_key"
            ) { fixture in
                request(
                    .post, "/api/split-key/split", headers: try await signedIn(fixture).1, json: #"{"apiKey":"k","provider":"keyless"}"#)
            },
            ContractCase(operationId: "createSplitKey", name: "the mock provider, to try BYOK offline", expectedStatus: 201) { fixture in
                request(
                    .post, "/api/split-key/split", headers: try await signedIn(fixture).1,
                    json: #"{"apiKey":"sk-anything","provider":"mock"}"#)
            },
            ContractCase(operationId: "createSplitKey", name: "own id taken", expectedStatus: 409, expectedCode: "split_key_exists") {
                fixture in
                let auth = try await signedIn(fixture).1
                _ = try await split(fixture, auth)
                return request(.post, "/api/split-key/split", headers: auth, json: splitJSON())
            },
            ContractCase(
                operationId: "createSplitKey", name: "too many splits", expectedStatus: 429, expectedCode: "rate_limited",
                configure: { $0.byokSplitsPerMinute = 2 }
            ) { fixture in
                let auth = try await signedIn(fixture).1
                _ = try await split(fixture, auth, keyId: "key-00000001")
                _ = try await split(fixture, auth, keyId: "key-00000002")
                return request(.post, "/api/split-key/split", headers: auth, json: splitJSON("key-00000003"))
            },
            ContractCase(
                operationId: "createSplitKey", name: "no master key", expectedStatus: 503, expectedCode: "byok_disabled",
                configure: { $0.byokMasterKey = nil }
            ) { fixture in
                request(.post, "/api/split-key/split", headers: try await signedIn(fixture).1, json: splitJSON())
            },
            ContractCase(operationId: "listSplitKeys", name: "own keys", expectedStatus: 200) { fixture in
                let auth = try await signedIn(fixture).1
                _ = try await split(fixture, auth)
                return request(.get, "/api/split-key", headers: auth)
            },
            ContractCase(operationId: "validateSplitKey", name: "opens", expectedStatus: 200) { fixture in
                let auth = try await signedIn(fixture).1
                let key = try await split(fixture, auth)
                return request(.post, "/api/split-key/validate", headers: withPart(auth, id: key.keyId, part: key.clientPart))
            },
            ContractCase(operationId: "validateSplitKey", name: "missing part", expectedStatus: 400, expectedCode: "invalid_request") {
                fixture in
                var auth = try await signedIn(fixture).1
                auth[.partialKeyId] = "key-00000001"
                return request(.post, "/api/split-key/validate", headers: auth)
            },
            ContractCase(operationId: "validateSplitKey", name: "wrong part", expectedStatus: 401, expectedCode: "split_key_invalid") {
                fixture in
                let auth = try await signedIn(fixture).1
                let key = try await split(fixture, auth)
                return request(.post, "/api/split-key/validate", headers: withPart(auth, id: key.keyId, part: wrongPart))
            },
            ContractCase(
                operationId: "validateSplitKey", name: "no master key", expectedStatus: 503, expectedCode: "byok_disabled",
                configure: { $0.byokMasterKey = nil }
            ) { fixture in
                request(
                    .post, "/api/split-key/validate", headers: withPart(try await signedIn(fixture).1, id: "key-00000001", part: wrongPart))
            },
            ContractCase(operationId: "getSplitKey", name: "own key", expectedStatus: 200) { fixture in
                let auth = try await signedIn(fixture).1
                let key = try await split(fixture, auth)
                return request(.get, "/api/split-key/\(key.keyId)", headers: auth)
            },
            ContractCase(operationId: "getSplitKey", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") {
                fixture in
                request(.get, "/api/split-key/short", headers: try await signedIn(fixture).1)
            },
            ContractCase(operationId: "getSplitKey", name: "unknown id", expectedStatus: 404, expectedCode: "split_key_not_found") {
                fixture in
                request(.get, "/api/split-key/key-unknown-1", headers: try await signedIn(fixture).1)
            },
            ContractCase(operationId: "deleteSplitKey", name: "delete", expectedStatus: 204) { fixture in
                let auth = try await signedIn(fixture).1
                let key = try await split(fixture, auth)
                return request(.delete, "/api/split-key/\(key.keyId)", headers: auth)
            },
            ContractCase(operationId: "deleteSplitKey", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") {
                fixture in
                request(.delete, "/api/split-key/bad%20id%20here", headers: try await signedIn(fixture).1)
            },
            ContractCase(operationId: "deleteSplitKey", name: "unknown id", expectedStatus: 404, expectedCode: "split_key_not_found") {
                fixture in
                request(.delete, "/api/split-key/key-unknown-1", headers: try await signedIn(fixture).1)
            },
            ContractCase(operationId: "rotateSplitKey", name: "rotate", expectedStatus: 200) { fixture in
                let auth = try await signedIn(fixture).1
                let key = try await split(fixture, auth)
                var headers = auth
                headers[.partialKey] = key.clientPart
                return request(.post, "/api/split-key/\(key.keyId)/rotate", headers: headers)
            },
            ContractCase(operationId: "rotateSplitKey", name: "no current part", expectedStatus: 400, expectedCode: "invalid_request") {
                fixture in
                request(.post, "/api/split-key/key-00000001/rotate", headers: try await signedIn(fixture).1)
            },
            ContractCase(operationId: "rotateSplitKey", name: "wrong current part", expectedStatus: 401, expectedCode: "split_key_invalid")
            { fixture in
                let auth = try await signedIn(fixture).1
                let key = try await split(fixture, auth)
                var headers = auth
                headers[.partialKey] = wrongPart
                return request(.post, "/api/split-key/\(key.keyId)/rotate", headers: headers)
            },
            ContractCase(operationId: "rotateSplitKey", name: "unknown id", expectedStatus: 404, expectedCode: "split_key_not_found") {
                fixture in
                var headers = try await signedIn(fixture).1
                headers[.partialKey] = wrongPart
                return request(.post, "/api/split-key/key-unknown-1/rotate", headers: headers)
            },
            ContractCase(
                operationId: "rotateSplitKey", name: "no master key", expectedStatus: 503, expectedCode: "byok_disabled",
                configure: { $0.byokMasterKey = nil }
            ) { fixture in
                var headers = try await signedIn(fixture).1
                headers[.partialKey] = wrongPart
                return request(.post, "/api/split-key/key-00000001/rotate", headers: headers)
            },
            ContractCase(operationId: "adminListSplitKeys", name: "by user and provider", expectedStatus: 200) { fixture in
                _ = try await split(fixture, try await signedIn(fixture).1)
                return request(.get, "/admin/split-keys?userId=user-1&provider=testai", headers: Fixture.admin)
            },
            ContractCase(operationId: "adminListSplitKeys", name: "malformed user", expectedStatus: 400, expectedCode: "validation_failed")
            {
                _ in
                request(.get, "/admin/split-keys?userId=a", headers: Fixture.admin)
            },
            ContractCase(operationId: "adminDeleteSplitKey", name: "delete", expectedStatus: 204) { fixture in
                let key = try await split(fixture, try await signedIn(fixture).1)
                return request(.delete, "/admin/split-keys/\(key.keyId)?userId=user-1", headers: Fixture.admin)
            },
            ContractCase(operationId: "adminDeleteSplitKey", name: "no owner named", expectedStatus: 400, expectedCode: "invalid_request") {
                _ in
                request(.delete, "/admin/split-keys/key-00000001", headers: Fixture.admin)
            },
            ContractCase(operationId: "adminDeleteSplitKey", name: "unknown", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.delete, "/admin/split-keys/key-00000001?userId=nobody", headers: Fixture.admin)
            },
        ]
    }

    static func request(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], json: String? = nil) -> RequestSpec {
        var headers = headers
        if json != nil { headers[.contentType] = "application/json" }
        return RequestSpec(method: method, path: path, headers: headers, body: json)
    }

    /// The dashboard's page, assets and session.
    static var dashboard: [ContractCase] {
        let signIn = #"{"adminKey":"\#(Harness.adminKeyCanary)"}"#
        return [
            ContractCase(operationId: "getDashboard", name: "the page", expectedStatus: 200) { _ in request(.get, "/dashboard") },
            ContractCase(operationId: "getDashboardAsset", name: "the script", expectedStatus: 200) { _ in
                request(.get, "/dashboard/assets/dashboard.js")
            },
            ContractCase(
                operationId: "getDashboardAsset", name: "a file it does not have", expectedStatus: 400, expectedCode: "validation_failed"
            ) {
                _ in request(.get, "/dashboard/assets/other.js")
            },
            ContractCase(operationId: "createDashboardSession", name: "the admin key", expectedStatus: 200) { _ in
                request(.post, "/dashboard/session", json: signIn)
            },
            ContractCase(operationId: "createDashboardSession", name: "no key", expectedStatus: 400, expectedCode: "invalid_request") { _ in
                request(.post, "/dashboard/session", json: "{}")
            },
            ContractCase(
                operationId: "createDashboardSession", name: "a wrong key", expectedStatus: 401, expectedCode: "invalid_admin_key"
            ) { _ in request(.post, "/dashboard/session", json: #"{"adminKey":"not-the-key"}"#) },
            ContractCase(
                operationId: "createDashboardSession", name: "wrong keys throttled", expectedStatus: 429, expectedCode: "admin_locked_out"
            ) { fixture in
                for _ in 0..<5 { _ = try await fixture.send(.post, "/dashboard/session", json: #"{"adminKey":"guess"}"#) }
                return request(.post, "/dashboard/session", json: #"{"adminKey":"guess"}"#)
            },
            ContractCase(
                operationId: "createDashboardSession", name: "ADMIN_API_KEY unset", expectedStatus: 503, expectedCode: "admin_disabled",
                configure: { $0.adminAPIKey = nil }
            ) { _ in request(.post, "/dashboard/session", json: signIn) },
            ContractCase(operationId: "getDashboardSession", name: "a session", expectedStatus: 200) { fixture in
                request(.get, "/dashboard/session", headers: try await fixture.dashboardSession().headers)
            },
            ContractCase(operationId: "getDashboardSession", name: "no cookie", expectedStatus: 401, expectedCode: "session_invalid") { _ in
                request(.get, "/dashboard/session")
            },
            ContractCase(
                operationId: "getDashboardSession", name: "ADMIN_API_KEY unset", expectedStatus: 503, expectedCode: "admin_disabled",
                configure: { $0.adminAPIKey = nil }
            ) { _ in request(.get, "/dashboard/session", headers: [.cookie: "safeapi_session=0123"]) },
            ContractCase(operationId: "deleteDashboardSession", name: "sign out", expectedStatus: 204) { fixture in
                request(.delete, "/dashboard/session", headers: try await fixture.dashboardSession().headers)
            },
            ContractCase(
                operationId: "deleteDashboardSession", name: "an unknown cookie", expectedStatus: 401, expectedCode: "session_invalid"
            ) { _ in request(.delete, "/dashboard/session", headers: [.cookie: "safeapi_session=0123", .csrfToken: "00"]) },
            ContractCase(operationId: "deleteDashboardSession", name: "no CSRF token", expectedStatus: 403, expectedCode: "csrf_invalid") {
                fixture in
                var headers = try await fixture.dashboardSession().headers
                headers[.csrfToken] = nil
                return request(.delete, "/dashboard/session", headers: headers)
            },
            ContractCase(
                operationId: "deleteDashboardSession", name: "ADMIN_API_KEY unset", expectedStatus: 503, expectedCode: "admin_disabled",
                configure: { $0.adminAPIKey = nil }
            ) { _ in request(.delete, "/dashboard/session") },
        ]
    }

    static let system: [ContractCase] = [
        ContractCase(operationId: "getServiceInfo", name: "service info", expectedStatus: 200) { _ in request(.get, "/") },
        ContractCase(operationId: "getHealth", name: "liveness", expectedStatus: 200) { _ in request(.get, "/health") },
        ContractCase(operationId: "getMetrics", name: "the metrics", expectedStatus: 200) { _ in
            request(.get, "/metrics", headers: Fixture.admin)
        },
        ContractCase(operationId: "getHealth", name: "unknown query parameters are ignored", expectedStatus: 200) { _ in
            request(.get, "/health?verbose=1")
        },
        ContractCase(operationId: "getReadiness", name: "database reachable", expectedStatus: 200) { _ in request(.get, "/ready") },
        ContractCase(operationId: "getReadiness", name: "database unreachable", expectedStatus: 503, setup: .unreachableDatabase) { _ in
            request(.get, "/ready")
        },
    ]

    static let auth: [ContractCase] = [
        ContractCase(operationId: "issueToken", name: "app secret buys a token", expectedStatus: 200) { fixture in
            let app = try await fixture.createApp()
            return request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"\#(app.app.appId)","appSecret":"\#(app.appSecret)"}"#)
        },
        ContractCase(operationId: "issueToken", name: "malformed userId", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.post, "/auth/token", json: #"{"userId":"a b","appId":"com.example.app","appSecret":"x"}"#)
        },
        ContractCase(operationId: "issueToken", name: "missing body", expectedStatus: 400, expectedCode: "invalid_request") { _ in
            request(.post, "/auth/token")
        },
        ContractCase(operationId: "issueToken", name: "wrong secret", expectedStatus: 401, expectedCode: "invalid_app_credentials") {
            fixture in
            try await fixture.createApp()
            return request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"com.example.app","appSecret":"sab_app_wrong"}"#)
        },
        ContractCase(
            operationId: "issueToken", name: "no secret while anonymous tokens are off", expectedStatus: 401,
            expectedCode: "invalid_app_credentials"
        ) { fixture in
            try await fixture.createApp()
            return request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"com.example.app"}"#)
        },
        ContractCase(operationId: "issueToken", name: "unknown app", expectedStatus: 401, expectedCode: "invalid_app_credentials") { _ in
            request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"no.such.app","appSecret":"sab_app_x"}"#)
        },
        ContractCase(
            operationId: "issueToken", name: "anonymous tokens when allowed (development)", expectedStatus: 200,
            configure: { $0.allowAnonymousTokens = true }
        ) { _ in
            request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"legacy.app"}"#)
        },
        ContractCase(operationId: "issueToken", name: "deactivated user", expectedStatus: 403, expectedCode: "user_inactive") { fixture in
            let app = try await fixture.createApp()
            _ = try await fixture.token("user-1", app: app)
            try await fixture.deactivate("user-1")
            return request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"\#(app.app.appId)","appSecret":"\#(app.appSecret)"}"#)
        },
        ContractCase(operationId: "issueToken", name: "userId of another app", expectedStatus: 409, expectedCode: "user_app_conflict") {
            fixture in
            _ = try await fixture.signIn("user-1", appId: "com.example.one")
            let other = try await fixture.createApp("com.example.two")
            return request(.post, "/auth/token", json: #"{"userId":"user-1","appId":"com.example.two","appSecret":"\#(other.appSecret)"}"#)
        },
        ContractCase(operationId: "refreshToken", name: "rotation", expectedStatus: 200) { fixture in
            let pair = try await fixture.signIn()
            return request(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#)
        },
        ContractCase(operationId: "refreshToken", name: "missing field", expectedStatus: 400, expectedCode: "invalid_request") { _ in
            request(.post, "/auth/refresh", json: "{}")
        },
        ContractCase(operationId: "refreshToken", name: "unknown token", expectedStatus: 401, expectedCode: "invalid_refresh_token") { _ in
            request(.post, "/auth/refresh", json: #"{"refreshToken":"sab_rt_unknown"}"#)
        },
        ContractCase(
            operationId: "refreshToken", name: "used token again within the grace", expectedStatus: 401,
            expectedCode: "refresh_token_already_used"
        ) { fixture in
            let pair = try await fixture.signIn()
            _ = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#)
            return request(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#)
        },
        ContractCase(operationId: "refreshToken", name: "deactivated user", expectedStatus: 403, expectedCode: "user_inactive") { fixture in
            let pair = try await fixture.signIn()
            try await fixture.deactivate("user-1")
            return request(.post, "/auth/refresh", json: #"{"refreshToken":"\#(pair.refreshToken)"}"#)
        },
        ContractCase(operationId: "verifyToken", name: "valid token", expectedStatus: 200) { fixture in
            request(.get, "/auth/verify", headers: Fixture.bearer(try await fixture.signIn()))
        },
        ContractCase(operationId: "getTokenInfo", name: "valid token", expectedStatus: 200) { fixture in
            request(.get, "/auth/token-info", headers: Fixture.bearer(try await fixture.signIn()))
        },
        ContractCase(operationId: "logout", name: "this token", expectedStatus: 200) { fixture in
            request(.post, "/auth/logout", headers: Fixture.bearer(try await fixture.signIn()))
        },
        ContractCase(operationId: "logout", name: "every token", expectedStatus: 200) { fixture in
            request(.post, "/auth/logout", headers: Fixture.bearer(try await fixture.signIn()), json: #"{"all":true}"#)
        },
        ContractCase(operationId: "logout", name: "null for a non-nullable field", expectedStatus: 400, expectedCode: "invalid_request") {
            fixture in
            request(.post, "/auth/logout", headers: Fixture.bearer(try await fixture.signIn()), json: #"{"all":null}"#)
        },
        ContractCase(operationId: "logout", name: "malformed body", expectedStatus: 400, expectedCode: "invalid_request") { fixture in
            request(.post, "/auth/logout", headers: Fixture.bearer(try await fixture.signIn()), json: #"{"all":"yes"}"#)
        },
    ]

    /// Apps without a backend: the providers an app trusts, and the token exchange.
    static var identity: [ContractCase] {
        let idp = TestIdentityProvider()
        let path = "/admin/apps/com.example.app/identity-providers"
        @Sendable func exchange(_ token: String, clientId: String = "com.example.app") -> RequestSpec {
            RequestSpec(
                method: .post, path: "/auth/exchange", headers: [.contentType: "application/x-www-form-urlencoded"],
                body: TestIdentityProvider.form(token, clientId: clientId))
        }
        let unreachableKeys: @Sendable (inout AppConfig) -> Void = { $0.identityAllowInsecure = true }
        return [
            ContractCase(operationId: "setAppIdentityProviders", name: "trust a provider", expectedStatus: 200) { fixture in
                try await fixture.createApp()
                return request(.put, path, headers: Fixture.admin, json: try idp.providersBody())
            },
            ContractCase(
                operationId: "setAppIdentityProviders", name: "a namespace with capitals", expectedStatus: 400,
                expectedCode: "validation_failed"
            ) {
                fixture in
                try await fixture.createApp()
                return request(.put, path, headers: Fixture.admin, json: try idp.providersBody(namespace: "Bad NS"))
            },
            ContractCase(operationId: "setAppIdentityProviders", name: "no such app", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.put, path, headers: Fixture.admin, json: try idp.providersBody())
            },
            ContractCase(
                operationId: "setAppIdentityProviders", name: "keys over plain http", expectedStatus: 422,
                expectedCode: "identity_provider_url_refused"
            ) { fixture in
                try await fixture.createApp()
                return request(.put, path, headers: Fixture.admin, json: try idp.providersBody(jwksUri: "http://keys.example/jwks.json"))
            },
            ContractCase(operationId: "exchangeToken", name: "a trusted provider's token", expectedStatus: 200) { fixture in
                try await fixture.trusting(idp)
                return exchange(try idp.token())
            },
            ContractCase(operationId: "exchangeToken", name: "an expired token", expectedStatus: 400, expectedCode: "invalid_grant") {
                fixture in
                try await fixture.trusting(idp)
                return exchange(try idp.token(TestIdentityProvider.claims(now: Date().addingTimeInterval(-3600))))
            },
            ContractCase(operationId: "exchangeToken", name: "an unknown app", expectedStatus: 401, expectedCode: "invalid_client") { _ in
                exchange(try idp.token(), clientId: "no.such.app")
            },
            ContractCase(operationId: "exchangeToken", name: "a deactivated user", expectedStatus: 403, expectedCode: "user_inactive") {
                fixture in
                try await fixture.trusting(idp)
                _ = try await fixture.exchange(TestIdentityProvider.form(try idp.token()))
                try await fixture.deactivate("idp%3Auser%7C42")
                return exchange(try idp.token())
            },
            ContractCase(
                operationId: "exchangeToken", name: "the namespace moved from another app, whose user it is", expectedStatus: 409,
                expectedCode: "user_app_conflict"
            ) {
                fixture in
                try await fixture.trusting(idp, appId: "com.example.other")
                _ = try await fixture.exchange(TestIdentityProvider.form(try idp.token(), clientId: "com.example.other"))
                // The other app gives the namespace up; its users stay its own.
                _ = try await fixture.send(
                    .put, "/admin/apps/com.example.other/identity-providers", headers: Fixture.admin, json: #"{"providers":[]}"#)
                try await fixture.trusting(idp)
                return exchange(try idp.token())
            },
            ContractCase(operationId: "setAppCaps", name: "cap new users", expectedStatus: 200) { fixture in
                try await fixture.createApp()
                return request(.put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"newUsersPerHour":100}"#)
            },
            ContractCase(operationId: "setAppCaps", name: "cap calls and cost", expectedStatus: 200) { fixture in
                try await fixture.createApp()
                return request(
                    .put, "/admin/apps/com.example.app/caps", headers: Fixture.admin,
                    json: #"{"dailyRequests":1000,"monthlyRequests":20000,"dailyCostMicros":5000000,"monthlyCostMicros":100000000}"#)
            },
            ContractCase(operationId: "setAppCaps", name: "a negative cost cap", expectedStatus: 400, expectedCode: "validation_failed") {
                fixture in
                try await fixture.createApp()
                return request(.put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"dailyCostMicros":-1}"#)
            },
            ContractCase(operationId: "setAppCaps", name: "a cap of zero", expectedStatus: 400, expectedCode: "validation_failed") {
                fixture in
                try await fixture.createApp()
                return request(.put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"newUsersPerHour":0}"#)
            },
            ContractCase(operationId: "setAppCaps", name: "no such app", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"newUsersPerHour":1}"#)
            },
            ContractCase(
                operationId: "issueToken", name: "the app's cap on new users", expectedStatus: 429, expectedCode: "app_cap_reached"
            ) {
                fixture in
                let app = try await fixture.createApp()
                _ = try await fixture.send(
                    .put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"newUsersPerHour":1}"#)
                _ = try await fixture.token("user-1", app: app)
                return request(
                    .post, "/auth/token", json: #"{"userId":"user-2","appId":"com.example.app","appSecret":"\#(app.appSecret)"}"#)
            },
            ContractCase(
                operationId: "exchangeToken", name: "the app's cap on new users", expectedStatus: 429, expectedCode: "app_cap_reached"
            ) {
                fixture in
                let app = try await fixture.trusting(idp)
                _ = try await fixture.send(
                    .put, "/admin/apps/com.example.app/caps", headers: Fixture.admin, json: #"{"newUsersPerHour":1}"#)
                _ = try await fixture.token("user-1", app: app)
                return exchange(try idp.token())
            },
            ContractCase(operationId: "setAppGuests", name: "turn guests on", expectedStatus: 200) { fixture in
                try await fixture.createApp()
                return request(
                    .put, "/admin/apps/com.example.app/guests", headers: Fixture.admin, json: #"{"enabled":true,"dailyQuota":5}"#)
            },
            ContractCase(operationId: "setAppGuests", name: "a limit of zero", expectedStatus: 400, expectedCode: "validation_failed") {
                fixture in
                try await fixture.createApp()
                return request(
                    .put, "/admin/apps/com.example.app/guests", headers: Fixture.admin, json: #"{"enabled":true,"newPerHour":0}"#)
            },
            ContractCase(operationId: "setAppGuests", name: "no such app", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.put, "/admin/apps/com.example.app/guests", headers: Fixture.admin, json: #"{"enabled":true}"#)
            },
            ContractCase(operationId: "installToken", name: "a new install", expectedStatus: 200) { fixture in
                try await fixture.takingGuests()
                return request(.post, "/auth/install", json: #"{"client_id":"com.example.app","install_id":"install-0001"}"#)
            },
            ContractCase(
                operationId: "installToken", name: "an install id too short", expectedStatus: 400, expectedCode: "validation_failed"
            ) {
                fixture in
                try await fixture.takingGuests()
                return request(.post, "/auth/install", json: #"{"client_id":"com.example.app","install_id":"short"}"#)
            },
            ContractCase(operationId: "installToken", name: "bound to a DPoP key", expectedStatus: 200, configure: DPoPTests.configure) {
                fixture in
                try await fixture.takingGuests()
                return RequestSpec(
                    method: .post, path: "/auth/install",
                    headers: [.contentType: "application/json", .dpop: try TestDPoPKey().proof(url: DPoPTests.origin + "/auth/install")],
                    body: #"{"client_id":"com.example.app","install_id":"install-0001"}"#)
            },
            ContractCase(
                operationId: "installToken", name: "a DPoP proof for another URL", expectedStatus: 400, expectedCode: "invalid_dpop_proof",
                configure: DPoPTests.configure
            ) { fixture in
                try await fixture.takingGuests()
                return RequestSpec(
                    method: .post, path: "/auth/install",
                    headers: [.contentType: "application/json", .dpop: try TestDPoPKey().proof(url: DPoPTests.origin + "/auth/token")],
                    body: #"{"client_id":"com.example.app","install_id":"install-0001"}"#)
            },
            ContractCase(
                operationId: "verifyToken", name: "a DPoP-bound token as Bearer", expectedStatus: 401, expectedCode: "token_requires_dpop",
                configure: DPoPTests.configure
            ) { fixture in
                try await fixture.takingGuests()
                let pair = try fixture.decode(TokenResponse.self, try await fixture.boundInstall("install-0001", key: TestDPoPKey()))
                return request(.get, "/auth/verify", headers: Fixture.bearer(pair))
            },
            ContractCase(operationId: "installToken", name: "guests off", expectedStatus: 401, expectedCode: "guests_disabled") { fixture in
                try await fixture.createApp()
                return request(.post, "/auth/install", json: #"{"client_id":"com.example.app","install_id":"install-0001"}"#)
            },
            ContractCase(operationId: "installToken", name: "a closed guest", expectedStatus: 403, expectedCode: "user_inactive") {
                fixture in
                try await fixture.takingGuests()
                _ = try await fixture.install("install-0001")
                try await fixture.deactivate("guest%3Ainstall-0001")
                return request(.post, "/auth/install", json: #"{"client_id":"com.example.app","install_id":"install-0001"}"#)
            },
            ContractCase(
                operationId: "installToken", name: "the install's guest is another app's", expectedStatus: 409,
                expectedCode: "user_app_conflict"
            ) {
                fixture in
                try await fixture.takingGuests(appId: "com.example.other")
                _ = try await fixture.install("install-0001", appId: "com.example.other")
                try await fixture.takingGuests()
                return request(.post, "/auth/install", json: #"{"client_id":"com.example.app","install_id":"install-0001"}"#)
            },
            ContractCase(operationId: "installToken", name: "too many new guests", expectedStatus: 429, expectedCode: "guest_limit_reached")
            {
                fixture in
                try await fixture.takingGuests(perAddress: 1)
                _ = try await fixture.install("install-0001")
                return request(.post, "/auth/install", json: #"{"client_id":"com.example.app","install_id":"install-0002"}"#)
            },
            ContractCase(
                operationId: "exchangeToken", name: "the key server is down", expectedStatus: 503, expectedCode: "temporarily_unavailable",
                configure: unreachableKeys
            ) { fixture in
                try await fixture.trusting(idp, jwksUri: "http://127.0.0.1:9/jwks.json")
                return exchange(try idp.token())
            },
        ]
    }

    static let admin: [ContractCase] = [
        ContractCase(operationId: "listApps", name: "list", expectedStatus: 200) { fixture in
            try await fixture.createApp()
            return request(.get, "/admin/apps", headers: Fixture.admin)
        },
        ContractCase(operationId: "createApp", name: "with a chosen id", expectedStatus: 201) { _ in
            request(.post, "/admin/apps", headers: Fixture.admin, json: #"{"name":"iOS","appId":"com.example.ios"}"#)
        },
        ContractCase(operationId: "createApp", name: "with a random id", expectedStatus: 201) { _ in
            request(.post, "/admin/apps", headers: Fixture.admin, json: #"{"name":"Web","description":"the web client"}"#)
        },
        ContractCase(operationId: "createApp", name: "empty name", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.post, "/admin/apps", headers: Fixture.admin, json: #"{"name":""}"#)
        },
        ContractCase(operationId: "createApp", name: "taken id", expectedStatus: 409, expectedCode: "app_exists") { fixture in
            try await fixture.createApp()
            return request(.post, "/admin/apps", headers: Fixture.admin, json: #"{"name":"Again","appId":"com.example.app"}"#)
        },
        ContractCase(operationId: "getApp", name: "found", expectedStatus: 200) { fixture in
            try await fixture.createApp()
            return request(.get, "/admin/apps/com.example.app", headers: Fixture.admin)
        },
        ContractCase(operationId: "getApp", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.get, "/admin/apps/a%20b", headers: Fixture.admin)
        },
        ContractCase(operationId: "getApp", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.get, "/admin/apps/no.such.app", headers: Fixture.admin)
        },
        ContractCase(operationId: "updateApp", name: "deactivate", expectedStatus: 200) { fixture in
            try await fixture.createApp()
            return request(.patch, "/admin/apps/com.example.app", headers: Fixture.admin, json: #"{"active":false,"name":"Renamed"}"#)
        },
        ContractCase(operationId: "updateApp", name: "name too long", expectedStatus: 400, expectedCode: "validation_failed") { fixture in
            try await fixture.createApp()
            return request(
                .patch, "/admin/apps/com.example.app", headers: Fixture.admin, json: #"{"name":"\#(String(repeating: "n", count: 201))"}"#)
        },
        ContractCase(operationId: "updateApp", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.patch, "/admin/apps/no.such.app", headers: Fixture.admin, json: #"{"active":false}"#)
        },
        ContractCase(operationId: "deleteApp", name: "without users", expectedStatus: 204) { fixture in
            try await fixture.createApp()
            return request(.delete, "/admin/apps/com.example.app", headers: Fixture.admin)
        },
        ContractCase(operationId: "deleteApp", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.delete, "/admin/apps/x", headers: Fixture.admin)
        },
        ContractCase(operationId: "deleteApp", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.delete, "/admin/apps/no.such.app", headers: Fixture.admin)
        },
        ContractCase(operationId: "deleteApp", name: "with users", expectedStatus: 409, expectedCode: "app_has_users") { fixture in
            _ = try await fixture.signIn()
            return request(.delete, "/admin/apps/com.example.app", headers: Fixture.admin)
        },
        ContractCase(operationId: "rotateAppSecret", name: "rotate", expectedStatus: 200) { fixture in
            try await fixture.createApp()
            return request(.post, "/admin/apps/com.example.app/rotate-secret", headers: Fixture.admin)
        },
        ContractCase(operationId: "rotateAppSecret", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.post, "/admin/apps/%2F%2F/rotate-secret", headers: Fixture.admin)
        },
        ContractCase(operationId: "rotateAppSecret", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.post, "/admin/apps/no.such.app/rotate-secret", headers: Fixture.admin)
        },
        ContractCase(operationId: "listUsers", name: "filtered page", expectedStatus: 200) { fixture in
            _ = try await fixture.signIn()
            return request(.get, "/admin/users?appId=com.example.app&limit=10&offset=0", headers: Fixture.admin)
        },
        ContractCase(operationId: "listUsers", name: "limit out of range", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.get, "/admin/users?limit=0", headers: Fixture.admin)
        },
        ContractCase(operationId: "listUsers", name: "limit not a number", expectedStatus: 400, expectedCode: "invalid_request") { _ in
            request(.get, "/admin/users?limit=ten", headers: Fixture.admin)
        },
        ContractCase(operationId: "getUser", name: "found", expectedStatus: 200) { fixture in
            _ = try await fixture.signIn()
            return request(.get, "/admin/users/user-1", headers: Fixture.admin)
        },
        ContractCase(operationId: "getUser", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.get, "/admin/users/u", headers: Fixture.admin)
        },
        ContractCase(operationId: "getUser", name: "percent-encoded id", expectedStatus: 200) { fixture in
            _ = try await fixture.token("me@example.com", app: try await fixture.createApp())
            return request(.get, "/admin/users/me%40example.com", headers: Fixture.admin)
        },
        ContractCase(operationId: "getUser", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.get, "/admin/users/nobody", headers: Fixture.admin)
        },
        ContractCase(operationId: "updateUser", name: "quotas", expectedStatus: 200) { fixture in
            _ = try await fixture.signIn()
            return request(.patch, "/admin/users/user-1", headers: Fixture.admin, json: #"{"dailyQuota":500,"monthlyQuota":10000}"#)
        },
        ContractCase(operationId: "updateUser", name: "negative quota", expectedStatus: 400, expectedCode: "validation_failed") { fixture in
            _ = try await fixture.signIn()
            return request(.patch, "/admin/users/user-1", headers: Fixture.admin, json: #"{"dailyQuota":-1}"#)
        },
        ContractCase(operationId: "updateUser", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.patch, "/admin/users/nobody", headers: Fixture.admin, json: #"{"active":false}"#)
        },
        ContractCase(operationId: "deleteUser", name: "delete", expectedStatus: 204) { fixture in
            _ = try await fixture.signIn()
            return request(.delete, "/admin/users/user-1", headers: Fixture.admin)
        },
        ContractCase(operationId: "deleteUser", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
            request(.delete, "/admin/users/no", headers: Fixture.admin)
        },
        ContractCase(operationId: "deleteUser", name: "missing", expectedStatus: 404, expectedCode: "not_found") { _ in
            request(.delete, "/admin/users/nobody", headers: Fixture.admin)
        },
    ]

    /// The proxy's routes: how each one names a provider, an endpoint and a body.
    struct ProxyRoute: Sendable {
        let operationId: String
        let method: HTTPRequest.Method
        let build: @Sendable (_ provider: String, _ endpoint: String, _ headers: HTTPFields) -> RequestSpec
    }

    static let proxyRoutes: [ProxyRoute] = [
        ProxyRoute(operationId: "proxyPost", method: .post) { provider, endpoint, headers in
            request(
                .post, "/api/\(provider)/proxy", headers: headers,
                json: #"{"endpoint":"\#(endpoint)","model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
        },
        ProxyRoute(operationId: "proxyShortcut", method: .post) { provider, endpoint, headers in
            request(.post, "/api/\(provider)", headers: headers, json: #"{"endpoint":"\#(endpoint)","model":"gpt-4o-mini"}"#)
        },
        ProxyRoute(operationId: "proxyGet", method: .get) { provider, endpoint, headers in
            request(
                .get, "/api/\(provider)/proxy?endpoint=\(endpoint.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")",
                headers: headers)
        },
        ProxyRoute(operationId: "sdkProxyGet", method: .get) { provider, endpoint, headers in
            request(.get, "/proxy/\(provider)\(endpoint)", headers: headers)
        },
        ProxyRoute(operationId: "sdkProxyPost", method: .post) { provider, endpoint, headers in
            request(.post, "/proxy/\(provider)\(endpoint)", headers: headers, json: #"{"model":"gpt-4o-mini","messages":[]}"#)
        },
        ProxyRoute(operationId: "sdkProxyPut", method: .put) { provider, endpoint, headers in
            request(.put, "/proxy/\(provider)\(endpoint)", headers: headers, json: "{}")
        },
        ProxyRoute(operationId: "sdkProxyPatch", method: .patch) { provider, endpoint, headers in
            request(.patch, "/proxy/\(provider)\(endpoint)", headers: headers, json: "{}")
        },
        ProxyRoute(operationId: "sdkProxyDelete", method: .delete) { provider, endpoint, headers in
            request(.delete, "/proxy/\(provider)\(endpoint)", headers: headers)
        },
    ]

    static var proxy: [ContractCase] {
        let listing: [ContractCase] = [
            ContractCase(operationId: "listProviders", name: "list", expectedStatus: 200) { fixture in
                request(.get, "/api/providers", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(operationId: "getProviderEndpoints", name: "allow-list", expectedStatus: 200) { fixture in
                request(.get, "/api/gemini/endpoints", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(
                operationId: "getProviderEndpoints", name: "malformed provider", expectedStatus: 400, expectedCode: "validation_failed"
            ) { fixture in
                request(.get, "/api/not%20a%20provider/endpoints", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(
                operationId: "getProviderEndpoints", name: "unknown provider", expectedStatus: 404, expectedCode: "provider_not_found"
            ) { fixture in
                request(.get, "/api/nope/endpoints", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(operationId: "proxyPost", name: "body without endpoint", expectedStatus: 400, expectedCode: "invalid_request") {
                fixture in
                request(.post, "/api/testai/proxy", headers: Fixture.bearer(try await fixture.signIn()), json: #"{"model":"x"}"#)
            },
            ContractCase(operationId: "proxyPost", name: "the provider's own 400, passed through", expectedStatus: 400) { fixture in
                request(
                    .post, "/api/mock/proxy", headers: Fixture.bearer(try await fixture.signIn()),
                    json: #"{"endpoint":"/chat/completions","model":"mock-model"}"#)
            },
            ContractCase(operationId: "proxyShortcut", name: "body not JSON", expectedStatus: 400, expectedCode: "invalid_request") {
                fixture in
                request(.post, "/api/testai", headers: Fixture.bearer(try await fixture.signIn()), json: "not json")
            },
            ContractCase(operationId: "proxyGet", name: "no endpoint query", expectedStatus: 400, expectedCode: "invalid_request") {
                fixture in
                request(.get, "/api/testai/proxy", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(operationId: "getMyQuota", name: "standing", expectedStatus: 200) { fixture in
                request(.get, "/api/me/quota", headers: Fixture.bearer(try await fixture.signIn()))
            },
        ]
        let perRoute = proxyRoutes.flatMap { route -> [ContractCase] in
            let allowed =
                switch route.method {
                case .get: "/models"
                case .post: "/chat/completions"
                default: "/things/1"
                }
            func make(
                _ name: String, _ status: Int, _ code: String?, provider: String, endpoint: String,
                configure: @escaping @Sendable (inout AppConfig) -> Void = { _ in }, appCaps: String? = nil
            ) -> ContractCase {
                ContractCase(operationId: route.operationId, name: name, expectedStatus: status, expectedCode: code, configure: configure) {
                    fixture in
                    let auth = Fixture.bearer(try await fixture.signIn())
                    if let appCaps { try await AppCapTests.setCaps(fixture, appCaps) }
                    return route.build(provider, endpoint, auth)
                }
            }
            return [
                make("through to the provider", 200, nil, provider: "testai", endpoint: allowed),
                make("encoded dot segments", 400, "invalid_endpoint", provider: "testai", endpoint: "/models/%2e%2e/files"),
                make("not on the allow-list", 403, "endpoint_not_allowed", provider: "testai", endpoint: "/files"),
                make("unknown provider", 404, "provider_not_found", provider: "nope", endpoint: allowed),
                make("nothing listens upstream", 502, "upstream_unreachable", provider: "dead", endpoint: "/chat/completions"),
                make("no key on the server", 503, "provider_not_configured", provider: "nokey", endpoint: "/chat/completions"),
                make("no answer in time", 504, "upstream_timeout", provider: "slow", endpoint: "/chat/completions"),
                make(
                    "daily quota of 0", 429, "quota_exceeded", provider: "testai", endpoint: allowed,
                    configure: { $0.defaultDailyQuota = 0 }),
                make(
                    "the app's daily request cap of 0", 429, "app_quota_exceeded", provider: "testai", endpoint: allowed,
                    appCaps: #"{"dailyRequests":0}"#),
            ]
        }
        return listing + perRoute
    }

    /// `/v1`: the OpenAI base URL; every refusal in OpenAI's error shape (`GatewayError`).
    static var gateway: [ContractCase] {
        func chat(
            _ name: String, _ status: Int, _ code: String?, json: String,
            configure: @escaping @Sendable (inout AppConfig) -> Void = { _ in }
        ) -> ContractCase {
            ContractCase(
                operationId: "gatewayChatCompletions", name: name, expectedStatus: status, expectedCode: code, configure: configure
            ) {
                fixture in
                request(.post, "/v1/chat/completions", headers: Fixture.bearer(try await fixture.signIn()), json: json)
            }
        }
        func model(_ model: String) -> String { #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"# }
        return [
            ContractCase(operationId: "gatewayListModels", name: "the models", expectedStatus: 200) { fixture in
                request(.get, "/v1/models", headers: Fixture.bearer(try await fixture.signIn()))
            },
            chat("through to the provider", 200, nil, json: model("testai/gpt-4o-mini")),
            chat("no model", 400, "invalid_request", json: #"{"messages":[]}"#),
            chat("no messages", 400, "invalid_request", json: #"{"model":"testai/gpt-4o-mini"}"#),
            chat("a model without its provider, and no such alias", 404, "model_not_found", json: model("gpt-4o-mini")),
            chat("through to Gemini, translated", 200, nil, json: model("testgemini/gemini-1.5-flash")),
            chat("a field Anthropic cannot express", 400, "unsupported_parameter", json: #"{"model":"testclaude/m","messages":[],"n":2}"#),
            chat("through to Anthropic, translated", 200, nil, json: model("testclaude/claude-3-5-haiku-latest")),
            chat("unknown provider", 404, "model_not_found", json: model("nope/gpt-4o-mini")),
            chat("nothing listens upstream", 502, "upstream_unreachable", json: model("dead/x")),
            chat("no key on the server", 503, "provider_not_configured", json: model("nokey/x")),
            chat("no answer in time", 504, "upstream_timeout", json: model("slow/x")),
            chat("daily quota of 0", 429, "quota_exceeded", json: model("testai/gpt-4o-mini"), configure: { $0.defaultDailyQuota = 0 }),
        ] + gatewayInputOperations
    }

    /// `/v1/embeddings` and `/v1/responses`: a body of `model` and `input`.
    static var gatewayInputOperations: [ContractCase] {
        [
            ("gatewayEmbeddings", "/v1/embeddings", "testgemini/text-embedding-004", "testclaude/m"),
            ("gatewayResponses", "/v1/responses", "testai/gpt-4o-mini", "testgemini/gemini-1.5-flash"),
        ].flatMap { operation, path, served, unsupported in
            func make(
                _ name: String, _ status: Int, _ code: String?, json: String,
                configure: @escaping @Sendable (inout AppConfig) -> Void = { _ in }
            ) -> ContractCase {
                ContractCase(operationId: operation, name: name, expectedStatus: status, expectedCode: code, configure: configure) {
                    fixture in
                    request(.post, path, headers: Fixture.bearer(try await fixture.signIn()), json: json)
                }
            }
            func model(_ model: String) -> String { #"{"model":"\#(model)","input":"hi"}"# }
            return [
                make("served", 200, nil, json: model(served)),
                make("no input", 400, "invalid_request", json: #"{"model":"\#(served)"}"#),
                make("a provider without this operation", 400, "model_not_supported", json: model(unsupported)),
                make("unknown provider", 404, "model_not_found", json: model("nope/x")),
                make("nothing listens upstream", 502, "upstream_unreachable", json: model("dead/x")),
                make("no key on the server", 503, "provider_not_configured", json: model("nokey/x")),
                make("no answer in time", 504, "upstream_timeout", json: model("slow/x")),
                make("daily quota of 0", 429, "quota_exceeded", json: model(served), configure: { $0.defaultDailyQuota = 0 }),
            ]
        }
    }

    /// A concrete path for a route template.
    static func concrete(_ path: String) -> String {
        path.replacingOccurrences(of: "{appId}", with: "com.example.app").replacingOccurrences(of: "{userId}", with: "user-1")
            .replacingOccurrences(of: "{provider}", with: "mock").replacingOccurrences(of: "{endpoint}", with: "chat/completions")
            .replacingOccurrences(of: "{keyId}", with: "key-00000001").replacingOccurrences(of: "{ruleId}", with: "rule-1")
            .replacingOccurrences(of: "{webhookId}", with: "wh_00000000")
    }

    /// Every admin-key route: no key, a wrong key, a locked-out address, admin disabled.
    static var securedByAdminKey: [ContractCase] {
        RouteTable.all.filter { $0.security.contains("adminKey") }.flatMap { route -> [ContractCase] in
            let path = concrete(route.path)
            return [
                ContractCase(operationId: route.operationId, name: "no admin key", expectedStatus: 401, expectedCode: "admin_key_required")
                { _ in
                    request(route.method, path)
                },
                ContractCase(
                    operationId: route.operationId, name: "wrong admin key", expectedStatus: 401, expectedCode: "invalid_admin_key"
                ) { _ in
                    request(route.method, path, headers: [.adminKey: "not-the-key"])
                },
                ContractCase(
                    operationId: route.operationId, name: "wrong keys throttled after five failures", expectedStatus: 429,
                    expectedCode: "admin_locked_out"
                ) { fixture in
                    for _ in 0..<5 { _ = try await fixture.send(.get, "/admin/apps", headers: [.adminKey: "guess"]) }
                    return request(route.method, path, headers: [.adminKey: "guess"])
                },
                ContractCase(
                    operationId: route.operationId, name: "ADMIN_API_KEY unset", expectedStatus: 503, expectedCode: "admin_disabled",
                    configure: { $0.adminAPIKey = nil }
                ) { _ in
                    request(route.method, path, headers: Fixture.admin)
                },
            ]
        }
    }

    static var analytics: [ContractCase] {
        let backwards = "?from=2026-02-30T00:00:00Z"
        var cases: [ContractCase] = []
        for (operation, path) in [
            ("getAnalyticsOverview", "/analytics/overview"), ("getAnalyticsCosts", "/analytics/costs"),
            ("getAnalyticsErrors", "/analytics/errors"),
            ("getAnalyticsTimeseries", "/analytics/timeseries"), ("getUserAnalytics", "/analytics/user/user-1"),
        ] {
            cases.append(
                ContractCase(operationId: operation, name: "after a proxied call", expectedStatus: 200) { fixture in
                    _ = try await fixture.send(
                        .post, "/api/testai/proxy", headers: Fixture.bearer(try await fixture.signIn()),
                        json: #"{"endpoint":"/chat/completions","model":"m"}"#)
                    return request(.get, path + "?startDate=2020-01-01T00:00:00Z", headers: Fixture.admin)
                })
            cases.append(
                ContractCase(operationId: operation, name: "a date that is not one", expectedStatus: 400, expectedCode: "validation_failed")
                {
                    fixture in
                    _ = try await fixture.signIn()
                    return request(.get, path + backwards, headers: Fixture.admin)
                })
        }
        cases += [
            ContractCase(operationId: "getUserAnalytics", name: "no such user", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.get, "/analytics/user/nobody-here", headers: Fixture.admin)
            },
            ContractCase(operationId: "getMyStats", name: "own figures", expectedStatus: 200) { fixture in
                request(.get, "/analytics/my-stats", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(operationId: "getMyStats", name: "a date that is not one", expectedStatus: 400, expectedCode: "validation_failed")
            {
                fixture in
                request(.get, "/analytics/my-stats?from=2026-02-30T00:00:00Z", headers: Fixture.bearer(try await fixture.signIn()))
            },
            ContractCase(operationId: "listUsage", name: "records", expectedStatus: 200) { fixture in
                _ = try await fixture.send(
                    .post, "/api/testai/proxy", headers: Fixture.bearer(try await fixture.signIn()),
                    json: #"{"endpoint":"/chat/completions","model":"m"}"#)
                return request(.get, "/analytics/usage?provider=testai&failed=false", headers: Fixture.admin)
            },
            ContractCase(operationId: "listUsage", name: "limit out of range", expectedStatus: 400, expectedCode: "validation_failed") {
                _ in
                request(.get, "/analytics/usage?limit=0", headers: Fixture.admin)
            },
        ]
        return cases
    }

    static var webhooks: [ContractCase] {
        let body = #"{"url":"http://127.0.0.1:9/hook","events":["user.created","key.split"],"description":"ops"}"#
        let open: @Sendable (inout AppConfig) -> Void = { $0.webhookAllowPrivate = true }
        @Sendable func made(_ fixture: Fixture) async throws -> Webhook {
            let response = try await fixture.send(.post, "/admin/webhooks", headers: Fixture.admin, json: body)
            guard response.status == .created else {
                throw FixtureError("createWebhook: \(response.status) \(String(buffer: response.body))")
            }
            return try fixture.decode(WebhookWithSecret.self, response).webhook
        }
        let missing = "/admin/webhooks/wh_00000000"
        return [
            ContractCase(operationId: "listWebhooks", name: "list", expectedStatus: 200, configure: open) { fixture in
                _ = try await made(fixture)
                return request(.get, "/admin/webhooks", headers: Fixture.admin)
            },
            ContractCase(operationId: "createWebhook", name: "create", expectedStatus: 201, configure: open) { _ in
                request(.post, "/admin/webhooks", headers: Fixture.admin, json: body)
            },
            ContractCase(operationId: "createWebhook", name: "no events", expectedStatus: 400, expectedCode: "invalid_request") { _ in
                request(.post, "/admin/webhooks", headers: Fixture.admin, json: #"{"url":"https://hooks.example.com/x"}"#)
            },
            ContractCase(
                operationId: "createWebhook", name: "an unknown event", expectedStatus: 400, expectedCode: "validation_failed",
                configure: open
            ) { _ in
                request(
                    .post, "/admin/webhooks", headers: Fixture.admin, json: #"{"url":"http://127.0.0.1:9/hook","events":["user.deleted"]}"#)
            },
            ContractCase(operationId: "createWebhook", name: "a loopback URL", expectedStatus: 422, expectedCode: "webhook_url_refused") {
                _ in
                request(.post, "/admin/webhooks", headers: Fixture.admin, json: #"{"url":"https://127.0.0.1/hook","events":["test"]}"#)
            },
            ContractCase(operationId: "updateWebhook", name: "deactivate", expectedStatus: 200, configure: open) { fixture in
                let hook = try await made(fixture)
                return request(.patch, "/admin/webhooks/\(hook.id)", headers: Fixture.admin, json: #"{"active":false,"events":["test"]}"#)
            },
            ContractCase(operationId: "updateWebhook", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
                request(.patch, "/admin/webhooks/bad", headers: Fixture.admin, json: #"{"active":false}"#)
            },
            ContractCase(operationId: "updateWebhook", name: "no such webhook", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.patch, missing, headers: Fixture.admin, json: #"{"active":false}"#)
            },
            ContractCase(
                operationId: "updateWebhook", name: "a metadata URL", expectedStatus: 422, expectedCode: "webhook_url_refused",
                configure: open
            ) { fixture in
                let hook = try await made(fixture)
                return request(
                    .patch, "/admin/webhooks/\(hook.id)", headers: Fixture.admin, json: #"{"url":"ftp://169.254.169.254/latest"}"#)
            },
            ContractCase(operationId: "deleteWebhook", name: "remove", expectedStatus: 204, configure: open) { fixture in
                let hook = try await made(fixture)
                return request(.delete, "/admin/webhooks/\(hook.id)", headers: Fixture.admin)
            },
            ContractCase(operationId: "deleteWebhook", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
                request(.delete, "/admin/webhooks/bad", headers: Fixture.admin)
            },
            ContractCase(operationId: "deleteWebhook", name: "no such webhook", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.delete, missing, headers: Fixture.admin)
            },
            ContractCase(operationId: "rotateWebhookSecret", name: "rotate", expectedStatus: 200, configure: open) { fixture in
                let hook = try await made(fixture)
                return request(.post, "/admin/webhooks/\(hook.id)/rotate-secret", headers: Fixture.admin)
            },
            ContractCase(operationId: "rotateWebhookSecret", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") {
                _ in
                request(.post, "/admin/webhooks/bad/rotate-secret", headers: Fixture.admin)
            },
            ContractCase(operationId: "rotateWebhookSecret", name: "no such webhook", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.post, missing + "/rotate-secret", headers: Fixture.admin)
            },
            ContractCase(operationId: "testWebhook", name: "queue a test", expectedStatus: 202, configure: open) { fixture in
                let hook = try await made(fixture)
                return request(.post, "/admin/webhooks/\(hook.id)/test", headers: Fixture.admin)
            },
            ContractCase(operationId: "testWebhook", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
                request(.post, "/admin/webhooks/bad/test", headers: Fixture.admin)
            },
            ContractCase(operationId: "testWebhook", name: "no such webhook", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.post, missing + "/test", headers: Fixture.admin)
            },
            ContractCase(operationId: "listWebhookDeliveries", name: "deliveries", expectedStatus: 200, configure: open) { fixture in
                let hook = try await made(fixture)
                _ = try await fixture.send(.post, "/admin/webhooks/\(hook.id)/test", headers: Fixture.admin)
                return request(.get, "/admin/webhooks/\(hook.id)/deliveries", headers: Fixture.admin)
            },
            ContractCase(
                operationId: "listWebhookDeliveries", name: "limit out of range", expectedStatus: 400, expectedCode: "validation_failed",
                configure: open
            ) { fixture in
                let hook = try await made(fixture)
                return request(.get, "/admin/webhooks/\(hook.id)/deliveries?limit=0", headers: Fixture.admin)
            },
            ContractCase(operationId: "listWebhookDeliveries", name: "no such webhook", expectedStatus: 404, expectedCode: "not_found") {
                _ in
                request(.get, missing + "/deliveries", headers: Fixture.admin)
            },
        ]
    }

    static var audit: [ContractCase] {
        [
            ContractCase(operationId: "listAuditLogs", name: "after a mutation", expectedStatus: 200) { fixture in
                _ = try await fixture.createApp()
                return request(.get, "/admin/audit-logs?action=app.&success=true&from=2020-01-01T00:00:00Z", headers: Fixture.admin)
            },
            ContractCase(
                operationId: "listAuditLogs", name: "a date that is not one", expectedStatus: 400, expectedCode: "validation_failed"
            ) { _ in
                request(.get, "/admin/audit-logs?from=yesterday", headers: Fixture.admin)
            },
            ContractCase(operationId: "getAuditStats", name: "stats", expectedStatus: 200) { fixture in
                _ = try await fixture.createApp()
                return request(.get, "/admin/audit-logs/stats?days=30", headers: Fixture.admin)
            },
            ContractCase(operationId: "getAuditStats", name: "days out of range", expectedStatus: 400, expectedCode: "validation_failed") {
                _ in
                request(.get, "/admin/audit-logs/stats?days=0", headers: Fixture.admin)
            },
            ContractCase(operationId: "listFailedAuditLogs", name: "failed ones", expectedStatus: 200) { fixture in
                _ = try await fixture.send(.delete, "/admin/users/nobody-here", headers: Fixture.admin)
                return request(.get, "/admin/audit-logs/failed", headers: Fixture.admin)
            },
            ContractCase(
                operationId: "listFailedAuditLogs", name: "limit out of range", expectedStatus: 400, expectedCode: "validation_failed"
            ) { _ in
                request(.get, "/admin/audit-logs/failed?limit=501", headers: Fixture.admin)
            },
            ContractCase(operationId: "verifyAuditLog", name: "an intact chain", expectedStatus: 200) { fixture in
                _ = try await fixture.createApp()
                return request(.get, "/admin/audit-logs/verify", headers: Fixture.admin)
            },
        ]
    }

    static var ipRules: [ContractCase] {
        let create = #"{"cidr":"203.0.113.0/24","type":"deny","reason":"scraping"}"#
        @Sendable func made(_ fixture: Fixture) async throws -> IPRule {
            let response = try await fixture.send(.post, "/admin/ip-rules", headers: Fixture.admin, json: create)
            guard response.status == .created else { throw FixtureError("createIPRule: \(response.status)") }
            return try fixture.decode(IPRule.self, response)
        }
        return [
            ContractCase(operationId: "createIPRule", name: "deny a network", expectedStatus: 201) { _ in
                request(.post, "/admin/ip-rules", headers: Fixture.admin, json: create)
            },
            ContractCase(operationId: "createIPRule", name: "not a CIDR", expectedStatus: 400, expectedCode: "validation_failed") { _ in
                request(.post, "/admin/ip-rules", headers: Fixture.admin, json: #"{"cidr":"10.0.0.0/33","type":"deny"}"#)
            },
            ContractCase(operationId: "listIPRules", name: "list", expectedStatus: 200) { fixture in
                _ = try await made(fixture)
                return request(.get, "/admin/ip-rules", headers: Fixture.admin)
            },
            ContractCase(operationId: "updateIPRule", name: "turn into allow", expectedStatus: 200) { fixture in
                let rule = try await made(fixture)
                return request(
                    .patch, "/admin/ip-rules/\(rule.id)", headers: Fixture.admin, json: #"{"type":"allow","cidr":"::ffff:203.0.113.7"}"#)
            },
            ContractCase(operationId: "updateIPRule", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
                request(.patch, "/admin/ip-rules/bad", headers: Fixture.admin, json: #"{"type":"allow"}"#)
            },
            ContractCase(operationId: "updateIPRule", name: "no such rule", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.patch, "/admin/ip-rules/ipr_00000000", headers: Fixture.admin, json: #"{"type":"allow"}"#)
            },
            ContractCase(operationId: "deleteIPRule", name: "remove", expectedStatus: 204) { fixture in
                let rule = try await made(fixture)
                return request(.delete, "/admin/ip-rules/\(rule.id)", headers: Fixture.admin)
            },
            ContractCase(operationId: "deleteIPRule", name: "malformed id", expectedStatus: 400, expectedCode: "validation_failed") { _ in
                request(.delete, "/admin/ip-rules/bad", headers: Fixture.admin)
            },
            ContractCase(operationId: "deleteIPRule", name: "no such rule", expectedStatus: 404, expectedCode: "not_found") { _ in
                request(.delete, "/admin/ip-rules/ipr_00000000", headers: Fixture.admin)
            },
        ]
    }

    /// What the edge answers, derived for every route that documents it: a foreign origin (403),
    /// too many headers (431), a body over the limit (413), plain HTTP in production (308), the
    /// per-IP limit (429 on `/api` and `/proxy`).
    static var edge: [ContractCase] {
        RouteTable.all.flatMap { route -> [ContractCase] in
            let path = concrete(route.path)
            let statuses = route.responses.keys
            @Sendable func credentials(_ fixture: Fixture) async throws -> HTTPFields {
                if route.security.contains("adminKey") { return Fixture.admin }
                if route.security.contains("bearerAuth") { return Fixture.bearer(try await fixture.signIn()) }
                return [:]
            }
            var cases: [ContractCase] = []
            if statuses.contains(403) {
                cases.append(
                    ContractCase(
                        operationId: route.operationId, name: "an origin not allowed", expectedStatus: 403, expectedCode: "cors_forbidden"
                    ) { _ in
                        request(route.method, path, headers: [.origin: "https://evil.example"])
                    })
            }
            if statuses.contains(431) {
                cases.append(
                    ContractCase(
                        operationId: route.operationId, name: "too many headers", expectedStatus: 431, expectedCode: "headers_too_large"
                    ) { _ in
                        var headers = HTTPFields()
                        for index in 0..<120 { headers.append(HTTPField(name: HTTPField.Name("x-filler-\(index)")!, value: "1")) }
                        return request(route.method, path, headers: headers)
                    })
            }
            if statuses.contains(413) {
                cases.append(
                    ContractCase(
                        operationId: route.operationId, name: "a body over MAX_BODY_BYTES", expectedStatus: 413,
                        expectedCode: "payload_too_large",
                        configure: { $0.edge.maxBodyBytes = 1024 }
                    ) { fixture in
                        var headers = try await credentials(fixture)
                        let body = #"{"endpoint":"/chat/completions","pad":""# + String(repeating: "x", count: 2048) + #""}"#
                        headers[.contentLength] = String(body.utf8.count)
                        return request(route.method, path, headers: headers, json: body)
                    })
            }
            if statuses.contains(308) {
                cases.append(
                    ContractCase(
                        operationId: route.operationId, name: "plain HTTP in production", expectedStatus: 308,
                        configure: {
                            $0.edge.requireHTTPS = true
                            $0.edge.publicURL = "https://api.example.com"
                        }
                    ) { _ in
                        request(route.method, path)
                    })
            }
            if statuses.contains(429), route.policy.rateLimit == .address {
                cases.append(
                    ContractCase(
                        operationId: route.operationId, name: "over the per-IP limit", expectedStatus: 429, expectedCode: "rate_limited",
                        configure: { $0.edge.ipRateLimit = 1 }
                    ) { fixture in
                        let headers = try await credentials(fixture)
                        _ = try await fixture.send(.get, "/api/providers", headers: headers)
                        return request(route.method, path, headers: headers)
                    })
            }
            if statuses.contains(429), route.policy.rateLimit == .auth {
                cases.append(
                    ContractCase(
                        operationId: route.operationId, name: "over the per-IP sign-in limit", expectedStatus: 429,
                        expectedCode: "rate_limited", configure: { $0.edge.authRateLimit = 1 }
                    ) { fixture in
                        _ = try await fixture.send(.post, "/auth/refresh", json: #"{"refreshToken":"sab_rt_unknown"}"#)
                        return request(route.method, path)
                    })
            }
            return cases
        }
    }

    /// Every bearer route: no token, a malformed one, a deactivated user's.
    static var securedByBearer: [ContractCase] {
        RouteTable.all.filter { $0.security.contains("bearerAuth") }.flatMap { route -> [ContractCase] in
            let path = concrete(route.path)
            return [
                ContractCase(operationId: route.operationId, name: "no token", expectedStatus: 401, expectedCode: "token_missing") { _ in
                    request(route.method, path)
                },
                ContractCase(operationId: route.operationId, name: "not a JWT", expectedStatus: 401, expectedCode: "token_malformed") { _ in
                    request(route.method, path, headers: [.authorization: "Bearer not.a.jwt"])
                },
                ContractCase(operationId: route.operationId, name: "deactivated user", expectedStatus: 403, expectedCode: "user_inactive") {
                    fixture in
                    let pair = try await fixture.signIn()
                    try await fixture.deactivate("user-1")
                    return request(route.method, path, headers: Fixture.bearer(pair))
                },
            ]
        }
    }
}
