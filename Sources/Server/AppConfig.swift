import Configuration
import Foundation
import Handlers
import Logging

/// Every setting of the server, read once at start from flags, the environment and an optional
/// `.env` file (in that order of precedence), then passed down explicitly. Nothing else reads
/// the environment.
struct AppConfig: Sendable {
    enum Environment: String, Sendable {
        case development, production, test
    }

    var environment: Environment
    var host: String
    var port: Int
    var dataDirectory: String
    var database: DatabaseLocation
    /// Nil means "generate one for development and keep it in the data directory".
    var jwtSecret: Secret<String>?
    var logLevel: Logger.Level
    /// How long a connection may sit idle (no request bytes, no response bytes) before it is closed.
    var requestTimeout: Duration
    /// How long SIGTERM waits for in-flight requests and writers before cancelling them.
    var shutdownTimeout: Duration
    /// Nil: admin routes answer 503 `admin_disabled`.
    var adminAPIKey: Secret<String>? = nil
    var accessTokenTTL: Duration = .seconds(900)
    var refreshTokenTTL: Duration = .seconds(30 * 86_400)
    var jwtIssuer = "safeapi-bridge"
    var jwtAudience = "safeapi-bridge-clients"
    var refreshReuseGrace: Duration = .seconds(5)
    var allowAnonymousTokens = false
    var revocationSyncInterval: Duration = .seconds(1)
    var defaultDailyQuota: Int64 = 100
    var defaultMonthlyQuota: Int64 = 3000
    /// How long `/ready` waits for the database before answering 503.
    var readinessTimeout: Duration = .seconds(2)
    /// Every provider, with its key and base URL from the environment.
    var providers = ProviderRegistry(providers: [])
    /// BYOK: 32 bytes. Nil: generated in development (see `DevelopmentSecrets`); in production
    /// split keys are off (503 `byok_disabled`).
    var byokMasterKey: Secret<[UInt8]>?
    var byokSplitsPerMinute = 10
    /// Until the upstream's response head.
    var upstreamTimeout: Duration = .seconds(60)
    /// How long opening a connection to a provider may take (502 `upstream_unreachable`); never
    /// more than `upstreamTimeout`.
    var upstreamConnectTimeout: Duration = .seconds(5)
    /// The longest silence allowed while a response (a stream) is being read.
    var upstreamReadTimeout: Duration = .seconds(120)
    /// HTTP/1.1 connections kept open per provider host; calls beyond them wait for one.
    var upstreamMaxConnections = 512
    /// How `/v1` tries an alias's deployments: attempts in all, and the time they may take.
    var gatewayRetry = RetryPolicy(maxAttempts: 3, deadline: .seconds(30))
    /// Trusted proxies, CORS, rate limits, HTTPS policy, request size limits.
    var edge = EdgePolicy()
    /// Native TLS: both files or neither.
    var tlsCertFile: String?
    var tlsKeyFile: String?
    /// A request head must arrive within this (slowloris guard); its body within `bodyTimeout`.
    var headerTimeout: Duration = .seconds(10)
    var bodyTimeout: Duration = .seconds(30)
    var maxConnections = 1024
    /// Connections open at once from one client address (trusted proxies excepted).
    var maxConnectionsPerAddress = 128
    var ipRulesSyncInterval: Duration = .seconds(1)
    /// How soon an instance applies app caps another instance set.
    var appCapsSyncInterval: Duration = .seconds(1)
    /// A leased block of a user's quota goes back after this long without a call of that user
    /// (`QuotaLedger.init`); zero: no leases.
    var quotaLeaseLifetime = QuotaLedger.leaseLifetime
    /// Where the security log file goes (`security-YYYY-MM-DD.log`); nil: no file.
    var logDirectory: String? = nil
    var securityLogRetentionDays = 90
    /// Usage rows older than this are deleted (the hourly rollups stay); 0 keeps them.
    var usageRetentionDays = 90
    /// Webhooks: deliver to private addresses (tests only), how often the outbox is polled, and
    /// the first retry delay (doubled each attempt, with jitter).
    var webhookAllowPrivate = false
    var webhookPollInterval: Duration = .milliseconds(500)
    var webhookRetryBase: Duration = .seconds(2)
    /// Identity providers' key sets over plain http and from private addresses (tests only).
    var identityAllowInsecure = false
    /// An unknown `kid` refetches an issuer's keys at most this often (tests shorten it).
    var identityKeysRefetchInterval: Duration = .seconds(30)
    /// A second listener that serves only `GET /metrics`, without the admin key, for a scraper on
    /// a private network (`METRICS_PORT`; nil: none, 0: any free port).
    var metricsPort: Int? = nil
    var metricsHost = "127.0.0.1"
    /// Where spans go, over OTLP/HTTP (`TRACING_ENDPOINT`, the collector's traces URL); nil: no tracing.
    var tracingEndpoint: String? = nil
    /// `http/protobuf` or `http/json` (`TRACING_PROTOCOL`).
    var tracingJSON = false
    /// How long finished spans wait to be sent in a batch (OpenTelemetry's default; tests shorten it).
    var tracingBatchDelay: Duration = .seconds(5)

    var isProduction: Bool { environment == .production }

    /// The auth settings, once the JWT secret is known (generated in development if unset).
    func authSettings(jwtSecret: Secret<String>) -> AuthSettings {
        AuthSettings(
            jwtSecret: jwtSecret,
            accessTokenTTL: accessTokenTTL,
            refreshTokenTTL: refreshTokenTTL,
            issuer: jwtIssuer,
            audience: jwtAudience,
            refreshReuseGrace: refreshReuseGrace,
            allowAnonymousTokens: allowAnonymousTokens,
            defaultDailyQuota: defaultDailyQuota,
            defaultMonthlyQuota: defaultMonthlyQuota,
            adminAPIKey: adminAPIKey,
            revocationSyncInterval: revocationSyncInterval,
            identityAllowInsecure: identityAllowInsecure,
            identityKeysRefetchInterval: identityKeysRefetchInterval
        )
    }
}

/// A setting that is missing, malformed or unsafe: the server refuses to start with a one-line reason.
struct ConfigError: Error, CustomStringConvertible, Equatable {
    let reason: String
    var description: String { reason }
}

extension AppConfig {
    /// Known-weak secrets, including the old product's default.
    static let weakSecrets: Set<String> = [
        "default-secret-change-in-production", "secret", "changeme", "change-me", "password",
        "jwt-secret", "your-secret-key", "your-jwt-secret", "development", "test",
    ]

    /// Reads and validates every setting.
    static func load(from reader: ConfigReader) throws -> AppConfig {
        let environmentName = (reader.string(forKey: "app.env") ?? reader.string(forKey: "node.env") ?? "development").lowercased()
        guard let environment = Environment(rawValue: environmentName) else {
            throw ConfigError(reason: "APP_ENV must be development, production or test (got '\(environmentName)')")
        }
        let host = reader.string(forKey: "host") ?? "127.0.0.1"
        guard !host.isEmpty else { throw ConfigError(reason: "HOST must not be empty") }
        let port = try integer(reader, "port", name: "PORT", default: 3000, range: 0...65535)
        let dataDirectory = reader.string(forKey: "data.dir") ?? "./data"
        let database: DatabaseLocation
        do {
            database = try DatabaseLocation.parse(reader.string(forKey: "database.url", isSecret: true), dataDirectory: dataDirectory)
        } catch let error as DatabaseLocation.ParseError {
            throw ConfigError(reason: error.reason)
        }
        let jwtSecret = reader.string(forKey: "jwt.secret", isSecret: true).flatMap { $0.isEmpty ? nil : Secret($0) }
        if let secret = jwtSecret, secret.value.utf8.count < 32 {
            // HS256 wants a key at least as long as its hash, in every environment.
            throw ConfigError(
                reason:
                    "JWT_SECRET is too weak: it has \(secret.value.utf8.count) bytes; use at least 32 (openssl rand -hex 32), or unset it in development to have one generated"
            )
        }
        if environment == .production {
            guard let secret = jwtSecret else {
                throw ConfigError(
                    reason: "JWT_SECRET is required in production (at least 32 random characters, e.g. `openssl rand -hex 32`)")
            }
            if let weakness = weakness(of: secret.value) {
                throw ConfigError(reason: "JWT_SECRET is too weak for production: \(weakness)")
            }
        }
        let levelName = (reader.string(forKey: "log.level") ?? "info").lowercased()
        guard let logLevel = Logger.Level(rawValue: levelName == "warn" ? "warning" : levelName) else {
            throw ConfigError(reason: "LOG_LEVEL must be trace, debug, info, notice, warning, error or critical (got '\(levelName)')")
        }
        let requestTimeout = try integer(
            reader, "request.timeout.ms", name: "REQUEST_TIMEOUT_MS", default: 30_000, range: 1_000...3_600_000)
        let shutdownTimeout = try integer(reader, "shutdown.timeout.ms", name: "SHUTDOWN_TIMEOUT_MS", default: 15_000, range: 0...600_000)
        let adminAPIKey = reader.string(forKey: "admin.api.key", isSecret: true).flatMap { $0.isEmpty ? nil : Secret($0) }
        if environment == .production, let key = adminAPIKey, let weakness = weakness(of: key.value) {
            throw ConfigError(reason: "ADMIN_API_KEY is too weak for production: \(weakness)")
        }
        let allowAnonymous = try boolean(reader, "auth.allow.anonymous.tokens", name: "AUTH_ALLOW_ANONYMOUS_TOKENS")
        if environment == .production && allowAnonymous {
            throw ConfigError(reason: "AUTH_ALLOW_ANONYMOUS_TOKENS=true is for local development only; production refuses it")
        }
        var config = AppConfig(
            environment: environment,
            host: host,
            port: port,
            dataDirectory: dataDirectory,
            database: database,
            jwtSecret: jwtSecret,
            logLevel: logLevel,
            requestTimeout: .milliseconds(requestTimeout),
            shutdownTimeout: .milliseconds(shutdownTimeout)
        )
        config.adminAPIKey = adminAPIKey
        config.allowAnonymousTokens = allowAnonymous
        config.accessTokenTTL = .seconds(try integer(reader, "jwt.ttl.seconds", name: "JWT_TTL_SECONDS", default: 900, range: 30...86_400))
        config.refreshTokenTTL = .seconds(
            try integer(reader, "refresh.ttl.seconds", name: "REFRESH_TTL_SECONDS", default: 30 * 86_400, range: 300...365 * 86_400))
        config.refreshReuseGrace = .seconds(
            try integer(reader, "refresh.reuse.grace.seconds", name: "REFRESH_REUSE_GRACE_SECONDS", default: 5, range: 0...60))
        config.revocationSyncInterval = .milliseconds(
            try integer(reader, "revocation.sync.ms", name: "REVOCATION_SYNC_MS", default: 1000, range: 100...60_000))
        config.defaultDailyQuota = Int64(
            try integer(reader, "default.daily.quota", name: "DEFAULT_DAILY_QUOTA", default: 100, range: 0...1_000_000_000))
        config.defaultMonthlyQuota = Int64(
            try integer(reader, "default.monthly.quota", name: "DEFAULT_MONTHLY_QUOTA", default: 3000, range: 0...1_000_000_000))
        config.upstreamTimeout = .milliseconds(
            try integer(reader, "upstream.timeout.ms", name: "UPSTREAM_TIMEOUT_MS", default: 60_000, range: 1_000...600_000))
        config.upstreamConnectTimeout = min(
            config.upstreamTimeout,
            .milliseconds(
                try integer(
                    reader, "upstream.connect.timeout.ms", name: "UPSTREAM_CONNECT_TIMEOUT_MS", default: 5_000, range: 100...600_000)))
        config.upstreamReadTimeout = .milliseconds(
            try integer(reader, "upstream.read.timeout.ms", name: "UPSTREAM_READ_TIMEOUT_MS", default: 120_000, range: 1_000...3_600_000))
        config.upstreamMaxConnections = try integer(
            reader, "upstream.max.connections", name: "UPSTREAM_MAX_CONNECTIONS", default: 512, range: 1...100_000)
        config.gatewayRetry = RetryPolicy(
            maxAttempts: try integer(reader, "gateway.max.attempts", name: "GATEWAY_MAX_ATTEMPTS", default: 3, range: 1...10),
            deadline: .milliseconds(
                try integer(reader, "gateway.deadline.ms", name: "GATEWAY_DEADLINE_MS", default: 30_000, range: 0...600_000)))
        config.providers = try providers(reader, environment: environment)
        if let text = reader.string(forKey: "byok.master.key", isSecret: true), !text.isEmpty {
            guard let bytes = KeyVault.parseMasterKey(text) else {
                throw ConfigError(reason: "BYOK_MASTER_KEY must be 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)")
            }
            config.byokMasterKey = Secret(bytes)
        }
        config.byokSplitsPerMinute = try integer(
            reader, "byok.splits.per.minute", name: "BYOK_SPLITS_PER_MINUTE", default: 10, range: 1...10_000)
        config.jwtIssuer = reader.string(forKey: "jwt.issuer") ?? config.jwtIssuer
        config.jwtAudience = reader.string(forKey: "jwt.audience") ?? config.jwtAudience
        try loadEdge(reader, into: &config)
        let logDirectory = reader.string(forKey: "log.dir") ?? (dataDirectory as NSString).appendingPathComponent("logs")
        config.logDirectory =
            try boolean(reader, "security.log.file", name: "SECURITY_LOG_FILE", default: true) && !logDirectory.isEmpty ? logDirectory : nil
        config.webhookAllowPrivate = try boolean(reader, "webhook.allow.private", name: "WEBHOOK_ALLOW_PRIVATE")
        if environment == .production && config.webhookAllowPrivate {
            throw ConfigError(reason: "WEBHOOK_ALLOW_PRIVATE=true is for tests only; production refuses it")
        }
        config.identityAllowInsecure = try boolean(reader, "identity.allow.insecure", name: "IDENTITY_ALLOW_INSECURE")
        if environment == .production && config.identityAllowInsecure {
            throw ConfigError(reason: "IDENTITY_ALLOW_INSECURE=true is for tests only; production refuses it")
        }
        config.webhookPollInterval = .milliseconds(
            try integer(reader, "webhook.poll.ms", name: "WEBHOOK_POLL_MS", default: 500, range: 50...60_000))
        config.webhookRetryBase = .milliseconds(
            try integer(reader, "webhook.retry.base.ms", name: "WEBHOOK_RETRY_BASE_MS", default: 2000, range: 10...3_600_000))
        if reader.string(forKey: "metrics.port") != nil {
            let metricsPort = try integer(reader, "metrics.port", name: "METRICS_PORT", default: 0, range: 0...65535)
            guard metricsPort == 0 || metricsPort != config.port else {
                throw ConfigError(reason: "METRICS_PORT must differ from PORT: the metrics listener serves /metrics without the admin key")
            }
            config.metricsPort = metricsPort
        }
        config.metricsHost = reader.string(forKey: "metrics.host") ?? config.metricsHost
        if let endpoint = reader.string(forKey: "tracing.endpoint"), !endpoint.isEmpty {
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigError(reason: "TRACING_ENDPOINT must be an http(s) URL, the collector's OTLP traces URL (got '\(endpoint)')")
            }
            config.tracingEndpoint = endpoint
        }
        switch reader.string(forKey: "tracing.protocol") ?? "http/protobuf" {
        case "http/protobuf": config.tracingJSON = false
        case "http/json": config.tracingJSON = true
        case let other: throw ConfigError(reason: "TRACING_PROTOCOL must be http/protobuf or http/json (got '\(other)')")
        }
        guard !config.metricsHost.isEmpty else { throw ConfigError(reason: "METRICS_HOST must not be empty") }
        config.usageRetentionDays = try integer(
            reader, "usage.retention.days", name: "USAGE_RETENTION_DAYS", default: 90, range: 0...36_500)
        config.securityLogRetentionDays = try integer(
            reader, "security.log.retention.days", name: "SECURITY_LOG_RETENTION_DAYS", default: 90, range: 1...3650)
        return config
    }

    /// Trusted proxies, rate limits, CORS, HTTPS and TLS, request limits.
    static func loadEdge(_ reader: ConfigReader, into config: inout AppConfig) throws {
        var edge = EdgePolicy()
        for item in list(reader.string(forKey: "trusted.proxies")) {
            guard let cidr = CIDR(item) else { throw ConfigError(reason: "TRUSTED_PROXIES: '\(item)' is not an IP address or CIDR") }
            edge.trustedProxies.append(cidr)
        }
        edge.ipRateWindow = .milliseconds(
            try integer(reader, "rate.limit.window.ms", name: "RATE_LIMIT_WINDOW_MS", default: 3_600_000, range: 1_000...86_400_000))
        edge.ipRateLimit = try integer(
            reader, "rate.limit.max.requests", name: "RATE_LIMIT_MAX_REQUESTS", default: 100, range: 0...10_000_000)
        edge.authRateWindow = .milliseconds(
            try integer(reader, "auth.rate.limit.window.ms", name: "AUTH_RATE_LIMIT_WINDOW_MS", default: 900_000, range: 1_000...86_400_000)
        )
        edge.authRateLimit = try integer(
            reader, "auth.rate.limit.max.requests", name: "AUTH_RATE_LIMIT_MAX_REQUESTS", default: 300, range: 0...10_000_000)
        edge.userRateWindow = .milliseconds(
            try integer(reader, "user.rate.limit.window.ms", name: "USER_RATE_LIMIT_WINDOW_MS", default: 60_000, range: 1_000...86_400_000))
        edge.userRateLimit = try integer(
            reader, "user.rate.limit.max.requests", name: "USER_RATE_LIMIT_MAX_REQUESTS", default: 60, range: 0...10_000_000)
        for item in list(reader.string(forKey: "allowed.origins")) {
            guard let pattern = OriginPattern(item) else {
                throw ConfigError(reason: "ALLOWED_ORIGINS: '\(item)' is not an origin (scheme://host[:port], or https://*.example.com)")
            }
            edge.allowedOrigins.append(pattern)
        }
        edge.allowNoOrigin = try boolean(reader, "allow.mobile.no.origin", name: "ALLOW_MOBILE_NO_ORIGIN", default: true)
        if let url = reader.string(forKey: "public.url"), !url.isEmpty {
            guard url.hasPrefix("https://"), let parsed = URL(string: url), parsed.host != nil, parsed.query == nil, parsed.fragment == nil
            else {
                throw ConfigError(reason: "PUBLIC_URL must be an https:// URL without query or fragment (got '\(url)')")
            }
            edge.publicURL = url
        }
        let cert = reader.string(forKey: "tls.cert.file").flatMap { $0.isEmpty ? nil : $0 }
        let key = reader.string(forKey: "tls.key.file").flatMap { $0.isEmpty ? nil : $0 }
        guard (cert == nil) == (key == nil) else { throw ConfigError(reason: "TLS_CERT_FILE and TLS_KEY_FILE must be set together") }
        config.tlsCertFile = cert
        config.tlsKeyFile = key
        // Native TLS: every request arrives over HTTPS, so only production without it needs the policy.
        edge.requireHTTPS = config.environment == .production && cert == nil
        edge.maxBodyBytes = try integer(
            reader, "max.body.bytes", name: "MAX_BODY_BYTES", default: 2 * 1024 * 1024, range: 1024...1024 * 1024 * 1024)
        edge.maxHeaderBytes = try integer(reader, "max.header.bytes", name: "MAX_HEADER_BYTES", default: 16 * 1024, range: 1024...64 * 1024)
        edge.maxHeaderCount = try integer(reader, "max.header.count", name: "MAX_HEADER_COUNT", default: 100, range: 10...500)
        config.edge = edge
        config.headerTimeout = .milliseconds(
            try integer(reader, "header.timeout.ms", name: "HEADER_TIMEOUT_MS", default: 10_000, range: 100...600_000))
        config.bodyTimeout = .milliseconds(
            try integer(reader, "body.timeout.ms", name: "BODY_TIMEOUT_MS", default: 30_000, range: 100...3_600_000))
        config.maxConnections = try integer(reader, "max.connections", name: "MAX_CONNECTIONS", default: 1024, range: 1...1_000_000)
        // Default: an eighth of the total, so one address cannot hold every connection.
        config.maxConnectionsPerAddress = try integer(
            reader, "max.connections.per.address", name: "MAX_CONNECTIONS_PER_ADDRESS", default: max(1, config.maxConnections / 8),
            range: 1...config.maxConnections
        )
        config.ipRulesSyncInterval = .milliseconds(
            try integer(reader, "ip.rules.sync.ms", name: "IP_RULES_SYNC_MS", default: 1000, range: 100...60_000))
        config.appCapsSyncInterval = .milliseconds(
            try integer(reader, "app.caps.sync.ms", name: "APP_CAPS_SYNC_MS", default: 1000, range: 100...60_000))
        config.quotaLeaseLifetime = .milliseconds(
            try integer(
                reader, "quota.lease.ms", name: "QUOTA_LEASE_MS", default: Int(QuotaLedger.leaseLifetime.milliseconds), range: 0...10_000))
    }

    /// A comma-separated list, trimmed, without empty items.
    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The built-in providers, extended or replaced by `PROVIDERS_FILE`, with keys and base URLs
    /// from the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …). The mock provider is on in
    /// development and test, and in production only with `MOCK_PROVIDER=true`.
    static func providers(_ reader: ConfigReader, environment: Environment) throws -> ProviderRegistry {
        let defaults: ProvidersFile
        var user: ProvidersFile?
        do {
            defaults = try ProvidersFile.defaults()
            if let path = reader.string(forKey: "providers.file"), !path.isEmpty {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigError(reason: "PROVIDERS_FILE: cannot read \(path)")
                }
                user = try ProvidersFile.decode(data, source: "PROVIDERS_FILE \(path)")
            }
        } catch let error as ProvidersFile.LoadError {
            throw ConfigError(reason: error.description)
        }
        let mockSetting = reader.string(forKey: "mock.provider")
        let mockEnabled =
            try mockSetting.map { _ in try boolean(reader, "mock.provider", name: "MOCK_PROVIDER") } ?? (environment != .production)
        let registry = ProviderRegistry.resolve(
            ProvidersFile.merged(defaults: defaults, user: user), aliases: ProvidersFile.mergedAliases(defaults: defaults, user: user),
            mockEnabled: mockEnabled
        ) { name in
            reader.string(forKey: ConfigKey(name.lowercased().split(separator: "_").map(String.init)), isSecret: true)
        }
        for (name, deployments) in registry.aliases {
            for deployment in deployments {
                let provider = String(deployment.model.prefix { $0 != "/" })
                guard registry.provider(provider) != nil else {
                    throw ConfigError(
                        reason: "PROVIDERS_FILE: alias '\(name)' names provider '\(provider)', which is not in the providers list")
                }
            }
        }
        return registry
    }

    private static func boolean(_ reader: ConfigReader, _ key: ConfigKey, name: String, default value: Bool = false) throws -> Bool {
        guard let text = reader.string(forKey: key)?.trimmingCharacters(in: .whitespaces).lowercased(), !text.isEmpty else { return value }
        switch text {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigError(reason: "\(name) must be true or false (got '\(text)')")
        }
    }

    /// Why a secret is weak, or nil: shorter than 32 characters, a known default, or too few
    /// distinct characters to be random.
    static func weakness(of secret: String) -> String? {
        if weakSecrets.contains(secret.lowercased()) { return "it is a well-known default" }
        if secret.count < 32 { return "it has \(secret.count) characters; use at least 32" }
        if Set(secret).count < 10 { return "it has too few distinct characters to be random" }
        return nil
    }

    private static func integer(_ reader: ConfigReader, _ key: ConfigKey, name: String, default value: Int, range: ClosedRange<Int>) throws
        -> Int
    {
        guard let text = reader.string(forKey: key) else { return value }
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigError(reason: "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return number
    }
}
