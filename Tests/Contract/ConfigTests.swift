import Configuration
import Handlers
import Logging
import Testing

@testable import Server

@Suite("Configuration: one typed AppConfig, refused with a reason when unsafe")
struct ConfigTests {
    static func load(_ values: [String: String]) throws -> AppConfig {
        var content: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values {
            content[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = .init(.string(value), isSecret: false)
        }
        return try AppConfig.load(from: ConfigReader(provider: InMemoryProvider(values: content)))
    }

    static let strongSecret = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c"

    @Test func defaultsNeedNoConfigurationAtAll() throws {
        let config = try Self.load([:])
        #expect(config.environment == .development)
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 3000)
        #expect(config.database == .sqlite(path: "./data/safeapi.sqlite"))
        #expect(config.jwtSecret == nil)
        #expect(config.logLevel == .info)
        #expect(config.requestTimeout == .seconds(30))
    }

    @Test func valuesAreRead() throws {
        let config = try Self.load([
            "app.env": "production", "host": "0.0.0.0", "port": "8080", "jwt.secret": Self.strongSecret,
            "database.url": "postgres://u:p@db/bridge", "log.level": "warn", "request.timeout.ms": "5000",
        ])
        #expect(config.isProduction)
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 8080)
        #expect(config.jwtSecret?.value == Self.strongSecret)
        #expect(config.database.kind == .postgres)
        #expect(config.logLevel == .warning)
        #expect(config.requestTimeout == .seconds(5))
    }

    @Test func edgeSettingsAreReadWithTheOldProductsDefaults() throws {
        let defaults = try Self.load([:])
        #expect(defaults.edge.ipRateLimit == 100)
        #expect(defaults.edge.ipRateWindow == .seconds(3600))
        #expect(defaults.edge.authRateLimit == 300)
        #expect(defaults.edge.authRateWindow == .seconds(900))
        #expect(defaults.edge.maxBodyBytes == 2 * 1024 * 1024)
        #expect(defaults.edge.allowNoOrigin)
        #expect(defaults.edge.allowedOrigins.isEmpty)
        #expect(!defaults.edge.requireHTTPS)
        let config = try Self.load([
            "app.env": "production", "jwt.secret": Self.strongSecret,
            "trusted.proxies": "10.0.0.0/8, 127.0.0.1", "allowed.origins": "https://app.example.com,https://*.example.org",
            "allow.mobile.no.origin": "false", "rate.limit.max.requests": "0", "public.url": "https://api.example.com",
            "max.body.bytes": "4096", "user.rate.limit.max.requests": "5", "user.rate.limit.window.ms": "1000",
            "auth.rate.limit.max.requests": "20", "auth.rate.limit.window.ms": "60000",
        ])
        #expect(config.edge.authRateLimit == 20)
        #expect(config.edge.authRateWindow == .seconds(60))
        #expect(config.edge.trustedProxies.map(\.description) == ["10.0.0.0/8", "127.0.0.1/32"])
        #expect(config.edge.allowedOrigins.map(\.description) == ["https://app.example.com", "https://*.example.org"])
        #expect(!config.edge.allowNoOrigin)
        #expect(config.edge.ipRateLimit == 0)
        #expect(config.edge.userRateLimit == 5)
        #expect(config.edge.requireHTTPS)
        #expect(config.edge.publicURL == "https://api.example.com")
        #expect(config.edge.maxBodyBytes == 4096)
    }

    @Test(arguments: [
        (["trusted.proxies": "10.0.0.0/33"], "TRUSTED_PROXIES"),
        (["allowed.origins": "https://*"], "ALLOWED_ORIGINS"),
        (["public.url": "http://api.example.com"], "PUBLIC_URL"),
        (["tls.cert.file": "/tmp/cert.pem"], "TLS_CERT_FILE and TLS_KEY_FILE"),
        (["allow.mobile.no.origin": "maybe"], "ALLOW_MOBILE_NO_ORIGIN"),
        (["max.body.bytes": "10"], "MAX_BODY_BYTES"),
    ])
    func badEdgeSettingsAreRefusedWithTheirName(_ values: [String: String], _ name: String) throws {
        let error = try #require(throws: ConfigError.self) { try Self.load(values) }
        #expect(error.reason.contains(name))
    }

    @Test func nodeEnvIsAcceptedAndAppEnvWins() throws {
        #expect(try Self.load(["node.env": "production", "jwt.secret": Self.strongSecret]).isProduction)
        #expect(try !Self.load(["node.env": "production", "app.env": "development"]).isProduction)
    }

    @Test(arguments: [
        ([:], "JWT_SECRET is required in production"),
        (["jwt.secret": "default-secret-change-in-production"], "well-known default"),
        (["jwt.secret": "short-secret"], "use at least 32"),
        (["jwt.secret": "only-thirty-one-characters-long"], "use at least 32"),
        (["jwt.secret": String(repeating: "ab", count: 20)], "too few distinct characters"),
    ])
    func productionRefusesAMissingOrWeakJWTSecret(values: [String: String], reason: String) {
        let error = #expect(throws: ConfigError.self) {
            _ = try Self.load(values.merging(["app.env": "production"]) { $1 })
        }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
        #expect(error?.reason.contains("\n") == false)
    }

    @Test(arguments: [
        (["port": "eighty"], "PORT must be an integer"),
        (["port": "70000"], "PORT must be an integer from 0 to 65535"),
        (["app.env": "staging"], "APP_ENV must be"),
        (["log.level": "loud"], "LOG_LEVEL must be"),
        (["database.url": "mysql://x"], "DATABASE_URL must start with"),
        (["request.timeout.ms": "10"], "REQUEST_TIMEOUT_MS"),
    ])
    func malformedSettingsAreRefusedWithTheirName(values: [String: String], reason: String) {
        let error = #expect(throws: ConfigError.self) { _ = try Self.load(values) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }
}
