import Foundation
public import Generated
import HTTPTypes
public import Hummingbird
import Logging

/// Resolves the client's address once, for every later stage (limits, IP rules, logs).
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let resolver: ClientAddressResolver

    public init(resolver: ClientAddressResolver) {
        self.resolver = resolver
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let forwarded = request.headers[values: .xForwardedFor]
        let resolved = resolver.resolve(peer: context.peerIP, forwardedFor: forwarded)
        context.clientIP = resolved.address
        context.authority = request.head.authority ?? request.headers[HTTPField.Name("Host")!]
        if resolved.peerTrusted {
            context.forwardedHTTPS =
                request.headers[.xForwardedProto]?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        }
        context.logger[metadataKey: "client.ip"] = .string(resolved.address)
        return try await next(request, context)
    }
}

/// Security headers on every response, errors and streams included; `Cache-Control: no-store`
/// on the operations that carry credentials, keys or per-user data (`x-no-store` in the spec).
public struct SecurityHeadersMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    static let fixed: [(HTTPField.Name, String)] = [
        (.strictTransportSecurity, "max-age=31536000; includeSubDomains"),
        (.xContentTypeOptions, "nosniff"),
        (.xFrameOptions, "DENY"),
        (.referrerPolicy, "no-referrer"),
        (.contentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        (.crossOriginOpenerPolicy, "same-origin"),
    ]

    /// The dashboard's pages load their own script and style sheet and call the API, nothing else.
    static let dashboardPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for (name, value) in Self.fixed { response.headers[name] = value }
        if request.uri.path == "/dashboard" || request.uri.path.hasPrefix("/dashboard/") {
            response.headers[.contentSecurityPolicy] = Self.dashboardPolicy
        }
        if context.policy.noStore { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// Browser origins (`ALLOWED_ORIGINS`). An allowed origin gets the CORS headers, and its
/// preflight is answered here; any other origin gets 403 `cors_forbidden`. A request without
/// `Origin` (apps, servers) passes unless `ALLOW_MOBILE_NO_ORIGIN=false`. `/health` is exempt.
public struct CORSMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let origins: [OriginPattern]
    let allowNoOrigin: Bool
    let metrics: BridgeMetrics
    /// The bridge's own origin, and the operations its dashboard calls, which its pages may call
    /// from that origin without it being in `ALLOWED_ORIGINS`.
    let own: RequestOrigin
    let dashboardOperations: Set<String>

    public init(origins: [OriginPattern], allowNoOrigin: Bool, metrics: BridgeMetrics, own: RequestOrigin, routes: [RouteDescriptor]) {
        self.origins = origins
        self.allowNoOrigin = allowNoOrigin
        self.metrics = metrics
        self.own = own
        self.dashboardOperations = Set(
            routes.filter { $0.security.contains("dashboardSession") || $0.path.hasPrefix("/dashboard") }.map(\.operationId))
    }

    static let allowedHeaders = "Authorization, Content-Type, X-Partial-Key-Id, X-Partial-Key, X-Request-Id"
    static let allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    static let exposedHeaders =
        "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Safeapi-Upstream-Status, X-Safeapi-Overhead-Us, X-Safeapi-Provider, X-Safeapi-Model, X-Safeapi-Attempts"

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !EdgePolicy.isProbe(request.uri.path) else { return try await next(request, context) }
        guard let origin = request.headers[.origin] else {
            guard allowNoOrigin else { return refuse(request, context, reason: "origin_missing") }
            return try await next(request, context)
        }
        // The dashboard's calls from the bridge's own origin: a browser sends `Origin` on their POSTs too.
        if let operation = context.operationId, dashboardOperations.contains(operation),
            Self.sameOrigin(origin, own.url("", context: context))
        {
            return try await next(request, context)
        }
        guard origins.contains(where: { $0.matches(origin) }) else { return refuse(request, context, reason: "origin_not_allowed") }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = Self.allowedMethods
            headers[.accessControlAllowHeaders] = Self.allowedHeaders
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        response.headers[.vary] = "Origin"
        return response
    }

    /// Whether two origins are one (`scheme://host[:port]`): the same scheme, host (any case) and
    /// port, a default port written or not. The bridge's own is `PUBLIC_URL`'s when set (then a
    /// name pointed at the bridge by DNS rebinding is not its origin), else the scheme the client
    /// used and the `Host` it sent.
    static func sameOrigin(_ origin: String, _ own: String) -> Bool {
        func normal(_ text: String) -> String? {
            guard let separator = text.range(of: "://") else { return nil }
            let scheme = text[..<separator.lowerBound].lowercased()
            var authority = text[separator.upperBound...].prefix { $0 != "/" }.lowercased()
            if scheme == "https", authority.hasSuffix(":443") { authority.removeLast(4) }
            if scheme == "http", authority.hasSuffix(":80") { authority.removeLast(3) }
            return authority.isEmpty ? nil : scheme + "://" + authority
        }
        guard let origin = normal(origin), let own = normal(own) else { return false }
        return origin == own
    }

    private func refuse(_ request: Request, _ context: Context, reason: String) -> Response {
        context.logger.info("security: origin refused", metadata: ["security.event": "cors_forbidden", "reason": .string(reason)])
        metrics.refused(.corsForbidden)
        return AppError.corsForbidden.response(requestId: context.requestId, path: request.uri.path)
    }
}

/// Production without native TLS: a request must have come over HTTPS through a trusted proxy.
/// Otherwise a GET or HEAD is redirected (308) to the same path under `PUBLIC_URL` (never built
/// from `Host`), and anything else gets 403 `https_required`. `/health` is exempt.
public struct HTTPSPolicyMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let publicURL: String?

    public init(publicURL: String?) {
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !context.forwardedHTTPS, !EdgePolicy.isProbe(request.uri.path) else { return try await next(request, context) }
        context.logger.info("security: plain HTTP refused", metadata: ["security.event": "https_required"])
        if let publicURL, request.method == .get || request.method == .head {
            var target = publicURL + request.uri.path
            if let query = request.uri.query, !query.isEmpty { target += "?" + query }
            return Response(status: .permanentRedirect, headers: [.location: target])
        }
        throw AppError.httpsRequired
    }
}

/// IP allow and deny rules, from memory, on every route but `/health`.
public struct IPRuleMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let rules: IPRuleSet

    public init(rules: IPRuleSet) {
        self.rules = rules
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !EdgePolicy.isProbe(request.uri.path) {
            let verdict = rules.verdict(for: context.clientIP)
            if verdict != .pass {
                context.logger.warning(
                    "security: address refused by an IP rule",
                    metadata: [
                        "security.event": .string(verdict == .denied ? "ip_denied" : "ip_not_allowed")
                    ])
                throw AppError.ipForbidden
            }
        }
        return try await next(request, context)
    }
}

/// Header count and size (431), the `Host` header (400, marked by `HTTP1HostCheck`), the declared
/// body size (413) and the body limit for readers.
public struct RequestLimitsMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    let maxHeaderCount: Int

    public init(maxBodyBytes: Int, maxHeaderBytes: Int, maxHeaderCount: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var bytes = 0
        var count = 0
        for field in request.headers {
            count += 1
            bytes += field.name.rawName.utf8.count + field.value.utf8.count + 4
        }
        guard count <= maxHeaderCount, bytes <= maxHeaderBytes else { throw AppError.headersTooLarge }
        if request.headers[.invalidHost] != nil { throw AppError.invalidHost }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes { throw AppError.payloadTooLarge }
        var context = context
        context.maxBodyBytes = maxBodyBytes
        return try await next(request, context)
    }
}

/// The per-address limits on the operations that count against one (`x-rate-limit` in the spec:
/// `address` on the `/api` and `/proxy` routes, `auth` on signing in, each its own count), with
/// `RateLimit-*` on every answer there, errors included: it sits outside `ErrorMiddleware` and
/// answers its own refusal.
public struct RateLimitMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let limiters: [RateLimitClass: RateLimiter]
    let metrics: BridgeMetrics

    /// A class without a limiter is not limited.
    public init(limiters: [RateLimitClass: RateLimiter], metrics: BridgeMetrics) {
        self.limiters = limiters
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let limit = context.policy.rateLimit, let limiter = limiters[limit] else { return try await next(request, context) }
        let decision = limiter.admit(context.clientIP)
        guard decision.allowed else {
            context.logger.info(
                "security: rate limit hit",
                metadata: ["security.event": "rate_limited", "limit.scope": .string(limit == .auth ? "ip_auth" : "ip")])
            let refusal = AppError.rateLimited(retryAfter: decision.standing.resetSeconds, limit: decision.standing.limit)
            metrics.refused(refusal)
            return refusal.response(requestId: context.requestId, path: request.uri.path)
        }
        var response = try await next(request, context)
        decision.standing.write(to: &response.headers)
        return response
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
}
