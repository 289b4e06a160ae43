public import Generated
public import Hummingbird

/// Every error the bridge itself answers with, mapped to its status and stable code in one place.
public enum AppError: Error, Sendable, Equatable {
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
    /// Something failed that the client cannot fix. The cause is logged, never sent.
    case internalError

    public var status: HTTPResponse.Status {
        switch self {
        case .invalidInput, .malformedRequest: .badRequest
        case .routeNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .payloadTooLarge: .contentTooLarge
        case .internalError: .internalServerError
        }
    }

    public var code: String {
        switch self {
        case .invalidInput: "invalid_request"
        case .malformedRequest: "malformed_request"
        case .routeNotFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .payloadTooLarge: "payload_too_large"
        case .internalError: "internal_error"
        }
    }

    public var message: String {
        switch self {
        case .invalidInput(let input): input.description
        case .malformedRequest: "The request could not be read."
        case .routeNotFound: "No route matches this path."
        case .methodNotAllowed(let allowed):
            "This path does not accept this method. Allowed: \(allowed.map(\.rawValue).joined(separator: ", "))."
        case .payloadTooLarge: "The request body is larger than the server accepts."
        case .internalError: "The server failed to handle the request. Quote the request id when you report it."
        }
    }

    /// The standard error body (`Error` in the spec).
    public func body(requestId: String) -> APIError {
        APIError(error: code, message: message, requestId: requestId)
    }

    /// The response: the standard body plus the headers a client needs to act on it.
    public func response(requestId: String) -> Response {
        var response = (try? APIResponse.json(body(requestId: requestId), status: status)) ?? Response(status: status)
        if case .methodNotAllowed(let allowed) = self {
            response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        }
        return response
    }
}
