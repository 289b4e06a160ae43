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

    var isProduction: Bool { environment == .production }
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
        if environment == .production {
            guard let secret = jwtSecret else {
                throw ConfigError(reason: "JWT_SECRET is required in production (at least 32 random characters, e.g. `openssl rand -hex 32`)")
            }
            if let weakness = weakness(of: secret.value) {
                throw ConfigError(reason: "JWT_SECRET is too weak for production: \(weakness)")
            }
        }
        let levelName = (reader.string(forKey: "log.level") ?? "info").lowercased()
        guard let logLevel = Logger.Level(rawValue: levelName == "warn" ? "warning" : levelName) else {
            throw ConfigError(reason: "LOG_LEVEL must be trace, debug, info, notice, warning, error or critical (got '\(levelName)')")
        }
        let requestTimeout = try integer(reader, "request.timeout.ms", name: "REQUEST_TIMEOUT_MS", default: 30_000, range: 1_000...3_600_000)
        let shutdownTimeout = try integer(reader, "shutdown.timeout.ms", name: "SHUTDOWN_TIMEOUT_MS", default: 15_000, range: 0...600_000)
        return AppConfig(
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
    }

    /// Why a secret is weak, or nil: shorter than 32 characters, a known default, or too few
    /// distinct characters to be random.
    static func weakness(of secret: String) -> String? {
        if weakSecrets.contains(secret.lowercased()) { return "it is a well-known default" }
        if secret.count < 32 { return "it has \(secret.count) characters; use at least 32" }
        if Set(secret).count < 10 { return "it has too few distinct characters to be random" }
        return nil
    }

    private static func integer(_ reader: ConfigReader, _ key: ConfigKey, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = reader.string(forKey: key) else { return value }
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigError(reason: "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return number
    }
}
