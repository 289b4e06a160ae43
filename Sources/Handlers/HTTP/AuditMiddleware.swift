public import Generated
public import Hummingbird
import Logging
import Synchronization

/// Writes one audit entry for every admin mutation and every split-key operation, whether it
/// succeeds or fails, once its actor is known (a request refused before authentication is in the
/// security log, not here). The entry is written before the response leaves, so an answered
/// mutation is always in the log; if the write fails, the failure is logged as an error.
public struct AuditMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let log: AuditLog
    let audited: [(route: RouteDescriptor, action: String)]

    /// The action name of each audited operation.
    public static let actions: [String: String] = [
        "createApp": "app.create", "updateApp": "app.update", "deleteApp": "app.delete", "rotateAppSecret": "app.rotate_secret",
        "updateUser": "user.update", "deleteUser": "user.delete",
        "createIPRule": "ip_rule.create", "updateIPRule": "ip_rule.update", "deleteIPRule": "ip_rule.delete",
        "adminDeleteSplitKey": "split_key.admin_delete",
        "createSplitKey": "split_key.create", "updateSplitKey": "split_key.update", "deleteSplitKey": "split_key.delete",
        "rotateSplitKey": "split_key.rotate", "validateSplitKey": "split_key.validate",
        "createWebhook": "webhook.create", "updateWebhook": "webhook.update", "deleteWebhook": "webhook.delete",
        "rotateWebhookSecret": "webhook.rotate_secret", "testWebhook": "webhook.test",
    ]

    public init(log: AuditLog, routes: [RouteDescriptor]) {
        self.log = log
        self.audited = routes.compactMap { route in Self.actions[route.operationId].map { (route, $0) } }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        // Every audited operation changes something: reads (and the proxy's GETs) skip the lookup.
        guard request.method != .get, request.method != .head, !path.hasPrefix("/proxy/"),
            let action = audited.first(where: { $0.route.method == request.method && $0.route.matches(path: path) })?.action
        else {
            return try await next(request, context)
        }
        let trail = AuditTrail()
        do {
            let response = try await AuditTrail.$current.withValue(trail) { try await next(request, context) }
            await write(trail, action: action, request: request, context: context, status: response.status.code, error: nil)
            return response
        } catch {
            let code = (error as? AppError)?.code ?? (error is InputError ? "invalid_request" : "internal_error")
            await write(trail, action: action, request: request, context: context, status: nil, error: code)
            throw error
        }
    }

    private func write(_ trail: AuditTrail, action: String, request: Request, context: Context, status: Int?, error: String?) async {
        let details = trail.details.withLock { $0 }
        guard let actorType = details.actorType, let actorId = details.actorId else { return }
        let success = error == nil && (status ?? 500) < 400
        let draft = AuditLog.Draft(
            actorType: actorType, actorId: actorId, action: action, target: details.target ?? request.uri.path,
            before: details.before, after: success ? details.after : nil, ip: context.clientIP, userAgent: request.headers[.userAgent],
            requestId: context.requestId, success: success, error: error ?? (success ? nil : "http_\(status ?? 500)")
        )
        do {
            try await log.append(draft)
        } catch {
            context.logger.error(
                "audit entry could not be written",
                metadata: ["audit.action": .string(action), "error.type": .string(String(reflecting: type(of: error)))])
        }
    }
}
