import Generated
import Handlers
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Everything the application is made of, assembled in one place; tests call it directly.
/// `config.jwtSecret` must be set (`Serve` generates one in development).
func buildApplication(config: AppConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let database = try await DatabaseFactory.open(config.database, logger: logger)
    let parts = try await AppParts(config: config, database: database, logger: logger)
    let (settings, revocations, tokenStore, userStore) = (parts.settings, parts.revocations, parts.tokenStore, parts.userStore)
    var app = Application(
        router: buildRouter(api: parts.api, security: parts.authenticator),
        server: .http1(configuration: .init(idleTimeout: TimeAmount.nanoseconds(Int64(config.requestTimeout.components.seconds) * 1_000_000_000))),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        services: [DatabaseService(database: database)] + parts.services(logger: logger),
        logger: logger
    )
    app.beforeServerStarts {
        let report = try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
        try await revocations.reload(from: tokenStore, users: userStore)
        logger.info("database ready", metadata: [
            "database": .string(config.database.description),
            "schema.version": .stringConvertible(report.current),
        ])
        if settings.adminAPIKey == nil { logger.notice("ADMIN_API_KEY is not set: admin routes answer 503 admin_disabled") }
        if settings.allowAnonymousTokens { logger.warning("AUTH_ALLOW_ANONYMOUS_TOKENS=true: anyone can get a token for any user. Development only.") }
    }
    return app
}

/// The long-lived parts over one database, shared by the server and the tests.
struct AppParts {
    let settings: AuthSettings
    let revocations: RevocationList
    let tokenStore: TokenStore
    let userStore: UserStore
    let api: BridgeAPI
    let authenticator: Authenticator
    let network: HTTPUpstream
    let usage: UsageRecorder

    /// The long-lived services over the database, in start order; shutdown runs in reverse, after
    /// the HTTP server has drained: usage is flushed, the upstream client closed.
    func services(logger: Logger) -> [any Service] {
        [
            RevocationSync(list: revocations, tokens: tokenStore, users: userStore, interval: settings.revocationSyncInterval, logger: logger),
            network,
            usage,
        ]
    }

    init(config: AppConfig, database: any Database, logger: Logger, upstream: (any Upstream)? = nil) async throws {
        guard let jwtSecret = config.jwtSecret else { throw ConfigError(reason: "JWT_SECRET is not set") }
        settings = config.authSettings(jwtSecret: jwtSecret)
        let tokenService = await TokenService(settings: settings)
        revocations = RevocationList()
        tokenStore = TokenStore(database: database)
        userStore = UserStore(database: database)
        let auth = AuthService(database: database, tokenService: tokenService, revocations: revocations, settings: settings, logger: logger)
        network = HTTPUpstream(readTimeout: config.upstreamReadTimeout)
        usage = UsageRecorder(database: database, logger: logger)
        let splitKeys = SplitKeyService(
            database: database, vault: config.byokMasterKey.flatMap { KeyVault(masterKey: $0.value) }, registry: config.providers,
            splitsPerMinute: config.byokSplitsPerMinute, logger: logger
        )
        let proxy = ProxyService(registry: config.providers, network: upstream ?? network, usage: usage, deadline: config.upstreamTimeout, logger: logger, splitKeys: splitKeys, quotas: QuotaLedger(database: database))
        api = BridgeAPI(database: database, auth: auth, proxy: proxy, splitKeys: splitKeys, logger: logger, readinessTimeout: config.readinessTimeout)
        authenticator = Authenticator(tokens: tokenService, revocations: revocations, adminGuard: AdminGuard(adminKey: settings.adminAPIKey, logger: logger))
    }
}

/// The middleware, in the order a request passes through it, then the spec's routes (each
/// authenticated by `security` as the spec says, before its input is read).
///
/// The whole path of a proxied request, in order (DESIGN.md, "The proxy pipeline"):
///  1. `RequestIDMiddleware`: the request id, on the logger and the response
///  2. `AccessLogMiddleware`: one redacted line per request (path, status, duration)
///  3. `ErrorMiddleware`: every thrown error becomes the standard JSON error (404/405 too)
///  4. generated route: `Authenticator` (JWT from memory, revocation list in memory, no DB)
///  5. generated route: input decoding (400 on malformed input)
///  6. `ProxyService.forward`: provider, `EndpointPolicy`, key (server's, or the caller's
///     split key via `SplitKeyService`: the one DB read, only for BYOK), upstream call streamed
///     both ways, `UsageMeter` on the passing bytes, `UsageRecorder` (batched, off the path)
/// Still to come (issue 6): security headers, CORS, HTTPS policy, body and connection limits, IP
/// rules and rate limits before step 4, and quota admission in step 6 right before the call.
func buildRouter(api: BridgeAPI, security: Authenticator) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ErrorMiddleware(routes: RouteTable.all))
    api.registerRoutes(on: router, security: security)
    return router
}
