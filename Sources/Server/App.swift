import ArgumentParser
import Configuration
import Foundation
import Handlers
import Hummingbird
import Logging
import ServiceLifecycle
import SystemPackage
import UnixSignals

@main
struct SafeAPIBridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safeapi-bridge",
        abstract: "A secure proxy between client apps and AI providers.",
        subcommands: [Serve.self, Migrate.self, CreateApp.self, RebuildRollups.self],
        defaultSubcommand: Serve.self
    )
}

/// Flags shared by every subcommand; each overrides its environment variable.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Address to listen on (HOST).") var host: String?
    @Option(help: "Port to listen on (PORT).") var port: Int?
    @Option(help: "Database URL (DATABASE_URL): sqlite:///path, file:./dev.db or postgres://…") var databaseURL: String?
    @Option(help: "Folder for the SQLite file and development secrets (DATA_DIR).") var dataDir: String?
    @Option(help: "Log level (LOG_LEVEL).") var logLevel: String?
    @Option(help: "An environment file to read; missing is fine.") var envFile = ".env"

    /// Flags first, then the environment, then the `.env` file.
    func reader() async throws -> ConfigReader {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { values["host"] = .init(.string(host), isSecret: false) }
        if let port { values["port"] = .init(.string(String(port)), isSecret: false) }
        if let databaseURL { values["database.url"] = .init(.string(databaseURL), isSecret: true) }
        if let dataDir { values["data.dir"] = .init(.string(dataDir), isSecret: false) }
        if let logLevel { values["log.level"] = .init(.string(logLevel), isSecret: false) }
        return ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(),
            try await EnvironmentVariablesProvider(environmentFilePath: FilePath(envFile), allowMissing: true),
        ])
    }

    /// The typed configuration, or exit 78 (EX_CONFIG) with a one-line reason.
    func load() async throws -> AppConfig {
        do {
            return try AppConfig.load(from: await reader())
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("safeapi-bridge: configuration error: \(error.reason)\n".utf8))
            throw ExitCode(78)
        }
    }
}

enum Logs {
    /// JSON lines on stdout for every logger of the process; the lines with `security.event` also
    /// go to the security log file when `securityLog` is given.
    static func bootstrap(level: Logger.Level, securityLog: SecurityLogFile? = nil) -> Logger {
        let sink = StandardOutputSink()
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level, sink: sink, securitySink: securityLog) }
        return Logger(label: "safeapi-bridge")
    }

    /// The security log file of the server, or exit 78 when its folder cannot be made.
    static func securityFile(_ config: AppConfig) throws -> SecurityLogFile? {
        guard let directory = config.logDirectory else { return nil }
        do {
            return try SecurityLogFile(directory: directory, retentionDays: config.securityLogRetentionDays)
        } catch {
            FileHandle.standardError.write(Data("safeapi-bridge: configuration error: LOG_DIR \(directory) cannot be created\n".utf8))
            throw ExitCode(78)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server (the default).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        var config = try await options.load()
        let logger = Logs.bootstrap(level: config.logLevel, securityLog: try Logs.securityFile(config))
        config.jwtSecret = try DevelopmentSecrets.jwtSecret(config: config, logger: logger)
        config.byokMasterKey = try DevelopmentSecrets.byokMasterKey(config: config, logger: logger)
        let app = try await buildApplication(config: config, logger: logger)
        logger.info("starting", metadata: [
            "environment": .string(config.environment.rawValue),
            "address": .string("\(config.host):\(config.port)"),
            "database": .string(config.database.description),
        ])
        var groupConfiguration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = config.shutdownTimeout
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("stopped")
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await options.load()
        let logger = Logs.bootstrap(level: config.logLevel)
        let report = try await DatabaseFactory.with(config.database, logger: logger) { database in
            try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
        }
        print("migrations: applied \(report.applied.count), schema version \(report.current)")
    }
}

struct RebuildRollups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild-rollups",
        abstract: "Recompute the hourly usage rollups from the usage rows (after importing or restoring rows). Run it with the server stopped."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await options.load()
        let logger = Logs.bootstrap(level: config.logLevel)
        let hours = try await DatabaseFactory.with(config.database, logger: logger) { database in
            try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
            return try await AnalyticsStore(database: database).rebuildRollups()
        }
        print("rollups: \(hours) rows")
    }
}

struct CreateApp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-app",
        abstract: "Register an app and print its id and secret (shown once), without the admin API."
    )

    @Argument(help: "The app's name.") var name: String
    @Option(help: "Choose the app id (3 to 128 of A-Z a-z 0-9 . _ @ -); random when absent.") var appId: String?
    @Option(help: "A description.") var description: String?
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await options.load()
        let logger = Logs.bootstrap(level: .warning)
        let (app, secret) = try await DatabaseFactory.with(config.database, logger: logger) { database in
            try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
            do {
                return try await AppStore(database: database).register(name: name, description: description, appId: appId)
            } catch let error as AppError {
                FileHandle.standardError.write(Data("safeapi-bridge: \(error.message)\n".utf8))
                throw ExitCode(error == .appExists ? 75 : 65)
            }
        }
        print("appId: \(app.appId)")
        print("appSecret: \(secret)")
        print("Store the secret in your app's backend now: it is not shown again.")
    }
}
