import Foundation
public import Generated
public import HTTPTypes
public import Hummingbird
import Logging

/// The spec's security schemes: `bearerAuth` (an access token, checked against the revocation
/// list in memory; a token bound to a key, also against the request's DPoP proof), `adminKey`
/// (`X-Admin-Key`, through the admin guard) and `dashboardSession` (the dashboard's cookie with
/// its CSRF token; `X-Admin-Key`, when sent, is checked instead).
public struct Authenticator: SecurityHandler {
    public typealias Context = AppRequestContext

    let tokens: TokenService
    let revocations: RevocationList
    let adminGuard: AdminGuard
    let sessions: AdminSessions
    /// Proofs of tokens bound to a key (RFC 9449); nil: such tokens are refused.
    let dpop: DPoPVerifier?
    let origin: RequestOrigin

    public init(
        tokens: TokenService, revocations: RevocationList, adminGuard: AdminGuard, sessions: AdminSessions,
        dpop: DPoPVerifier? = nil, origin: RequestOrigin = RequestOrigin()
    ) {
        self.sessions = sessions
        self.tokens = tokens
        self.revocations = revocations
        self.adminGuard = adminGuard
        self.dpop = dpop
        self.origin = origin
    }

    public func authenticate(_ request: Request, context: inout Context, schemes: [String], operationId: String) async throws {
        let cookie = schemes.contains("dashboardSession") ? request.cookies[AdminSessions.cookieName]?.value : nil
        // The session when it is the only way in, or when its cookie comes without `X-Admin-Key`.
        let bySession = !schemes.contains("adminKey") || (cookie != nil && request.headers[.adminKey] == nil)
        if schemes.contains("dashboardSession"), bySession {
            // The dashboard's session. Reading the session is the one request that may come
            // without its CSRF token: it is how the page gets it.
            do {
                guard let cookie, !cookie.isEmpty else { throw adminGuard.keyId == nil ? AppError.adminDisabled : AppError.sessionInvalid }
                let session = try await sessions.check(
                    token: cookie, requireCSRF: operationId != "getDashboardSession", csrf: request.headers[.csrfToken])
                context.adminKeyId = session.keyId
                context.session = (cookie, session.expiresAt)
            } catch let error as AppError {
                context.logger.info(
                    "security: dashboard session refused",
                    metadata: ["security.event": .string(error.code), "client.ip": .string(context.clientIP)])
                throw error
            }
            AuditTrail.actor("admin", context.adminKeyId ?? "")
        } else if schemes.contains("adminKey") {
            let keyId = try await adminGuard.authorize(presented: request.headers[.adminKey], clientIP: context.clientIP)
            context.adminKeyId = keyId
            AuditTrail.actor("admin", keyId)
        } else if schemes.contains("bearerAuth") {
            do {
                let presented = try Self.accessToken(request, schemes: schemes)
                let user = try await tokens.verify(presented.token)
                try revocations.check(user)
                try await checkBinding(of: user, presented, request: request, context: context)
                context.user = user
                AuditTrail.actor("user", user.userId)
                context.logger[metadataKey: "user.id"] = .string(user.userId)
            } catch {
                context.logger.info(
                    "security: access token refused",
                    metadata: ["security.event": .string(error.code), "client.ip": .string(context.clientIP)])
                throw error
            }
        } else {
            throw AppError.internalError
        }
    }

    /// A token bound to a key is accepted only as `Authorization: DPoP` with one proof, signed by
    /// that key, for this request and this token (RFC 9449 §7); a bearer token only as a bearer.
    func checkBinding(of user: AuthenticatedUser, _ presented: PresentedToken, request: Request, context: Context) async throws(AppError) {
        guard let key = user.boundKey else {
            if presented.scheme == .dpop {
                throw .invalidDPoPProof("this access token is not bound to a key; send it as 'Authorization: Bearer'")
            }
            return
        }
        guard presented.scheme == .dpop else { throw .tokenRequiresDPoP }
        let proofs = request.headers[values: .dpop]
        guard proofs.count == 1, let proof = proofs.first, let dpop else {
            throw .invalidDPoPProof("send one DPoP header with a proof for this request")
        }
        do {
            _ = try await dpop.verify(
                proof, method: request.method.rawValue, url: origin.url(request.uri.path, context: context), accessToken: presented.token,
                boundTo: key)
        } catch {
            throw .invalidDPoPProof(error.reason)
        }
    }

    /// An access token and how it came.
    struct PresentedToken {
        enum Scheme { case bearer, dpop, sdkKey }
        var scheme: Scheme
        var token: String
    }

    /// The access token: `Authorization: Bearer` or `DPoP`, or on the SDK routes the header where
    /// each SDK puts its key (`x-api-key`, `x-goog-api-key`).
    static func accessToken(_ request: Request, schemes: [String]) throws(AppError) -> PresentedToken {
        if request.headers[.authorization] == nil {
            if schemes.contains("sdkApiKey"), let token = request.headers[.sdkApiKey], !token.isEmpty {
                return PresentedToken(scheme: .sdkKey, token: token)
            }
            if schemes.contains("sdkGoogApiKey"), let token = request.headers[.sdkGoogApiKey], !token.isEmpty {
                return PresentedToken(scheme: .sdkKey, token: token)
            }
        }
        return try authorization(request)
    }

    /// The token of `Authorization: Bearer <token>` or `Authorization: DPoP <token>` (the scheme
    /// word in any case).
    static func authorization(_ request: Request) throws(AppError) -> PresentedToken {
        guard let header = request.headers[.authorization] else { throw .tokenMissing }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw .tokenMalformed }
        let scheme: PresentedToken.Scheme
        switch parts[0].lowercased() {
        case "bearer": scheme = .bearer
        case "dpop": scheme = .dpop
        default: throw .tokenMalformed
        }
        // Trailing blanks only (the split took the leading ones); Foundation's trimming is slow.
        var token = parts[1]
        while let last = token.last, last == " " || last == "\t" { token.removeLast() }
        return PresentedToken(scheme: scheme, token: String(token))
    }
}

extension HTTPField.Name {
    /// `X-Admin-Key`
    public static let adminKey = Self("X-Admin-Key")!
    /// `X-CSRF-Token`: a dashboard session's CSRF token.
    public static let csrfToken = Self("X-CSRF-Token")!
    static let sdkApiKey = Self("x-api-key")!
    static let sdkGoogApiKey = Self("x-goog-api-key")!
    /// `DPoP`: a proof of possession (RFC 9449).
    static let dpop = Self("DPoP")!
}
