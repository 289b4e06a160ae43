public import Generated
public import Hummingbird

/// Finds the request's operation in the route table and puts its id and policy (the spec's
/// `x-audit-action`, `x-no-store`, `x-rate-limit`) on the context for the stages after it. The
/// router has matched the route before any router middleware runs, so this is one dictionary
/// lookup by the matched route; a path no route matches gets the empty policy.
public struct RoutePolicyMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let index: RouteIndex

    public init(routes: [RouteDescriptor]) {
        index = RouteIndex(routes)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = index.route(endpointPath: context.endpointPath, method: request.method) else {
            return try await next(request, context)
        }
        var context = context
        context.policy = route.policy
        context.operationId = route.operationId
        return try await next(request, context)
    }
}
