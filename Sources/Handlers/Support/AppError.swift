public import Generated
public import HTTPTypes

/// Every error the bridge itself answers with: its stable code, its message and what a client can
/// act on, in one place. The HTTP status and headers of each are the HTTP layer's
/// (`AppError+HTTP.swift`).
public enum AppError: Error, Sendable, Equatable {
    // Input and routing
    /// A path, query, header or body value that does not match the spec.
    case invalidInput(InputError)
    /// No route has this path.
    case routeNotFound
    /// The path exists, but not with this method.
    case methodNotAllowed(allowed: [HTTPRequest.Method])
    /// The body is larger than the configured limit.
    case payloadTooLarge
    /// A request the HTTP layer refused before it reached a route.
    case malformedRequest
    /// An HTTP/1.1 request without a `Host` header, or any request with two (RFC 9112 §3.2).
    case invalidHost
    /// A body that is not declared as JSON on an operation that takes JSON.
    case unsupportedMediaType
    /// Too many request headers, or too many bytes of them.
    case headersTooLarge
    /// The `Origin` is not allowed, or absent where one is required.
    case corsForbidden
    /// An IP rule refuses the client's address.
    case ipForbidden
    /// Plain HTTP where HTTPS is required (a non-GET request; GETs are redirected).
    case httpsRequired
    /// No such resource (or not the caller's): `what` names it for the message.
    case notFound(what: String)

    // Access tokens (401 "who are you?", 403 "not allowed")
    case tokenMissing
    case tokenMalformed
    case tokenInvalidSignature
    case tokenExpired
    case tokenNotYetValid
    case tokenInvalidIssuer
    case tokenInvalidAudience
    case tokenRevoked
    case userInactive
    /// A token bound to a key (RFC 9449) sent as a bearer token.
    case tokenRequiresDPoP
    /// The DPoP proof of a request with a bound token is missing or not acceptable (401).
    case invalidDPoPProof(String)

    // Token issuing and refresh
    case invalidAppCredentials
    case userAppConflict
    case invalidRefreshToken
    case refreshTokenExpired
    case refreshTokenRevoked
    case refreshTokenAlreadyUsed
    case refreshTokenReused
    /// At sign-in or refresh: the DPoP proof is not acceptable, or missing where the app or the
    /// refresh token requires one (400, RFC 9449 §5).
    case invalidDPoPProofAtSignIn(String)

    // Admin
    case adminKeyRequired
    case invalidAdminKey
    case adminLockedOut(retryAfter: Int64)
    case adminDisabled
    /// The dashboard's session cookie names no live session (unknown, expired, signed out, or
    /// opened with an admin key that has since changed).
    case sessionInvalid
    /// A request of a dashboard session without the session's CSRF token.
    case csrfInvalid
    case appExists
    case appHasUsers
    /// No active app with this id takes guests.
    case guestsDisabled
    /// Too many new guests: from this address this hour (`address`), of the app this hour (`app`) or today (`day`).
    case guestLimitReached(scope: String, retryAfter: Int64)
    /// The app's cap on new users per hour is reached.
    case appCapReached(retryAfter: Int64)

    // Proxy
    case providerNotFound
    case providerNotConfigured
    case invalidEndpoint(reason: String)
    case endpointNotAllowed
    case upstreamUnreachable
    case upstreamTimeout
    /// The provider answered with something the gateway's translation cannot read.
    case upstreamInvalid

    // The gateway (`/v1`)
    /// A `model` that names no provider (`provider/model`) and no alias.
    case modelNotFound(name: String)
    /// A `model` of a provider whose dialect `/v1` does not translate yet.
    case modelNotSupported(provider: String)
    /// A request field the provider's dialect cannot express (never dropped silently).
    case unsupportedParameter(name: String, reason: String)

    // BYOK and limits
    case byokDisabled
    case splitKeyNotFound
    case splitKeyInvalid
    case splitKeyRevoked
    case splitKeyWrongProvider
    case splitKeyExists
    case rateLimited(retryAfter: Int64, limit: Int64? = nil)
    /// A request quota or a token or cost budget is used up.
    case quotaExceeded(QuotaBreach, retryAfter: Int64)

    /// Well-formed but not acceptable (422), with its own code.
    case unprocessable(code: String, message: String)

    /// Something failed that the client cannot fix. The cause is logged, never sent.
    case internalError

    public var code: String {
        switch self {
        case .invalidInput(let input): input.kind == .constraint ? "validation_failed" : "invalid_request"
        case .malformedRequest: "malformed_request"
        case .invalidHost: "invalid_host"
        case .unsupportedMediaType: "unsupported_media_type"
        case .routeNotFound, .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .payloadTooLarge: "payload_too_large"
        case .headersTooLarge: "headers_too_large"
        case .corsForbidden: "cors_forbidden"
        case .ipForbidden: "ip_forbidden"
        case .httpsRequired: "https_required"
        case .tokenMissing: "token_missing"
        case .tokenMalformed: "token_malformed"
        case .tokenInvalidSignature: "token_invalid_signature"
        case .tokenExpired: "token_expired"
        case .tokenNotYetValid: "token_not_yet_valid"
        case .tokenInvalidIssuer: "token_invalid_issuer"
        case .tokenInvalidAudience: "token_invalid_audience"
        case .tokenRevoked: "token_revoked"
        case .userInactive: "user_inactive"
        case .invalidAppCredentials: "invalid_app_credentials"
        case .userAppConflict: "user_app_conflict"
        case .invalidRefreshToken: "invalid_refresh_token"
        case .refreshTokenExpired: "refresh_token_expired"
        case .refreshTokenRevoked: "refresh_token_revoked"
        case .refreshTokenAlreadyUsed: "refresh_token_already_used"
        case .refreshTokenReused: "refresh_token_reused"
        case .tokenRequiresDPoP: "token_requires_dpop"
        case .invalidDPoPProof, .invalidDPoPProofAtSignIn: "invalid_dpop_proof"
        case .adminKeyRequired: "admin_key_required"
        case .invalidAdminKey: "invalid_admin_key"
        case .adminLockedOut: "admin_locked_out"
        case .adminDisabled: "admin_disabled"
        case .sessionInvalid: "session_invalid"
        case .csrfInvalid: "csrf_invalid"
        case .appExists: "app_exists"
        case .appHasUsers: "app_has_users"
        case .guestsDisabled: "guests_disabled"
        case .guestLimitReached: "guest_limit_reached"
        case .appCapReached: "app_cap_reached"
        case .providerNotFound: "provider_not_found"
        case .upstreamInvalid: "upstream_invalid"
        case .modelNotFound: "model_not_found"
        case .modelNotSupported: "model_not_supported"
        case .unsupportedParameter: "unsupported_parameter"
        case .providerNotConfigured: "provider_not_configured"
        case .invalidEndpoint: "invalid_endpoint"
        case .endpointNotAllowed: "endpoint_not_allowed"
        case .upstreamUnreachable: "upstream_unreachable"
        case .upstreamTimeout: "upstream_timeout"
        case .byokDisabled: "byok_disabled"
        case .splitKeyNotFound: "split_key_not_found"
        case .splitKeyInvalid: "split_key_invalid"
        case .splitKeyRevoked: "split_key_revoked"
        case .splitKeyWrongProvider: "split_key_wrong_provider"
        case .splitKeyExists: "split_key_exists"
        case .rateLimited: "rate_limited"
        case .quotaExceeded(let breach, _): breach.scope == .app ? "app_quota_exceeded" : "quota_exceeded"
        case .internalError: "internal_error"
        case .unprocessable(let code, _): code
        }
    }

    public var message: String {
        switch self {
        case .invalidInput(let input): input.description
        case .malformedRequest: "The request could not be read."
        case .invalidHost: "An HTTP/1.1 request needs exactly one Host header."
        case .unsupportedMediaType: "The body must be JSON, sent with 'Content-Type: application/json'."
        case .routeNotFound: "No route matches this path."
        case .notFound(let what): "No such \(what)."
        case .methodNotAllowed(let allowed):
            "This path does not accept this method. Allowed: \(allowed.map(\.rawValue).joined(separator: ", "))."
        case .payloadTooLarge: "The request body is larger than the server accepts."
        case .headersTooLarge: "The request has too many headers, or too many bytes of them."
        case .corsForbidden: "This origin is not allowed to call the API."
        case .ipForbidden: "Requests from this address are not allowed."
        case .httpsRequired: "This server accepts only HTTPS."
        case .tokenMissing: "An access token is required: send 'Authorization: Bearer <token>'."
        case .tokenMalformed: "The access token is not a well-formed JWT."
        case .tokenInvalidSignature: "The access token's signature or algorithm is not valid."
        case .tokenExpired: "The access token has expired; refresh it."
        case .tokenNotYetValid: "The access token is not valid yet."
        case .tokenInvalidIssuer: "The access token was issued by someone else."
        case .tokenInvalidAudience: "The access token is meant for another audience."
        case .tokenRevoked: "The access token has been revoked; sign in again."
        case .userInactive: "This user has been deactivated."
        case .invalidAppCredentials: "The app id or app secret is not valid."
        case .userAppConflict: "This userId belongs to another app."
        case .invalidRefreshToken: "The refresh token is not valid."
        case .refreshTokenExpired: "The refresh token has expired; sign in again."
        case .refreshTokenRevoked: "The refresh token has been revoked; sign in again."
        case .refreshTokenAlreadyUsed: "The refresh token was just used; use the new one it returned."
        case .refreshTokenReused: "The refresh token was used before; every token of this sign-in is now revoked."
        case .tokenRequiresDPoP: "This access token is bound to a key: send it as 'Authorization: DPoP <token>' with a DPoP proof."
        case .invalidDPoPProof(let reason), .invalidDPoPProofAtSignIn(let reason): "The DPoP proof is not acceptable: \(reason)."
        case .adminKeyRequired: "This route needs the X-Admin-Key header."
        case .invalidAdminKey: "The admin key is not valid."
        case .adminLockedOut: "Too many wrong admin keys, from this address or in total; wrong keys are refused for now."
        case .adminDisabled: "Admin routes are disabled: the server has no ADMIN_API_KEY."
        case .sessionInvalid: "The dashboard session has ended (expired, signed out, or the admin key changed); sign in again."
        case .csrfInvalid: "This request of a dashboard session lacks the session's X-CSRF-Token header."
        case .appExists: "An app with this appId exists already."
        case .appHasUsers: "The app still has users: deactivate it, or delete its users first."
        case .guestsDisabled: "No active app with this id takes guests."
        case .appCapReached: "This app has reached its cap on new users for this hour."
        case .guestLimitReached(let scope, _):
            switch scope {
            case "address": "Too many new guests from this address this hour."
            case "app": "Too many new guests of this app this hour."
            default: "Too many new guests of this app today."
            }
        case .providerNotFound: "No such provider. GET /api/providers lists them."
        case .upstreamInvalid: "The provider's answer was not in the form its API documents, so it could not be translated."
        case .modelNotFound(let name): "No provider or alias named '\(name)'. GET /v1/models lists the models."
        case .unsupportedParameter(let name, let reason): "The field '\(name)' cannot be sent to this provider: \(reason)."
        case .modelNotSupported(let provider):
            "The models of '\(provider)' are not served on /v1 yet (their API is not OpenAI's); call them on /proxy/\(provider)."
        case .providerNotConfigured: "This provider has no key on the server; send a BYOK split key or ask the operator to configure it."
        case .invalidEndpoint(let reason): "The endpoint \(reason)."
        case .endpointNotAllowed: "This endpoint is not on the provider's allow-list. GET /api/{provider}/endpoints lists it."
        case .upstreamUnreachable: "The provider could not be reached."
        case .upstreamTimeout: "The provider did not answer in time."
        case .byokDisabled: "Split keys are disabled: the server has no BYOK_MASTER_KEY."
        case .splitKeyNotFound: "You have no split key with this id."
        case .splitKeyInvalid: "The split key could not be opened."
        case .splitKeyRevoked: "This split key has been deleted."
        case .splitKeyWrongProvider: "This split key belongs to another provider."
        case .splitKeyExists: "You already have a split key with this id."
        case .rateLimited: "Too many requests of this kind; try again later."
        case .quotaExceeded(let breach, _):
            "The \(breach.period == .day ? "daily" : "monthly") \(Self.metricName(breach)) is used up; it resets at \(APICoding.formatDate(breach.resetAt))."
        case .internalError: "The server failed to handle the request. Quote the request id when you report it."
        case .unprocessable(_, let message): message
        }
    }

    /// Seconds after which the same request may succeed, for limits and lockouts.
    public var retryAfter: Int64? {
        switch self {
        case .adminLockedOut(let seconds), .rateLimited(let seconds, _), .quotaExceeded(_, let seconds), .guestLimitReached(_, let seconds),
            .appCapReached(let seconds):
            seconds
        default: nil
        }
    }

    /// The standard error body (`Error` in the spec).
    public func body(requestId: String) -> APIError {
        var quota: QuotaBreach?
        if case .quotaExceeded(let breach, _) = self { quota = breach }
        return APIError(error: code, message: message, requestId: requestId, retryAfter: retryAfter, quota: quota)
    }

    private static func metricName(_ breach: QuotaBreach) -> String {
        let (owner, limit) =
            switch breach.scope {
            case .splitKey: ("split key's ", "budget")
            case .app: ("app's ", "cap")
            default: ("", "budget")
            }
        switch breach.metric {
        case .requests: return owner + "request " + (breach.scope == .app ? "cap" : "quota")
        case .tokens: return owner + "token " + limit
        case .costMicros: return owner + "cost " + limit
        }
    }
}
