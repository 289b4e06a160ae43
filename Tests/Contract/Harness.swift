import AsyncHTTPClient
import Foundation
import Generated
import Handlers
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import SQLKit
@testable import Server

/// Builds the real application in process, on a fresh database, with logs captured in memory so
/// tests can search them (for secrets, for request ids).
enum Harness {
    static let postgresURL = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static var kinds: [DatabaseKind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// A canary: if this string shows up in a log line or a response, a secret leaked.
    static let jwtSecretCanary = "canary-jwt-secret-7f3a9c2e5b1d4f6a8c0e2b4d6f8a0c2e"

    static func config(database: DatabaseLocation, dataDirectory: String) -> AppConfig {
        AppConfig(
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
            let schema = "contract_" + Hex.encode(RandomBytes.make(count: 6))
            let admin = PostgresBackend(configuration: settings.clientConfiguration, logger: Logger(label: "test-admin"))
            let run = Task { await admin.client.run() }
            defer { run.cancel() }
            try await admin.withSQL { try await $0.raw(SQLQueryString("CREATE SCHEMA " + schema)).run() }
            settings.searchPath = schema
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

    /// The application as the server builds it, tested through Hummingbird's router client.
    static func withApp<Result: Sendable>(
        _ kind: DatabaseKind,
        sink: MemorySink = MemorySink(),
        _ body: @escaping @Sendable (any TestClientProtocol, AppConfig) async throws -> Result
    ) async throws -> Result {
        try await withFreshConfig(kind) { config in
            let app = try await buildApplication(config: config, logger: logger(sink))
            let box = Box<Result>()
            try await app.test(.router) { client in
                await box.set(try await body(client, config))
            }
            return try await box.get()
        }
    }
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
