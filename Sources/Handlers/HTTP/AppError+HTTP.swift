import Generated
public import Hummingbird

/// The HTTP side of the bridge's errors: the status of each, and the response with the headers a
/// client needs to act on it.
extension AppError {
    public var status: HTTPResponse.Status {
        switch self {
        case .invalidInput, .malformedRequest, .invalidHost: .badRequest
        case .unsupportedMediaType: .unsupportedMediaType
        case .routeNotFound, .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .payloadTooLarge: .contentTooLarge
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .corsForbidden, .ipForbidden, .httpsRequired: .forbidden
        case .tokenMissing, .tokenMalformed, .tokenInvalidSignature, .tokenExpired, .tokenNotYetValid,
            .tokenInvalidIssuer, .tokenInvalidAudience, .tokenRevoked, .invalidAppCredentials,
            .invalidRefreshToken, .refreshTokenExpired, .refreshTokenRevoked, .refreshTokenAlreadyUsed,
            .refreshTokenReused, .adminKeyRequired, .invalidAdminKey, .tokenRequiresDPoP, .invalidDPoPProof:
            .unauthorized
        case .invalidDPoPProofAtSignIn: .badRequest
        case .userInactive: .forbidden
        case .userAppConflict, .appExists, .appHasUsers: .conflict
        case .guestsDisabled: .unauthorized
        case .guestLimitReached, .appCapReached: .tooManyRequests
        case .providerNotFound, .modelNotFound: .notFound
        case .modelNotSupported, .unsupportedParameter: .badRequest
        case .providerNotConfigured: .serviceUnavailable
        case .invalidEndpoint: .badRequest
        case .endpointNotAllowed: .forbidden
        case .upstreamUnreachable, .upstreamInvalid: .badGateway
        case .upstreamTimeout: .gatewayTimeout
        case .byokDisabled: .serviceUnavailable
        case .splitKeyNotFound: .notFound
        case .splitKeyInvalid, .splitKeyRevoked: .unauthorized
        case .splitKeyWrongProvider: .forbidden
        case .splitKeyExists: .conflict
        case .rateLimited, .quotaExceeded: .tooManyRequests
        case .adminLockedOut: .tooManyRequests
        case .adminDisabled: .serviceUnavailable
        case .sessionInvalid: .unauthorized
        case .csrfInvalid: .forbidden
        case .internalError: .internalServerError
        case .unprocessable: .unprocessableContent
        }
    }

    /// The response: the standard body (OpenAI's error shape on the gateway's `path`s, so the
    /// OpenAI SDKs raise their typed errors) plus the headers a client needs to act on it.
    public func response(requestId: String, path: String) -> Response {
        let encoded =
            Self.isGateway(path)
            ? try? APIResponse.json(gatewayBody(requestId: requestId), status: status)
            : try? APIResponse.json(body(requestId: requestId), status: status)
        var response = encoded ?? Response(status: status)
        if case .methodNotAllowed(let allowed) = self {
            response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        }
        if let retryAfter {
            response.headers[.retryAfter] = String(retryAfter)
        }
        switch self {
        case .quotaExceeded(let breach, let seconds):
            LimitStanding(limit: breach.limit, remaining: 0, resetSeconds: seconds).write(to: &response.headers)
        case .rateLimited(let seconds, let limit?):
            LimitStanding(limit: limit, remaining: 0, resetSeconds: seconds).write(to: &response.headers)
        default:
            break
        }
        switch self {
        case .tokenRequiresDPoP:
            response.headers[.wwwAuthenticate] = "DPoP error=\"invalid_token\", algs=\"\(DPoPVerifier.algorithms.joined(separator: " "))\""
        case .invalidDPoPProof:
            response.headers[.wwwAuthenticate] =
                "DPoP error=\"invalid_dpop_proof\", algs=\"\(DPoPVerifier.algorithms.joined(separator: " "))\""
        default:
            if status == .unauthorized, code.hasPrefix("token_") {
                response.headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\""
            }
        }
        return response
    }

    /// The gateway's paths: `/v1` and below.
    static func isGateway(_ path: String) -> Bool { path == "/v1" || path.hasPrefix("/v1/") }

    /// The error in OpenAI's shape (`GatewayError` in the spec): the type by status, our code, and
    /// the request field at fault.
    func gatewayBody(requestId: String) -> GatewayError {
        let type = GatewayErrorDetail.TypeValue(rawValue: OpenAIChat.errorType(status: Int(status.code))) ?? .apiError
        var param: String?
        switch self {
        case .invalidInput(let input) where input.location == .body && !input.name.isEmpty: param = input.name
        case .modelNotFound, .modelNotSupported: param = "model"
        case .unsupportedParameter(let name, _): param = name
        default: break
        }
        let standard = body(requestId: requestId)
        return GatewayError(
            error: GatewayErrorDetail(message: message, type: type, code: code, param: param), requestId: requestId,
            retryAfter: standard.retryAfter, quota: standard.quota)
    }
}
