public import Hummingbird
import Logging

/// One log line per request: method, path (never the query, which may carry secrets), status
/// and duration. Headers and bodies are never logged.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let micros = (ContinuousClock.now - start).microseconds
        context.logger.info(
            "request",
            metadata: [
                "http.method": .string(request.method.rawValue),
                "http.path": .string(request.uri.path),
                "http.status": .stringConvertible(response.status.code),
                "duration_us": .stringConvertible(micros),
            ])
        return response
    }
}
