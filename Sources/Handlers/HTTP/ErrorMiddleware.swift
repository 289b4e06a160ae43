public import Generated
public import Hummingbird
import Logging
import NIOHTTP1

/// Turns every thrown error into the standard JSON error body, so no route answers with
/// Hummingbird's own error format or an empty 500. Unknown errors are logged (type and
/// description, never the request body) and answered with `internal_error`. Refusals are counted
/// by reason (`BridgeMetrics.refused`).
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    /// Used to tell "no such path" (404) from "no such method on this path" (405).
    let routes: [RouteDescriptor]
    let metrics: BridgeMetrics

    public init(routes: [RouteDescriptor], metrics: BridgeMetrics) {
        self.routes = routes
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let appError = classify(error, request: request)
            metrics.refused(appError)
            if case .internalError = appError {
                context.logger.error(
                    "request failed",
                    metadata: [
                        "error.type": .string(String(reflecting: type(of: error))),
                        "error": .string(String(describing: error)),
                    ])
            }
            var response = appError.response(requestId: context.requestId, path: request.uri.path)
            // The framing is broken: nothing more can be read from this connection.
            if error is HTTPParserError { response.headers[.connection] = "close" }
            return response
        }
    }

    func classify(_ error: any Error, request: Request) -> AppError {
        switch error {
        case let error as AppError:
            return error
        case let error as InputError:
            return .invalidInput(error)
        case is UnsupportedMediaType:
            return .unsupportedMediaType
        case is HTTPParserError:
            // Malformed framing (a chunk size that is not hex, a Transfer-Encoding that is not
            // chunked): the client's fault, answered 400, not logged as the server's error.
            return .malformedRequest
        case let error as any HTTPResponseError:
            switch error.status {
            case .notFound: return notFound(request)
            case .contentTooLarge: return .payloadTooLarge
            case .badRequest: return .malformedRequest
            default: return .internalError
            }
        default:
            return .internalError
        }
    }

    /// 405 with the methods of the most specific matching paths (a literal segment beats a
    /// variable, as in the router: `/api/providers` answers GET only, not `/api/{provider}`'s POST).
    private func notFound(_ request: Request) -> AppError {
        let matching = routes.filter { $0.matches(path: request.uri.path) }
        let literalSegments: (RouteDescriptor) -> Int = { route in route.path.split(separator: "/").filter { !$0.hasPrefix("{") }.count }
        guard let best = matching.map(literalSegments).max() else { return .routeNotFound }
        var allowed = matching.filter { literalSegments($0) == best }.map(\.method)
        // HEAD is answered wherever GET is.
        if allowed.contains(.get) { allowed.append(.head) }
        return .methodNotAllowed(allowed: allowed)
    }
}
