import Foundation
public import Generated
import HTTPTypes
public import Hummingbird
import NIOCore

/// The admin dashboard: its page and assets, compiled into the binary (`PackageResources`), and
/// its session (`AdminSessions`).
extension BridgeAPI {
    public func getDashboard(_ input: Operations.GetDashboard.Input, request: Request, context: Context) async throws -> Response {
        Self.file(PackageResources.index_html, type: "text/html; charset=utf-8")
    }

    public func getDashboardAsset(_ input: Operations.GetDashboardAsset.Input, request: Request, context: Context) async throws -> Response
    {
        switch input.asset {
        case .dashboardJs: Self.file(PackageResources.dashboard_js, type: "text/javascript; charset=utf-8")
        case .dashboardCss: Self.file(PackageResources.dashboard_css, type: "text/css; charset=utf-8")
        }
    }

    static func file(_ bytes: [UInt8], type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    public func getDashboardSession(_ input: Operations.GetDashboardSession.Input, context: Context) async throws
        -> Operations.GetDashboardSession.Output
    {
        // The authenticator has checked the cookie.
        guard let session = context.session else { throw AppError.sessionInvalid }
        return .ok(DashboardSession(csrfToken: sessions.csrfToken(for: session.token), expiresAt: session.expiresAt))
    }

    public func createDashboardSession(_ input: Operations.CreateDashboardSession.Input, context: Context) async throws
        -> Operations.CreateDashboardSession.Output
    {
        let opened = try await sessions.open(adminKey: input.body.adminKey, clientIP: context.clientIP)
        AuditTrail.actor("admin", opened.keyId)
        let cookie = sessionCookie(opened.token, maxAge: Int(AdminSessions.lifetime.components.seconds), context: context)
        return .ok(DashboardSession(csrfToken: opened.csrfToken, expiresAt: opened.expiresAt), headers: .init(setCookie: cookie))
    }

    public func deleteDashboardSession(_ input: Operations.DeleteDashboardSession.Input, context: Context) async throws
        -> Operations.DeleteDashboardSession.Output
    {
        if let session = context.session { try await sessions.close(token: session.token) }
        return .noContent(headers: .init(setCookie: sessionCookie("", maxAge: 0, context: context)))
    }

    /// The session cookie: HttpOnly, SameSite=Strict, for the whole site, Secure when the client
    /// came over HTTPS (native TLS, a trusted proxy's word, or an https `PUBLIC_URL`).
    func sessionCookie(_ token: String, maxAge: Int, context: Context) -> String {
        let secure = origin.url("/", context: context).hasPrefix("https://")
        return Cookie(
            name: AdminSessions.cookieName, value: token, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict
        )
        .description
    }
}
