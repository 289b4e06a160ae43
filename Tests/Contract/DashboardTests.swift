import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOHTTP1
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// The dashboard's page and its session: the admin key buys a cookie that works the admin API
/// only with its CSRF token, ends at sign-out on every instance, and is never the key.
@Suite("Dashboard")
struct DashboardTests {
    static func code(_ response: TestResponse) -> String? {
        try? APICoding.decoder.decode(APIError.self, from: Data(response.body.readableBytesView)).error
    }

    @Test(arguments: Harness.kinds)
    func aSessionWorksTheAdminAPIWithItsCSRFTokenAndEndsAtSignOutEverywhere(_ kind: DatabaseKind) async throws {
        try await Harness.withTwoInstances(kind) { one, two in
            let signIn = try await one.send(.post, "/dashboard/session", json: #"{"adminKey":"\#(Harness.adminKeyCanary)"}"#)
            #expect(signIn.status == .ok)
            let setCookie = try #require(signIn.headers[.setCookie])
            let attributes = Set(setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(attributes.isSuperset(of: ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"]))
            #expect(!attributes.contains("Secure"), "plain HTTP: a Secure cookie would not come back")
            #expect(!setCookie.contains(Harness.adminKeyCanary))
            let session = try await one.dashboardSession()
            // The session works the admin API, on either instance, with its CSRF token only.
            #expect(try await one.send(.get, "/admin/apps", headers: session.headers).status == .ok)
            #expect(try await two.send(.get, "/admin/apps", headers: session.headers).status == .ok)
            let created = try await two.send(
                .post, "/admin/apps", headers: session.headers, json: #"{"name":"From the dashboard","appId":"dash.app"}"#)
            #expect(created.status == .created)
            var noToken = session.headers
            noToken[.csrfToken] = nil
            let refused = try await one.send(.post, "/admin/apps", headers: noToken, json: #"{"name":"Forged","appId":"forged.app"}"#)
            #expect(refused.status == .forbidden)
            #expect(Self.code(refused) == "csrf_invalid")
            var wrongToken = session.headers
            wrongToken[.csrfToken] = String(repeating: "0", count: 64)
            #expect(try await one.send(.get, "/admin/apps", headers: wrongToken).status == .forbidden)
            // Reading the session gives the page its token back after a reload.
            let read = try await two.send(.get, "/dashboard/session", headers: [.cookie: session.cookie])
            #expect(try one.decode(DashboardSession.self, read).csrfToken == session.csrf)
            // The audit log names the admin key's fingerprint as the actor of the dashboard's change.
            let audit = try one.decode(
                AuditLogPage.self, try await one.send(.get, "/admin/audit-logs?action=app.create", headers: Fixture.admin))
            #expect(audit.logs.first?.actorId.hasPrefix("admin-") == true)
            // Signed out on one instance: refused on both.
            #expect(try await one.send(.delete, "/dashboard/session", headers: session.headers).status == .noContent)
            for instance in [one, two] {
                let after = try await instance.send(.get, "/admin/apps", headers: session.headers)
                #expect(after.status == .unauthorized)
                #expect(Self.code(after) == "session_invalid")
            }
            // The key itself still works, and wins over a cookie sent with it.
            var both = session.headers
            both[.adminKey] = Harness.adminKeyCanary
            #expect(try await one.send(.get, "/admin/apps", headers: both).status == .ok)
        }
    }

    @Test(arguments: Harness.kinds)
    func usersAreFoundByTheStartOfTheirId(_ kind: DatabaseKind) async throws {
        try await Harness.withApp(kind) { client, _ in
            let fixture = Fixture(client: client)
            let app = try await fixture.createApp()
            for user in ["ann-1", "ann-2", "Ann-3", "bob-1"] { _ = try await fixture.token(user, app: app) }
            let page = try fixture.decode(UserList.self, try await fixture.send(.get, "/admin/users?search=ann-", headers: Fixture.admin))
            #expect(page.users.map(\.userId) == ["ann-1", "ann-2"])
            #expect(page.total == 2)
            // Nothing in the text is a wildcard.
            let none = try fixture.decode(UserList.self, try await fixture.send(.get, "/admin/users?search=%25", headers: Fixture.admin))
            #expect(none.total == 0)
        }
    }

    @Test func theDatabaseKeepsNeitherTheTokenNorTheKey() async throws {
        try await Harness.withFreshConfig(.sqlite) { config in
            var config = config
            config.providers = try await Harness.providers()
            let app = try await buildApplication(config: config, logger: Harness.logger(MemorySink()))
            let token = try await app.test(.router) { client in try await Fixture(client: client).dashboardSession().cookie }
            let rows = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                try await database.withSQL { sql in
                    try await sql.raw("SELECT id, key_id FROM admin_sessions").all().map {
                        try $0.decode(column: "id", as: String.self) + " " + $0.decode(column: "key_id", as: String.self)
                    }
                }
            }
            #expect(rows.count == 1)
            let value = String(token.dropFirst("safeapi_session=".count))
            #expect(!rows[0].contains(value))
            #expect(!rows[0].contains(Harness.adminKeyCanary))
            #expect(rows[0].hasPrefix("sha256:"))
        }
    }

    @Test func aSessionEndsWhenTheAdminKeyChanges() async throws {
        try await Harness.withFreshConfig(.sqlite) { config in
            let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            try await DatabaseFactory.with(config.database, logger: logger) { database in
                try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
                let secret = Secret(Harness.jwtSecretCanary)
                let before = AdminSessions(
                    database: database, guardian: AdminGuard(adminKey: Secret("the-first-admin-key-0123456789abcdef"), logger: logger),
                    jwtSecret: secret)
                let after = AdminSessions(
                    database: database, guardian: AdminGuard(adminKey: Secret("the-second-admin-key-0123456789abcde"), logger: logger),
                    jwtSecret: secret)
                let opened = try await before.open(adminKey: "the-first-admin-key-0123456789abcdef", clientIP: "127.0.0.1")
                _ = try await before.check(token: opened.token, requireCSRF: true, csrf: opened.csrfToken)
                await #expect(throws: AppError.sessionInvalid) {
                    try await after.check(token: opened.token, requireCSRF: true, csrf: opened.csrfToken)
                }
            }
        }
    }

    @Test func behindHTTPSTheCookieIsSecure() async throws {
        try await Harness.withApp(.sqlite, configure: { $0.edge.publicURL = "https://api.example.com" }) { client, _ in
            let signIn = try await Fixture(client: client).send(
                .post, "/dashboard/session", json: #"{"adminKey":"\#(Harness.adminKeyCanary)"}"#)
            #expect(signIn.headers[.setCookie]?.contains("; Secure") == true)
        }
    }

    @Test func thePageLoadsOnlyItsOwnFilesUnderAStrictPolicy() async throws {
        try await Harness.withApp(.sqlite) { client, _ in
            let fixture = Fixture(client: client)
            let page = try await fixture.send(.get, "/dashboard")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!] == SecurityHeadersMiddleware.dashboardPolicy)
            let html = String(buffer: page.body)
            // Nothing inline for the policy to refuse: every script has a source, no handler or style attributes.
            #expect(!html.contains("<script>"))
            #expect(html.range(of: #"<script(?![^>]*\bsrc=)"#, options: .regularExpression) == nil)
            #expect(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil)
            #expect(html.range(of: #"\sstyle\s*="#, options: .regularExpression) == nil)
            #expect(!html.contains("http://") && !html.contains("https://"), "nothing is fetched from elsewhere")
            for (asset, type) in [("dashboard.js", "text/javascript; charset=utf-8"), ("dashboard.css", "text/css; charset=utf-8")] {
                #expect(html.contains("/dashboard/assets/\(asset)"))
                let file = try await fixture.send(.get, "/dashboard/assets/\(asset)")
                #expect(file.status == .ok)
                #expect(file.headers[.contentType] == type)
                #expect(file.body.readableBytes > 0)
            }
            let script = String(buffer: try await fixture.send(.get, "/dashboard/assets/dashboard.js").body)
            for banned in ["eval(", "new Function", "localStorage", "sessionStorage", "document.cookie"] {
                #expect(!script.contains(banned), "dashboard.js uses \(banned)")
            }
        }
    }

    @Test func thePagesOwnOriginMayPostAndOthersMayNot() async throws {
        try await EdgeLiveTests.withLiveApp { base, _, client in
            let session = try await Fixture(client: client).dashboardSession()
            let headers = [("Cookie", session.cookie), ("X-CSRF-Token", session.csrf), ("Content-Type", "application/json")]
            // A browser sends its page's origin on a POST, even to the same origin.
            let same = try await EdgeLiveTests.get(
                base + "/admin/apps", headers: headers + [("Origin", base)], method: .POST, body: #"{"name":"Same","appId":"same.app"}"#)
            #expect(same.status == 201)
            let other = try await EdgeLiveTests.get(
                base + "/admin/apps", headers: headers + [("Origin", "https://evil.example")], method: .POST,
                body: #"{"name":"Evil","appId":"evil.app"}"#)
            #expect(other.status == 403)
            #expect(other.body.contains("cors_forbidden"))
            // The same host under another scheme is another origin.
            let https = base.replacingOccurrences(of: "http://", with: "https://")
            let scheme = try await EdgeLiveTests.get(
                base + "/admin/apps", headers: headers + [("Origin", https)], method: .POST,
                body: #"{"name":"Scheme","appId":"scheme.app"}"#)
            #expect(scheme.status == 403)
            // The exemption is the dashboard's: other routes still need ALLOWED_ORIGINS.
            let token = try await EdgeLiveTests.get(
                base + "/auth/token", headers: [("Origin", base), ("Content-Type", "application/json")], method: .POST,
                body: #"{"userId":"u-1","appId":"none.app","appSecret":"x"}"#)
            #expect(token.status == 403)
        }
    }

    @Test func originsCompareByScheme_Host_AndPort() {
        #expect(CORSMiddleware.sameOrigin("https://API.example.com", "https://api.example.com"))
        #expect(CORSMiddleware.sameOrigin("https://api.example.com:443", "https://api.example.com"))
        #expect(CORSMiddleware.sameOrigin("http://127.0.0.1:3000", "http://127.0.0.1:3000/"))
        #expect(!CORSMiddleware.sameOrigin("http://api.example.com", "https://api.example.com"))
        #expect(!CORSMiddleware.sameOrigin("https://api.example.com:8443", "https://api.example.com"))
        #expect(!CORSMiddleware.sameOrigin("https://evil.example", "https://api.example.com"))
        #expect(!CORSMiddleware.sameOrigin("null", "https://api.example.com"))
    }
}
