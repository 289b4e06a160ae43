import Generated
import Handlers
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import OTel
import ServiceLifecycle

/// Everything the application is made of, assembled in one place; tests call it directly.
/// `config.jwtSecret` must be set (`Serve` generates one in development).
func buildApplication(config: AppConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let database = try await DatabaseFactory.open(config.database, logger: logger)
    let tracing = try tracingBackend(config)
    let parts = try await AppParts(config: config, database: database, logger: logger, tracer: tracing.tracer)
    let (revocations, tokenStore, userStore) = (parts.revocations, parts.tokenStore, parts.userStore)
    var app = Application(
        router: buildRouter(
            api: parts.api, security: parts.authenticator, edge: config.edge, ipRules: parts.ipRules, tracer: tracing.tracer),
        server: try serverBuilder(config),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        // The span exporter first, so that it stops last, after the server and the writers.
        services: tracing.services + [DatabaseService(database: database)] + parts.services(logger: logger)
            + metricsListener(config, parts.metrics, logger),
        logger: logger
    )
    app.beforeServerStarts {
        let report = try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
        try await revocations.reload(from: tokenStore, users: userStore)
        try await parts.ipRules.reload(from: parts.ipRuleStore)
        try await parts.appCaps.reload()
        parts.migrated.open()
        logger.info(
            "database ready",
            metadata: [
                "database": .string(config.database.description),
                "schema.version": .stringConvertible(report.current),
            ])
        if !report.unknown.isEmpty { logger.warning("\(MigrationFindings.newer(report.unknown))") }
        // What `check-config` reports about the settings (the secrets are set by now).
        for finding in ConfigReport.findings(config) {
            logger.log(level: finding.level == .notice ? .notice : .warning, "\(finding.message)")
        }
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
    let ipRules: IPRuleSet
    let ipRuleStore: IPRuleStore
    let ipRulesSyncInterval: Duration
    let appCaps: AppCapLedger
    let appCapsSyncInterval: Duration
    let quotas: QuotaLedger
    let retention: UsageRetention
    let webhookWorker: WebhookWorker
    let metrics: BridgeMetrics
    /// Opened by `buildApplication` once the migrations have run.
    let migrated = StartupGate()

    /// The long-lived services over the database, in start order; shutdown runs in reverse, after
    /// the HTTP server has drained: usage is flushed, the upstream client closed, the unused
    /// leased quota given back. The background jobs over the tables start once the migrations
    /// have run.
    func services(logger: Logger) -> [any Service] {
        let jobs: [any Service] = [
            RevocationSync(
                list: revocations, tokens: tokenStore, users: userStore, interval: settings.revocationSyncInterval, logger: logger),
            // The first copies are loaded before the server serves (`buildApplication`); these keep them fresh.
            PeriodicJob(every: ipRulesSyncInterval, logger: logger, failure: "IP rules reload failed; keeping the previous ones") {
                [ipRules, ipRuleStore] _ in try await ipRules.reload(from: ipRuleStore)
            },
            PeriodicJob(every: appCapsSyncInterval, logger: logger, failure: "app caps reload failed; keeping the previous ones") {
                [appCaps] _ in try await appCaps.reload()
            },
            retention,
            webhookWorker,
        ]
        return [OnShutdown { [quotas] in await quotas.returnLeases() }] + jobs.map { AfterStartup(gate: migrated, service: $0) } + [
            network, usage,
        ]
    }

    /// Every store, service and worker is built here, once, and handed to what uses it.
    init(config: AppConfig, database: any Database, logger: Logger, upstream: (any Upstream)? = nil, tracer: RequestTracer = .none)
        async throws
    {
        guard let jwtSecret = config.jwtSecret else { throw ConfigError(reason: "JWT_SECRET is not set") }
        settings = config.authSettings(jwtSecret: jwtSecret)
        let metrics = BridgeMetrics(
            models: Dictionary(config.providers.providers.map { ($0.id, Set($0.definition.prices.keys)) }) { first, _ in first })
        self.metrics = metrics
        let database = MeteredDatabase(database, metrics: metrics)
        // The stores, one of each.
        let appStore = AppStore(database: database)
        tokenStore = TokenStore(database: database)
        userStore = UserStore(database: database)
        let splitKeyStore = SplitKeyStore(database: database)
        ipRuleStore = IPRuleStore(database: database)
        let webhookStore = WebhookStore(database: database)
        let analytics = AnalyticsStore(database: database)
        let events = WebhookEvents(store: webhookStore, metrics: metrics, logger: logger)
        quotas = QuotaLedger(database: database, users: userStore, events: events, leaseLifetime: config.quotaLeaseLifetime)
        appCaps = AppCapLedger(database: database, apps: appStore, events: events)
        appCapsSyncInterval = config.appCapsSyncInterval

        let tokenService = await TokenService(settings: settings)
        let origin = RequestOrigin(publicURL: config.edge.publicURL, tls: config.tlsCertFile != nil)
        let dpop = DPoPVerifier(database: database)
        revocations = RevocationList()
        let auth = AuthService(
            database: database, apps: appStore, users: userStore, tokens: tokenStore, events: events, tokenService: tokenService,
            identity: IdentityVerifier(
                keySets: IdentityKeySets(
                    fetcher: HTTPDocumentFetcher(allowInsecure: settings.identityAllowInsecure),
                    refetchInterval: settings.identityKeysRefetchInterval)),
            dpop: dpop, revocations: revocations, settings: settings, logger: logger
        )
        network = HTTPUpstream(
            readTimeout: config.upstreamReadTimeout, connectTimeout: config.upstreamConnectTimeout,
            maximumConnectionsPerHost: config.upstreamMaxConnections)
        usage = UsageRecorder(database: database, followers: [splitKeyStore, appCaps, quotas], metrics: metrics, logger: logger)
        let splitKeys = SplitKeyService(
            store: splitKeyStore, events: events, vault: config.byokMasterKey.flatMap { KeyVault(masterKey: $0.value) },
            registry: config.providers,
            splitsPerMinute: config.byokSplitsPerMinute, logger: logger
        )
        let userLimiter =
            config.edge.userRateLimit > 0 ? RateLimiter(limit: config.edge.userRateLimit, window: config.edge.userRateWindow) : nil
        let proxy = ProxyService(
            registry: config.providers, keys: KeyResolver(splitKeys: splitKeys),
            admission: Admission(quotas: quotas, appCaps: appCaps, userLimiter: userLimiter, logger: logger),
            network: upstream ?? network, deadline: config.upstreamTimeout, usage: usage, events: events, metrics: metrics, tracer: tracer,
            logger: logger,
            gatewayRetry: config.gatewayRetry
        )
        ipRules = IPRuleSet()
        ipRulesSyncInterval = config.ipRulesSyncInterval
        retention = UsageRetention(store: analytics, days: config.usageRetentionDays, logger: logger)
        let webhookCrypto = WebhookCrypto(jwtSecret: jwtSecret)
        let guardrail = WebhookURLGuard(httpsOnly: config.isProduction, allowPrivate: config.webhookAllowPrivate)
        let webhooks = WebhookService(store: webhookStore, crypto: webhookCrypto, guardrail: guardrail, events: events)
        webhookWorker = WebhookWorker(
            store: webhookStore, crypto: webhookCrypto, guardrail: guardrail, pollInterval: config.webhookPollInterval,
            retryBase: config.webhookRetryBase, metrics: metrics, logger: logger)
        let adminGuard = AdminGuard(adminKey: settings.adminAPIKey, logger: logger)
        let sessions = AdminSessions(database: database, guardian: adminGuard, jwtSecret: jwtSecret)
        api = BridgeAPI(
            database: database, auth: auth, apps: appStore, users: userStore, quotas: quotas, appCaps: appCaps, proxy: proxy,
            splitKeys: splitKeys,
            webhooks: webhooks,
            ipRules: ipRules, ipRuleStore: ipRuleStore, auditLog: AuditLog(database: database), analytics: analytics, metrics: metrics,
            sessions: sessions, logger: logger,
            origin: origin,
            readinessTimeout: config.readinessTimeout
        )
        // Sampled when the metrics are printed.
        metrics.sample { [weak usage] metrics in metrics.usageQueue(depth: usage?.depth ?? 0) }
        metrics.sample { [logger] metrics in
            do {
                metrics.webhookOutbox(pending: try await webhookStore.pendingCount())
            } catch {
                logger.warning(
                    "the webhook outbox could not be counted", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
            }
        }
        authenticator = Authenticator(
            tokens: tokenService, revocations: revocations, adminGuard: adminGuard, sessions: sessions, dpop: dpop, origin: origin)
    }
}

/// The middleware, in the order a request passes through it, then the spec's routes (each
/// authenticated by `security` as the spec says, before its input is read).
///
/// The whole path of a proxied request, in order (DESIGN.md, "The proxy pipeline"). Before any
/// of it, on the connection: the connection cap (in total and per address), the head and body
/// deadlines, the idle timeout, the `Host` check (`HTTP1HostCheck`).
///  0. `RoutePolicyMiddleware`: the matched operation's id and policy from the spec (`x-no-store`,
///     `x-rate-limit`, `x-audit-action`), read by the stages below
///     `RequestMetricsMiddleware`: every answer counted by operation and status
///     `HeadMiddleware`: HEAD answers lose their body (the router answers HEAD with GET routes)
///  1. `RequestIDMiddleware`: the request id, on the logger and the response
///     `RequestTracingMiddleware` (with `TRACING_ENDPOINT`): one server span per request, child of
///     the client's `traceparent`; the proxy's stages open theirs inside it
///  2. `ClientAddressMiddleware`: the client's address (socket peer, or `X-Forwarded-For` walked
///     past `TRUSTED_PROXIES`), and whether a trusted proxy saw HTTPS
///  3. `AccessLogMiddleware`: one redacted line per request (path, status, duration)
///  4. `SecurityHeadersMiddleware`: HSTS, nosniff, frame and referrer policy, CSP; no-store on
///     the operations marked `x-no-store` (on every response, errors included)
///  5. `CORSMiddleware`: origin check, preflight answered here (403 `cors_forbidden`)
///  6. `RateLimitMiddleware`: per IP on the operations marked `x-rate-limit` (`address`: `/api`,
///     `/proxy`; `auth`: signing in, counted apart), in memory (429, `RateLimit-*`)
///  7. `ErrorMiddleware`: every error thrown below becomes the standard JSON error (404/405 too)
///  8. `HTTPSPolicyMiddleware` (production without TLS): 308 to `PUBLIC_URL` or 403
///  9. `IPRuleMiddleware`: allow/deny rules from memory (403 `ip_forbidden`)
/// 10. `RequestLimitsMiddleware`: header count and bytes (431), the `Host` header (400), declared
///     body size (413); then `PathShapeMiddleware`: empty segments and trailing slashes are no
///     route (404), or under `/proxy/` an invalid endpoint (400)
/// 11. `AuditMiddleware`: for the operations marked `x-audit-action`, one hash-chained audit
///     entry (actor, target, before and after) written before the response leaves
/// 12. generated route: `Authenticator` (JWT from memory, revocation list in memory, no DB)
/// 13. generated route: input decoding (400 on malformed input; bodies capped at `MAX_BODY_BYTES`)
/// 14. `ProxyService.forward` (Handlers/Proxy): the stages of a proxied call, listed there and in
///     docs/architecture.md: endpoint policy, key, admission, upstream request, relay, one usage
///     report per call
func buildRouter(
    api: BridgeAPI, security: Authenticator, edge: EdgePolicy = EdgePolicy(), ipRules: IPRuleSet = IPRuleSet(),
    tracer: RequestTracer = .none
) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: RoutePolicyMiddleware(routes: RouteTable.all))
    router.add(middleware: RequestMetricsMiddleware(metrics: api.metrics))
    router.add(middleware: HeadMiddleware())
    router.add(middleware: RequestIDMiddleware())
    if tracer.isEnabled { router.add(middleware: RequestTracingMiddleware(tracer: tracer)) }
    router.add(middleware: ClientAddressMiddleware(resolver: ClientAddressResolver(trustedProxies: edge.trustedProxies)))
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(
        middleware: CORSMiddleware(
            origins: edge.allowedOrigins, allowNoOrigin: edge.allowNoOrigin, metrics: api.metrics, own: api.origin, routes: RouteTable.all))
    var limiters: [RateLimitClass: RateLimiter] = [:]
    if edge.ipRateLimit > 0 { limiters[.address] = RateLimiter(limit: edge.ipRateLimit, window: edge.ipRateWindow) }
    if edge.authRateLimit > 0 { limiters[.auth] = RateLimiter(limit: edge.authRateLimit, window: edge.authRateWindow) }
    router.add(middleware: RateLimitMiddleware(limiters: limiters, metrics: api.metrics))
    router.add(middleware: ErrorMiddleware(routes: RouteTable.all, metrics: api.metrics))
    if edge.requireHTTPS { router.add(middleware: HTTPSPolicyMiddleware(publicURL: edge.publicURL)) }
    router.add(middleware: IPRuleMiddleware(rules: ipRules))
    router.add(
        middleware: RequestLimitsMiddleware(
            maxBodyBytes: edge.maxBodyBytes, maxHeaderBytes: edge.maxHeaderBytes, maxHeaderCount: edge.maxHeaderCount))
    router.add(middleware: PathShapeMiddleware())
    router.add(middleware: AuditMiddleware(log: api.audit))
    api.registerRoutes(on: router, security: security)
    return router
}

/// With `TRACING_ENDPOINT`, swift-otel's tracer and the service that batches and exports its spans
/// over OTLP/HTTP; without, no tracer and nothing to run. Only traces: metrics are Prometheus'
/// (`/metrics`) and logs are the JSON lines. The standard `OTEL_*` variables still apply on top, as
/// swift-otel reads them.
func tracingBackend(_ config: AppConfig) throws -> (tracer: RequestTracer, services: [any Service]) {
    guard let endpoint = config.tracingEndpoint else { return (.none, []) }
    var otel = OTel.Configuration.default
    otel.serviceName = "safeapi-bridge"
    otel.resourceAttributes = ["service.version": RouteTable.version]
    otel.metrics.enabled = false
    otel.logs.enabled = false
    otel.traces.enabled = true
    otel.traces.otlpExporter.endpoint = endpoint
    otel.traces.otlpExporter.protocol = config.tracingJSON ? .httpJSON : .httpProtobuf
    otel.traces.batchSpanProcessor.scheduleDelay = config.tracingBatchDelay
    do {
        let backend = try OTel.makeTracingBackend(configuration: otel)
        return (RequestTracer(backend.factory), [backend.service])
    } catch {
        throw ConfigError(reason: "TRACING_ENDPOINT: the tracer could not be made: \(error)")
    }
}

/// With `METRICS_PORT`, a second listener that serves `GET /metrics` only, without the admin
/// key, for a scraper on a private network (`METRICS_HOST`, 127.0.0.1 by default).
func metricsListener(_ config: AppConfig, _ metrics: BridgeMetrics, _ logger: Logger) -> [any Service] {
    guard let port = config.metricsPort else { return [] }
    let router = Router()
    router.get("/metrics") { _, _ in await BridgeAPI.metricsResponse(metrics) }
    var metricsLogger = logger
    metricsLogger[metadataKey: "listener"] = "metrics"
    return [
        Application(
            router: router, configuration: .init(address: .hostname(config.metricsHost, port: port), serverName: nil),
            logger: metricsLogger)
    ]
}

/// HTTP/1.1, over native TLS when `TLS_CERT_FILE` and `TLS_KEY_FILE` are set, with the
/// connection guards: a cap on open connections (in total and per client address), a deadline for each request head and body
/// (slowloris), the idle timeout, and the parser's hard header limits (a backstop above
/// `MAX_HEADER_BYTES`, which the router answers with 431 JSON).
func serverBuilder(_ config: AppConfig) throws -> HTTPServerBuilder {
    let counter = ConnectionCounter(
        maximum: config.maxConnections, maximumPerAddress: config.maxConnectionsPerAddress, trusted: config.edge.trustedProxies)
    let head = TimeAmount.milliseconds(config.headerTimeout.milliseconds)
    let body = TimeAmount.milliseconds(config.bodyTimeout.milliseconds)
    let http1 = HTTPServerBuilder.http1(
        configuration: .init(
            additionalChannelHandlers: [
                ConnectionCapHandler(counter: counter), ReadDeadlineHandler(headTimeout: head, bodyTimeout: body), HostCheckInstaller(),
            ],
            idleTimeout: .milliseconds(config.requestTimeout.milliseconds),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 64 * 1024, maxHeaderListSize: 64 * 1024, maxHeaderFieldCount: 500)
        ))
    guard let certFile = config.tlsCertFile, let keyFile = config.tlsKeyFile else { return http1 }
    do {
        let chain = try NIOSSLCertificate.fromPEMFile(certFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        return try .tls(http1, tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
    } catch {
        throw ConfigError(reason: "TLS_CERT_FILE/TLS_KEY_FILE could not be loaded: \(error)")
    }
}
