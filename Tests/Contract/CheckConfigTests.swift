import Configuration
import Foundation
import Handlers
import Logging
import SQLKit
import Testing

@testable import Server

/// `safeapi-bridge check-config`: the effective settings with secrets as set or unset, every
/// finding, exit 78 on an error.
@Suite("check-config")
struct CheckConfigTests {
    static func report(_ values: [String: String]) async -> (text: String, failed: Bool) {
        var content: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values {
            content[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = .init(.string(value), isSecret: false)
        }
        return await CheckConfig.report { ConfigReader(provider: InMemoryProvider(values: content)) }
    }

    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-check-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func secretsAreShownOnlyAsSetAndEverySettingIsListed() async throws {
        let data = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let canaries = [
            "jwt.secret": "canary-check-jwt-0f9e8d7c6b5a49382716", "admin.api.key": "canary-check-admin-1a2b3c4d5e6f70819",
            "byok.master.key": String(repeating: "ab", count: 32), "openai.api.key": "sk-canary-check-openai-5e4d3c2b1a",
        ]
        let (text, failed) = await Self.report(canaries.merging(["data.dir": data]) { $1 })
        #expect(!failed, "\(text)")
        for secret in canaries.values { #expect(!text.contains(secret)) }
        #expect(text.contains("ADMIN_API_KEY                 set"))
        #expect(text.contains("provider openai               https://api.openai.com/v1 (OPENAI_API_KEY: 1 key set)"))
        // Every setting README's table names is in the report, so the two stay in step.
        let readme = try String(contentsOf: NewcomerTests.root.appendingPathComponent("README.md"), encoding: .utf8)
        let named = readme.split(separator: "\n").filter { $0.hasPrefix("| `") }.flatMap { row in
            row.split(separator: "|")[0].split(separator: ",").compactMap { cell -> String? in
                let words = cell.trimmingCharacters(in: CharacterSet.whitespaces).split(separator: " ")
                let name = String(words.first ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                return name.contains("_") && name.allSatisfy { $0.isUppercase || $0 == "_" } ? name : nil
            }
        }
        #expect(named.count > 40)
        let listed = Set(ConfigReport.settings(try ConfigTests.load(["data.dir": data])).map(\.name))
        // Shown otherwise: the providers' keys and URLs on their own lines, the providers file and the
        // mock by the providers listed, the security log by LOG_DIR, NODE_ENV as APP_ENV.
        let exempt = Set(["NODE_ENV", "PROVIDERS_FILE", "MOCK_PROVIDER", "SECURITY_LOG_FILE"])
        let missing = Set(named).subtracting(listed).subtracting(exempt).filter {
            !$0.hasSuffix("_API_KEY") && !$0.hasSuffix("_API_KEYS") && !$0.hasSuffix("_BASE_URL")
        }
        #expect(missing.isEmpty, "README names settings check-config does not show: \(missing.sorted())")
    }

    @Test func problemsAreFoundAndAnErrorFails() async throws {
        let data = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let production = ["app.env": "production", "jwt.secret": ConfigTests.strongSecret, "data.dir": data]
        // Production behind nothing that can say HTTPS: every request would be refused.
        let (plain, plainFailed) = await Self.report(production)
        #expect(!plainFailed)
        #expect(plain.contains("warning: production without TLS_CERT_FILE and no TRUSTED_PROXIES"))
        #expect(plain.contains("notice: production on SQLite"))
        // TLS files that cannot be read stop the server: an error, and the exit fails.
        let (tls, tlsFailed) = await Self.report(
            production.merging(["tls.cert.file": "/nonexistent.pem", "tls.key.file": "/nonexistent.key"]) { $1 })
        #expect(tlsFailed)
        #expect(tls.contains("error: TLS_CERT_FILE/TLS_KEY_FILE could not be loaded"))
        // A metrics listener on every interface.
        let (metrics, _) = await Self.report(["data.dir": data, "metrics.port": "9464", "metrics.host": "0.0.0.0"])
        #expect(metrics.contains("warning: METRICS_HOST=0.0.0.0"))
        // A setting that cannot be read: the one reason, and nothing else is claimed.
        let (bad, badFailed) = await Self.report(["port": "not-a-port"])
        #expect(badFailed)
        #expect(
            bad
                == "error: PORT must be an integer from 0 to 65535 (got 'not-a-port')\ncheck-config: 1 error; fix it to see the other settings\n"
        )
        // A database nobody answers for.
        let (down, downFailed) = await Self.report(["data.dir": data, "database.url": "postgres://u:p@127.0.0.1:1/none"])
        #expect(downFailed)
        #expect(down.contains("error: the database (postgres://u@127.0.0.1:1/none"))
        #expect(!down.contains("u:p@"))
    }

    @Test(arguments: Harness.kinds)
    func migrationsPendingAndFromANewerBinaryAreReported(_ kind: DatabaseKind) async throws {
        try await Harness.withFreshConfig(kind) { config in
            let url: String
            switch config.database {
            case .sqlite(let path): url = "sqlite://" + path
            case .postgres: url = Harness.postgresURL ?? ""
            }
            let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            // All but the last migration applied, then one this binary does not know.
            try await DatabaseFactory.with(config.database, logger: logger) { database in
                try await Migrator(migrations: Array(Migrations.all.dropLast())).run(on: database, logger: logger)
                try await database.withSQL { sql in
                    try await sql.raw("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (999, 'future', 0)").run()
                }
            }
            guard case .sqlite = config.database else {
                // PostgreSQL: the fresh schema is named by the search path, which a URL cannot carry; check the comparison itself.
                let found = try await DatabaseFactory.with(config.database, logger: logger) { database in
                    try await Migrator(migrations: Migrations.all).compare(with: database)
                }
                #expect(found.pending == [Migrations.all.last!.version])
                #expect(found.unknown == [999])
                return
            }
            let (text, failed) = await Self.report(["data.dir": config.dataDirectory, "database.url": url])
            #expect(failed)
            #expect(text.contains("notice: 1 migration will be applied at start (\(Migrations.all.last!.version))"))
            #expect(text.contains("error: the database has migrations this binary does not know (999)"))
        }
    }
}
