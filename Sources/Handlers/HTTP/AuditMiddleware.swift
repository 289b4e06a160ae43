import Generated
public import Hummingbird
import Logging
import Synchronization

/// Writes one audit entry for every call of an operation the spec marks `x-audit-action` (admin
/// mutations and split-key operations), whether it succeeds or fails, once its actor is known (a
/// request refused before authentication is in the security log, not here). The entry is written
/// before the response leaves, so an answered mutation is always in the log; if the write fails,
/// the failure is logged as an error.
public struct AuditMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let log: AuditLog

    public init(log: AuditLog) {
        self.log = log
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The operations marked `x-audit-action` in the spec.
        guard let action = context.policy.auditAction else { return try await next(request, context) }
        let trail = AuditTrail()
        do {
            let response = try await AuditTrail.$current.withValue(trail) { try await next(request, context) }
            await write(trail, action: action, request: request, context: context, status: response.status.code, error: nil)
            return response
        } catch {
            let code = (error as? AppError)?.code ?? (error as? InputError).map { AppError.invalidInput($0).code } ?? "internal_error"
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
