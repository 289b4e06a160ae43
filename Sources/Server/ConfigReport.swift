import Foundation
import Handlers
import Logging

/// What the server would start with: the effective settings (secrets only as set or unset) and
/// every finding about them. `check-config` prints it; `serve` logs the same findings at start.
struct ConfigReport {
    struct Finding: Equatable, CustomStringConvertible {
        enum Level: String, Comparable {
            /// The server would not start.
            case error
            /// It would start, probably not as intended.
            case warning
            /// Worth knowing.
            case notice

            static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
            private var rank: Int { self == .error ? 0 : self == .warning ? 1 : 2 }
        }

        let level: Level
        let message: String
        var description: String { "\(level.rawValue): \(message)" }
    }

    /// Each setting as its variable's name and its effective value; a secret is `set` or `unset`.
    static func settings(_ config: AppConfig) -> [(name: String, value: String)] {
        func secret(_ isSet: Bool) -> String { isSet ? "set" : "unset" }
        func ms(_ duration: Duration) -> String { String(duration.milliseconds) }
        let edge = config.edge
        var rows: [(String, String)] = [
            ("APP_ENV", config.environment.rawValue),
            ("HOST", config.host),
            ("PORT", String(config.port)),
            ("DATA_DIR", config.dataDirectory),
            ("DATABASE_URL", config.database.description),
            ("LOG_LEVEL", config.logLevel.rawValue),
            ("JWT_SECRET", config.jwtSecret == nil ? (config.isProduction ? "unset" : "unset (a development secret in DATA_DIR)") : "set"),
            ("ADMIN_API_KEY", secret(config.adminAPIKey != nil)),
            (
                "BYOK_MASTER_KEY",
                config.byokMasterKey == nil ? (config.isProduction ? "unset" : "unset (a development key in DATA_DIR)") : "set"
            ),
            ("JWT_TTL_SECONDS", String(config.accessTokenTTL.components.seconds)),
            ("REFRESH_TTL_SECONDS", String(config.refreshTokenTTL.components.seconds)),
            ("JWT_ISSUER", config.jwtIssuer),
            ("JWT_AUDIENCE", config.jwtAudience),
            ("REFRESH_REUSE_GRACE_SECONDS", String(config.refreshReuseGrace.components.seconds)),
            ("REVOCATION_SYNC_MS", ms(config.revocationSyncInterval)),
            ("DEFAULT_DAILY_QUOTA", String(config.defaultDailyQuota)),
            ("DEFAULT_MONTHLY_QUOTA", String(config.defaultMonthlyQuota)),
            ("RATE_LIMIT_MAX_REQUESTS", String(edge.ipRateLimit)),
            ("RATE_LIMIT_WINDOW_MS", ms(edge.ipRateWindow)),
            ("AUTH_RATE_LIMIT_MAX_REQUESTS", String(edge.authRateLimit)),
            ("AUTH_RATE_LIMIT_WINDOW_MS", ms(edge.authRateWindow)),
            ("USER_RATE_LIMIT_MAX_REQUESTS", String(edge.userRateLimit)),
            ("USER_RATE_LIMIT_WINDOW_MS", ms(edge.userRateWindow)),
            ("TRUSTED_PROXIES", edge.trustedProxies.isEmpty ? "none" : edge.trustedProxies.map(\.description).joined(separator: ",")),
            ("ALLOWED_ORIGINS", edge.allowedOrigins.isEmpty ? "none" : edge.allowedOrigins.map(\.description).joined(separator: ",")),
            ("ALLOW_MOBILE_NO_ORIGIN", String(edge.allowNoOrigin)),
            ("PUBLIC_URL", edge.publicURL ?? "unset"),
            ("TLS_CERT_FILE", config.tlsCertFile ?? "unset"),
            ("TLS_KEY_FILE", config.tlsKeyFile ?? "unset"),
            ("MAX_BODY_BYTES", String(edge.maxBodyBytes)),
            ("MAX_HEADER_COUNT", String(edge.maxHeaderCount)),
            ("MAX_HEADER_BYTES", String(edge.maxHeaderBytes)),
            ("HEADER_TIMEOUT_MS", ms(config.headerTimeout)),
            ("BODY_TIMEOUT_MS", ms(config.bodyTimeout)),
            ("REQUEST_TIMEOUT_MS", ms(config.requestTimeout)),
            ("SHUTDOWN_TIMEOUT_MS", ms(config.shutdownTimeout)),
            ("MAX_CONNECTIONS", String(config.maxConnections)),
            ("MAX_CONNECTIONS_PER_ADDRESS", String(config.maxConnectionsPerAddress)),
            ("IP_RULES_SYNC_MS", ms(config.ipRulesSyncInterval)),
            ("APP_CAPS_SYNC_MS", ms(config.appCapsSyncInterval)),
            ("QUOTA_LEASE_MS", ms(config.quotaLeaseLifetime)),
            ("LOG_DIR", config.logDirectory ?? "none (SECURITY_LOG_FILE=false)"),
            ("SECURITY_LOG_RETENTION_DAYS", String(config.securityLogRetentionDays)),
            ("METRICS_PORT", config.metricsPort.map(String.init) ?? "unset"),
            ("METRICS_HOST", config.metricsHost),
            ("TRACING_ENDPOINT", config.tracingEndpoint.map(withoutCredentials) ?? "unset (no tracing)"),
            ("TRACING_PROTOCOL", config.tracingJSON ? "http/json" : "http/protobuf"),
            ("USAGE_RETENTION_DAYS", String(config.usageRetentionDays)),
            ("WEBHOOK_POLL_MS", ms(config.webhookPollInterval)),
            ("WEBHOOK_RETRY_BASE_MS", ms(config.webhookRetryBase)),
            ("WEBHOOK_ALLOW_PRIVATE", String(config.webhookAllowPrivate)),
            ("IDENTITY_ALLOW_INSECURE", String(config.identityAllowInsecure)),
            ("AUTH_ALLOW_ANONYMOUS_TOKENS", String(config.allowAnonymousTokens)),
            ("BYOK_SPLITS_PER_MINUTE", String(config.byokSplitsPerMinute)),
            ("UPSTREAM_TIMEOUT_MS", ms(config.upstreamTimeout)),
            ("UPSTREAM_CONNECT_TIMEOUT_MS", ms(config.upstreamConnectTimeout)),
            ("UPSTREAM_READ_TIMEOUT_MS", ms(config.upstreamReadTimeout)),
            ("UPSTREAM_MAX_CONNECTIONS", String(config.upstreamMaxConnections)),
            ("GATEWAY_MAX_ATTEMPTS", String(config.gatewayRetry.maxAttempts)),
            ("GATEWAY_DEADLINE_MS", ms(config.gatewayRetry.deadline)),
        ]
        // Each provider: its base URL and whether the server holds a key for it (never the key).
        for provider in config.providers.providers {
            let keys = provider.keys.map { "\($0.count) key\($0.count == 1 ? "" : "s") set" } ?? "no key"
            let key = provider.definition.keyEnv.map { "\($0): \(keys)" } ?? (provider.isMock ? "built-in mock" : "no key needed")
            rows.append(("provider \(provider.id)", "\(provider.baseURL) (\(key))"))
        }
        return rows
    }

    /// A URL without its user, password and query, which may hold credentials.
    static func withoutCredentials(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "set" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        return parts.string ?? "set"
    }

    /// What the configuration alone says: no file is written, no database opened.
    static func findings(_ config: AppConfig) -> [Finding] {
        var found: [Finding] = []
        let edge = config.edge
        if edge.requireHTTPS {
            if edge.trustedProxies.isEmpty {
                found.append(
                    .init(
                        level: .warning,
                        message:
                            "production without TLS_CERT_FILE and no TRUSTED_PROXIES: no request can prove it came over HTTPS, so every request but /health is refused; set TLS_CERT_FILE and TLS_KEY_FILE, or TRUSTED_PROXIES for the proxy that terminates TLS"
                    ))
            } else {
                found.append(
                    .init(
                        level: .notice,
                        message:
                            "production without TLS_CERT_FILE: only requests a TRUSTED_PROXIES peer forwards as HTTPS are served (PUBLIC_URL: \(edge.publicURL ?? "unset, so plain-HTTP GETs get 403 instead of a redirect"))"
                    ))
            }
        }
        if config.adminAPIKey == nil {
            found.append(.init(level: .notice, message: "ADMIN_API_KEY is not set: admin routes and /metrics answer 503 admin_disabled"))
        }
        if config.allowAnonymousTokens {
            found.append(
                .init(level: .warning, message: "AUTH_ALLOW_ANONYMOUS_TOKENS=true: anyone can get a token for any user. Development only."))
        }
        if config.jwtSecret == nil && !config.isProduction {
            found.append(
                .init(
                    level: .warning,
                    message: "JWT_SECRET is not set: a development secret is kept in DATA_DIR. Never do this in production."))
        }
        if config.byokMasterKey == nil {
            found.append(
                config.isProduction
                    ? .init(level: .notice, message: "BYOK_MASTER_KEY is not set: split-key routes answer 503 byok_disabled")
                    : .init(level: .warning, message: "BYOK_MASTER_KEY is not set: a development key is kept in DATA_DIR."))
        }
        if config.isProduction, case .sqlite = config.database {
            found.append(
                .init(
                    level: .notice,
                    message: "production on SQLite: one instance only; several instances need PostgreSQL (DATABASE_URL=postgres://…)"))
        }
        let keyless = config.providers.providers.filter { !$0.isConfigured }.map(\.id)
        if !keyless.isEmpty {
            found.append(
                .init(
                    level: .notice,
                    message: "no server key for \(keyless.joined(separator: ", ")): those providers answer 503 without a split key"))
        }
        if config.metricsPort != nil, ["0.0.0.0", "::", "*"].contains(config.metricsHost) {
            found.append(
                .init(
                    level: .warning,
                    message:
                        "METRICS_HOST=\(config.metricsHost): the metrics listener, which needs no key, answers on every interface; bind it to a private address"
                ))
        }
        return found.sorted { $0.level < $1.level }
    }
}

/// The words for a database that a newer binary migrated.
enum MigrationFindings {
    static func newer(_ versions: [Int]) -> String {
        "the database has migrations this binary does not know (\(versions.map(String.init).joined(separator: ", "))): a newer version of the bridge migrated it; run that version, or restore a backup taken before the upgrade"
    }
}
