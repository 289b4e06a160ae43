import AsyncHTTPClient
import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import SQLKit

@testable import Handlers
@testable import Server

/// Builds the real application in process, on a fresh database, with logs captured in memory so
/// tests can search them (for secrets, for request ids).
enum Harness {
    static let postgresURL = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static var kinds: [DatabaseKind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// A canary: if this string shows up in a log line or a response, a secret leaked.
    static let jwtSecretCanary = "canary-jwt-secret-7f3a9c2e5b1d4f6a8c0e2b4d6f8a0c2e"
    static let adminKeyCanary = "canary-admin-key-4e6a8c0e2b4d6f8a0c2e7f3a9c2e5b1d"
    static let byokMasterKey = RandomBytes.make(count: 32)

    /// The built-in providers (no keys: `openai` answers 503) and the mock servers' test providers.
    static func providers() async throws -> ProviderRegistry {
        let port = try await MockProviderServer.shared.port()
        let definitions = try ProvidersFile.defaults().providers + MockProviderServer.shared.providers(port: port)
        return ProviderRegistry.resolve(definitions, mockEnabled: true) { $0 == "TESTAI_API_KEY" ? MockProviderServer.upstreamKey : nil }
    }

    static func config(database: DatabaseLocation, dataDirectory: String) -> AppConfig {
        var config = AppConfig(
            environment: .test,
            host: "127.0.0.1",
            port: 0,
            dataDirectory: dataDirectory,
            database: database,
            jwtSecret: Secret(jwtSecretCanary),
            logLevel: .debug,
            requestTimeout: .seconds(30),
            shutdownTimeout: .seconds(5)
        )
        config.adminAPIKey = Secret(adminKeyCanary)
        config.byokMasterKey = Secret(byokMasterKey)
        config.upstreamTimeout = .seconds(2)
        // Limits high enough for the suites' bursts; the limit tests set their own.
        config.edge.ipRateLimit = 1_000_000
        config.edge.authRateLimit = 1_000_000
        config.edge.userRateLimit = 1_000_000
        return config
    }

    static func logger(_ sink: MemorySink) -> Logger {
        Logger(label: "safeapi-bridge") { JSONLogHandler(label: $0, level: .debug, sink: sink) }
    }

    /// Runs `body` with the configuration of a fresh database of `kind`.
    static func withFreshConfig<Result>(_ kind: DatabaseKind, _ body: (AppConfig) async throws -> Result) async throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-contract-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        switch kind {
        case .sqlite:
            let path = (folder as NSString).appendingPathComponent("test.sqlite")
            return try await body(config(database: .sqlite(path: path), dataDirectory: folder))
        case .postgres:
            guard case .postgres(var settings) = try DatabaseLocation.parse(postgresURL, dataDirectory: folder) else {
                fatalError("TEST_DATABASE_URL is not a postgres:// URL")
            }
            // PostgreSQL allows 100 connections: a few cases at a time, with small pools.
            return try await PostgresGate.shared.run {
                let schema = "contract_" + Hex.encode(RandomBytes.make(count: 6))
                settings.maximumConnections = 1
                let admin = PostgresBackend(configuration: settings.clientConfiguration, logger: Logger(label: "test-admin"))
                let run = Task { await admin.client.run() }
                defer { run.cancel() }
                try await admin.withSQL { try await $0.raw(SQLQueryString("CREATE SCHEMA " + schema)).run() }
                settings.searchPath = schema
                settings.maximumConnections = 4
                do {
                    let result = try await body(config(database: .postgres(settings), dataDirectory: folder))
                    try await admin.withSQL { try await $0.raw(SQLQueryString("DROP SCHEMA " + schema + " CASCADE")).run() }
                    return result
                } catch {
                    try? await admin.withSQL { try await $0.raw(SQLQueryString("DROP SCHEMA " + schema + " CASCADE")).run() }
                    throw error
                }
            }
        }
    }

    /// The application as the server builds it, tested through Hummingbird's router client.
    static func withApp<Result: Sendable>(
        _ kind: DatabaseKind,
        sink: MemorySink = MemorySink(),
        configure: (inout AppConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (any TestClientProtocol, AppConfig) async throws -> Result
    ) async throws -> Result {
        let providers = try await providers()
        return try await withFreshConfig(kind) { config in
            var configured = config
            configured.providers = providers
            configure(&configured)
            let final = configured
            let app = try await buildApplication(config: final, logger: logger(sink))
            let box = Box<Result>()
            try await app.test(.router) { client in
                await box.set(try await body(client, final))
            }
            return try await box.get()
        }
    }
}

extension Harness {
    /// Webhooks to private addresses allowed, and the outbox kept: nothing is delivered, so a test
    /// reads what was queued (`GET /admin/webhooks/{id}/deliveries`).
    static func holdingWebhooks(_ config: inout AppConfig) {
        config.webhookAllowPrivate = true
        config.webhookPollInterval = .seconds(60)
    }

    /// Two instances of the application over one database, as two servers behind a load balancer.
    static func withTwoInstances<Result: Sendable>(
        _ kind: DatabaseKind,
        sink: MemorySink = MemorySink(),
        configure: (inout AppConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (Fixture, Fixture) async throws -> Result
    ) async throws -> Result {
        let providers = try await providers()
        return try await withFreshConfig(kind) { config in
            var configured = config
            configured.providers = providers
            configure(&configured)
            let first = try await buildApplication(config: configured, logger: logger(sink))
            let second = try await buildApplication(config: configured, logger: logger(sink))
            let box = Box<Result>()
            try await first.test(.router) { one in
                try await second.test(.router) { two in
                    await box.set(try await body(Fixture(client: one), Fixture(client: two)))
                }
            }
            return try await box.get()
        }
    }
}

/// Lets a few PostgreSQL test cases run at once, so their pools fit in the server's connections.
enum PostgresGate {
    static let shared = Permits(6)
}

/// Carries a value out of a test closure.
actor Box<Value: Sendable> {
    private var value: Value?
    func set(_ value: Value) { self.value = value }
    func get() throws -> Value {
        guard let value else { throw CancellationError() }
        return value
    }
}

extension HTTPField.Name {
    /// The split-key headers a client sends (the spec's `X-Partial-Key-Id` and `X-Partial-Key`).
    static let partialKeyId = Self("X-Partial-Key-Id")!
    static let partialKey = Self("X-Partial-Key")!
}
