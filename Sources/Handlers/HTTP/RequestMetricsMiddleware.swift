public import Hummingbird

/// Counts every answered request by its operation and status (`safeapi_http_requests_total`).
/// Placed outside every stage that can answer, so refusals at the edge are counted too.
public struct RequestMetricsMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let metrics: BridgeMetrics

    public init(metrics: BridgeMetrics) {
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.request(operation: context.operationId, status: Int(response.status.code))
            return response
        } catch {
            // Below `ErrorMiddleware` nothing escapes; above it, what does becomes a 500.
            metrics.request(operation: context.operationId, status: 500)
            throw error
        }
    }
}
