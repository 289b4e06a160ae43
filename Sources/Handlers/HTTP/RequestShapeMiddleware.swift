import HTTPTypes
public import Hummingbird
import NIOCore

/// HEAD is answered wherever GET is (RFC 9110 §9.3.2): the router answers it with the GET route
/// (`autoGenerateHeadEndpoints`), and this, the outermost stage, drops the body of every HEAD
/// answer, errors included, keeping the status and headers GET would have. The body still runs,
/// into nothing, so that what it does besides writing happens as for GET (a proxied answer is
/// read to its end and its usage recorded).
public struct HeadMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .head else { return try await next(request, context) }
        let response = try await next(request, context)
        do {
            try await response.body.write(Discarding())
        } catch {
            // The body broke off (a provider's answer cut short): what GET would have been, a 502
            // of the bridge's, with the headers the inner stages set (request id, security).
            var headers = response.headers
            headers[.contentLength] = nil
            headers[.upstreamStatus] = nil
            headers[.overhead] = nil
            return Response(status: AppError.upstreamUnreachable.status, headers: headers)
        }
        return response.createHeadResponse()
    }

    struct Discarding: ResponseBodyWriter {
        func write(_ buffer: ByteBuffer) async throws {}
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// Paths are taken exactly as sent: an empty segment (`//`) or a trailing `/` is never
/// collapsed into another route. Under `/proxy/{provider}/` the rest of the path is the
/// endpoint, and the endpoint policy refuses it as it refuses the same string in a body (400
/// `invalid_endpoint`); anywhere else such a path is no route (404 `not_found`).
public struct PathShapeMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The request target as sent, before any parsing or routing.
        let target = request.head.path ?? "/"
        let path = target[..<(target.firstIndex(of: "?") ?? target.endIndex)]
        guard path == "/" || !(path.hasSuffix("/") || path.contains("//")) else {
            throw Self.refusal(path)
        }
        return try await next(request, context)
    }

    static func refusal(_ path: Substring) -> AppError {
        let proxy = "/proxy/"
        if path.hasPrefix(proxy) {
            let rest = path.dropFirst(proxy.count)
            if let slash = rest.firstIndex(of: "/"), slash > rest.startIndex,
                case .failure(let refusal) = EndpointPolicy.clean(String(rest[slash...]))
            {
                return .invalidEndpoint(reason: refusal.reason)
            }
        }
        return .routeNotFound
    }
}
