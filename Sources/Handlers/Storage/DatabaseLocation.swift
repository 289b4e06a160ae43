import Foundation
import NIOSSL
public import PostgresNIO

/// Where the data lives, from `DATABASE_URL`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file (or `:memory:`).
    case sqlite(path: String)
    /// A PostgreSQL server. The password is kept out of `description`.
    case postgres(PostgresSettings)

    public struct PostgresSettings: Sendable, Equatable {
        public enum TLSMode: String, Sendable, Equatable {
            /// Plain TCP.
            case disable
            /// TLS when the server offers it, without certificate verification (libpq's default).
            case prefer
            /// TLS always, without certificate verification (libpq's `require`).
            case require
            /// TLS always, with the server's certificate and host name verified.
            case verifyFull = "verify-full"
        }

        public var host: String
        public var port: Int
        public var username: String
        public var password: Secret<String>?
        public var database: String
        public var tls: TLSMode
        public var maximumConnections: Int
        /// The schema(s) to use instead of `public`, set on every pooled connection.
        public var searchPath: String?

        public init(
            host: String, port: Int = 5432, username: String, password: Secret<String>?, database: String, tls: TLSMode = .prefer,
            maximumConnections: Int = 20, searchPath: String? = nil
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
            self.maximumConnections = maximumConnections
            self.searchPath = searchPath
        }

        /// The pool's configuration.
        public var clientConfiguration: PostgresClient.Configuration {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            if tls != .verifyFull { tlsConfiguration.certificateVerification = .none }
            let mode: PostgresClient.Configuration.TLS =
                switch tls {
                case .disable: .disable
                case .prefer: .prefer(tlsConfiguration)
                case .require, .verifyFull: .require(tlsConfiguration)
                }
            var configuration = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password?.value, database: database, tls: mode
            )
            configuration.options.maximumConnections = maximumConnections
            configuration.options.connectTimeout = .seconds(5)
            if let searchPath { configuration.options.additionalStartupParameters = [("search_path", searchPath)] }
            return configuration
        }
    }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { reason }
    }

    /// Parses `DATABASE_URL`. Unset or empty means the SQLite file `<dataDirectory>/safeapi.sqlite`.
    /// Accepted: `sqlite:///abs/path`, `sqlite://rel/path`, `sqlite::memory:`, `file:./dev.db`,
    /// `postgres://user:pass@host:5432/db?sslmode=disable` (`postgresql://` too).
    public static func parse(_ url: String?, dataDirectory: String) throws -> DatabaseLocation {
        guard let url = url?.trimmingCharacters(in: .whitespaces), !url.isEmpty else {
            return .sqlite(path: (dataDirectory as NSString).appendingPathComponent("safeapi.sqlite"))
        }
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return .sqlite(path: ":memory:")
        }
        for prefix in ["sqlite://", "sqlite:", "file://", "file:"] where url.hasPrefix(prefix) {
            let path = String(url.dropFirst(prefix.count))
            guard !path.isEmpty, !path.contains("?") else {
                throw ParseError(reason: "DATABASE_URL: a SQLite URL needs a file path and takes no options")
            }
            return .sqlite(path: path)
        }
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw ParseError(reason: "DATABASE_URL must start with postgres://, postgresql://, sqlite: or file:")
        }
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw ParseError(reason: "DATABASE_URL is not a valid postgres:// URL")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ParseError(reason: "DATABASE_URL needs a user name (postgres://user@host/db)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw ParseError(reason: "DATABASE_URL needs a database name (postgres://user@host/db)")
        }
        var tls = PostgresSettings.TLSMode.prefer
        var maximumConnections = 20
        var searchPath: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(PostgresSettings.TLSMode.init(rawValue:)) else {
                    throw ParseError(reason: "DATABASE_URL: sslmode must be disable, prefer, require or verify-full")
                }
                tls = mode
            case "pool_max":
                guard let value = item.value.flatMap(Int.init), (1...500).contains(value) else {
                    throw ParseError(reason: "DATABASE_URL: pool_max must be an integer from 1 to 500")
                }
                maximumConnections = value
            case "search_path":
                guard let value = item.value, !value.isEmpty,
                    value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "," })
                else {
                    throw ParseError(reason: "DATABASE_URL: search_path must be schema names (letters, digits, _) separated by commas")
                }
                searchPath = value
            default:
                throw ParseError(reason: "DATABASE_URL: unknown option '\(item.name)' (known: sslmode, pool_max, search_path)")
            }
        }
        return .postgres(
            PostgresSettings(
                host: host,
                port: components.port ?? 5432,
                username: user.removingPercentEncoding ?? user,
                password: components.password.map { Secret($0.removingPercentEncoding ?? $0) },
                database: database.removingPercentEncoding ?? database,
                tls: tls,
                maximumConnections: maximumConnections,
                searchPath: searchPath
            ))
    }

    public var kind: DatabaseKind {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// Safe to log: no password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let settings):
            "postgres://\(settings.username)@\(settings.host):\(settings.port)/\(settings.database)?sslmode=\(settings.tls.rawValue)"
                + (settings.searchPath.map { "&search_path=\($0)" } ?? "")
        }
    }
}
