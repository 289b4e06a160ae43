import Foundation
public import Generated
public import Hummingbird
import Logging

extension BridgeAPI {
    public func issueToken(_ input: Operations.IssueToken.Input, context: Context) async throws -> Operations.IssueToken.Output {
        let key = try await boundKey(input.dPoP, path: "/auth/token", context: context)
        return .ok(try await auth.issueToken(input.body, boundKey: key, clientIP: context.clientIP))
    }

    public func installToken(_ input: Operations.InstallToken.Input, context: Context) async throws -> Operations.InstallToken.Output {
        let key = try await boundKey(input.dPoP, path: "/auth/install", context: context)
        return .ok(try await auth.install(input.body, boundKey: key, clientIP: context.clientIP))
    }

    public func refreshToken(_ input: Operations.RefreshToken.Input, context: Context) async throws -> Operations.RefreshToken.Output {
        let key = try await boundKey(input.dPoP, path: "/auth/refresh", context: context)
        return .ok(try await auth.refresh(input.body.refreshToken, boundKey: key, clientIP: context.clientIP))
    }

    /// The key of the sign-in's DPoP proof (RFC 9449 §5), checked for `POST` on this route; nil
    /// without a proof.
    func boundKey(_ proof: String?, path: String, context: Context) async throws(AppError) -> String? {
        guard let proof else { return nil }
        do {
            return try await auth.dpop.verify(proof, method: "POST", url: origin.url(path, context: context), accessToken: nil).thumbprint
        } catch {
            context.logger.info(
                "security: DPoP proof refused", metadata: ["security.event": "invalid_dpop_proof", "client.ip": .string(context.clientIP)])
            throw .invalidDPoPProofAtSignIn(error.reason)
        }
    }

    public func verifyToken(_ input: Operations.VerifyToken.Input, context: Context) async throws -> Operations.VerifyToken.Output {
        .ok(VerifyResponse(valid: true, message: "Token is valid", user: Self.subject(try context.requireUser())))
    }

    public func getTokenInfo(_ input: Operations.GetTokenInfo.Input, context: Context) async throws -> Operations.GetTokenInfo.Output {
        let user = try context.requireUser()
        let remaining = max(0, Int64(user.expiresAt.timeIntervalSinceNow.rounded(.down)))
        return .ok(
            TokenInfo(
                user: Self.subject(user), issuedAt: user.issuedAt, expiresAt: user.expiresAt, expiresInSeconds: remaining, revoked: false))
    }

    public func logout(_ input: Operations.Logout.Input, context: Context) async throws -> Operations.Logout.Output {
        let user = try context.requireUser()
        let all = input.body?.all ?? false
        try await auth.logout(user, all: all)
        let message = all ? "Every token of this user has been revoked." : "Logged out: this token has been revoked."
        return .ok(LogoutResponse(success: true, message: message, userId: user.userId, revokedAll: all))
    }

    /// RFC 8693 over RFC 6749's wire format: a form (or JSON) in, JSON out, and RFC 6749 §5.2
    /// errors with our request id beside them.
    public func exchangeToken(_ input: Operations.ExchangeToken.Input, request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        // The two encodings the spec names; a body without a content type is taken as a form.
        let contentType = request.headers[.contentType]?.lowercased() ?? "application/x-www-form-urlencoded"
        let fields =
            contentType.hasPrefix("application/json")
            ? Self.jsonFields(body)
            : contentType.hasPrefix("application/x-www-form-urlencoded") ? Self.formFields(String(buffer: body)) : nil
        do {
            guard let fields else {
                throw ExchangeFailure.invalidRequest(
                    "The body must be a form (application/x-www-form-urlencoded) or a JSON object of strings.")
            }
            let key: String?
            do {
                key = try await boundKey(input.dPoP, path: "/auth/exchange", context: context)
            } catch {
                throw ExchangeFailure.invalidDPoPProof(error.message)
            }
            let pair = try await auth.exchange(
                grantType: fields["grant_type"], subjectToken: fields["subject_token"], subjectTokenType: fields["subject_token_type"],
                clientId: fields["client_id"], installId: fields["install_id"], boundKey: key, clientIP: context.clientIP)
            return try APIResponse.json(
                TokenExchangeResponse(
                    accessToken: pair.token, issuedTokenType: .urnIetfParamsOauthTokenTypeAccessToken,
                    tokenType: key == nil ? .bearer : .dPoP,
                    expiresIn: pair.expiresIn, refreshToken: pair.refreshToken, refreshExpiresIn: pair.refreshExpiresIn, user: pair.user),
                status: .ok)
        } catch let failure as ExchangeFailure {
            let (status, code, description): (HTTPResponse.Status, String, String) =
                switch failure {
                case .invalidRequest(let why): (.badRequest, "invalid_request", why)
                case .invalidClient(let why): (.unauthorized, "invalid_client", why)
                case .invalidGrant(let why): (.badRequest, "invalid_grant", why)
                case .unsupportedGrantType: (.badRequest, "unsupported_grant_type", "Only RFC 8693 token exchange is supported here.")
                case .keysUnavailable(let why): (.serviceUnavailable, "temporarily_unavailable", why)
                case .invalidDPoPProof(let why): (.badRequest, "invalid_dpop_proof", why)
                }
            return try APIResponse.json(
                TokenExchangeError(error: code, errorDescription: description, message: description, requestId: context.requestId),
                status: status)
        }
    }

    /// `application/x-www-form-urlencoded`: `+` is a space, then percent-decoding; a name given
    /// twice is malformed (RFC 6749 §3.2: parameters must not be repeated).
    static func formFields(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(parts[0]), let value = decode(parts.count == 2 ? parts[1] : ""), fields[name] == nil else { return nil }
            fields[name] = value
        }
        return fields
    }

    /// A JSON object's members, all strings (as in a form); nil otherwise.
    static func jsonFields(_ body: ByteBuffer) -> [String: String]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else { return nil }
        let strings = object.compactMapValues { $0 as? String }
        return strings.count == object.count ? strings : nil
    }

    static func subject(_ user: AuthenticatedUser) -> TokenSubject {
        TokenSubject(userId: user.userId, appId: user.appId, tokenId: user.tokenId, issuedAt: user.issuedAt, expiresAt: user.expiresAt)
    }
}
