public import Hummingbird
import Tracing

/// One server span per request when tracing is on (`TRACING_ENDPOINT`), child of the client's
/// `traceparent` when it sends one (W3C Trace Context): named by the route, with the method, the
/// route, the status and the request id (OpenTelemetry's HTTP attribute names). The proxy's
/// stages open their spans inside it. With tracing off it is not installed.
public struct RequestTracingMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let tracer: RequestTracer

    public init(tracer: RequestTracer) {
        self.tracer = tracer
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // No route: the method alone names it (a path is the client's text, without bound).
        let route = context.operationId == nil ? nil : context.endpointPath
        return try await tracer.withSpan(
            route.map { "\(request.method.rawValue) \($0)" } ?? request.method.rawValue, context: tracer.context(from: request.headers),
            kind: .server
        ) { span in
            span.attributes["http.request.method"] = request.method.rawValue
            if let route { span.attributes["http.route"] = route }
            span.attributes["url.path"] = request.uri.path
            span.attributes["safeapi.request_id"] = context.requestId
            if let operation = context.operationId { span.attributes["safeapi.operation"] = operation }
            let response = try await next(request, context)
            span.attributes["http.response.status_code"] = Int(response.status.code)
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        }
    }
}
