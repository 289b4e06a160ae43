import ArgumentParser
import Configuration
import Foundation
import Generated
import Handlers
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SystemPackage
import UnixSignals

@main
struct SafeAPIBridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safeapi-bridge",
        abstract: "A secure proxy between client apps and AI providers.",
        discussion: """
            With no subcommand it runs `serve`, and takes `serve`'s options: \
            `safeapi-bridge --port 8080` is `safeapi-bridge serve --port 8080`. \
            Every setting is also read from the environment and a `.env` file (README.md, .env.example).
            """,
        subcommands: [Serve.self, CheckConfig.self, Migrate.self, CreateApp.self, RebuildRollups.self, ExportUsage.self],
        defaultSubcommand: Serve.self
    )
}

/// A configuration error: one line on stderr, exit 78 (EX_CONFIG), as for every setting.
func configurationError(_ reason: String) -> ExitCode {
    FileHandle.standardError.write(Data("safeapi-bridge: configuration error: \(reason)\n".utf8))
    return ExitCode(78)
}

/// `body`, with a `ConfigError` turned into a configuration error's exit.
func exitingOnConfigError<Value>(_ body: () async throws -> Value) async throws -> Value {
    do {
        return try await body()
    } catch let error as ConfigError {
        throw configurationError(error.reason)
    }
}

/// Flags shared by every subcommand; each overrides its environment variable.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Database URL (DATABASE_URL): sqlite:///path, file:./dev.db or postgres://…") var databaseURL: String?
    @Option(help: "Folder for the SQLite file and development secrets (DATA_DIR).") var dataDir: String?
    @Option(help: "Log level (LOG_LEVEL).") var logLevel: String?
    @Option(help: "An environment file to read (default: ./.env when it exists).") var envFile: String?

    /// Flags first (`extra`: the subcommand's own), then the environment, then the `.env` file.
    func reader(extra: [AbsoluteConfigKey: ConfigValue] = [:]) async throws -> ConfigReader {
        var values = extra
        if let databaseURL { values["database.url"] = .init(.string(databaseURL), isSecret: true) }
        if let dataDir { values["data.dir"] = .init(.string(dataDir), isSecret: false) }
        if let logLevel { values["log.level"] = .init(.string(logLevel), isSecret: false) }
        // The default file may be missing; a file named on the command line must exist.
        if let envFile, !FileManager.default.isReadableFile(atPath: envFile) {
            throw ConfigError(reason: "--env-file \(envFile): no such readable file")
        }
        return ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(),
            try await EnvironmentVariablesProvider(environmentFilePath: FilePath(envFile ?? ".env"), allowMissing: envFile == nil),
        ])
    }

    /// The typed configuration, or exit 78 (EX_CONFIG) with a one-line reason.
    func load(extra: [AbsoluteConfigKey: ConfigValue] = [:]) async throws -> AppConfig {
        try await exitingOnConfigError { try AppConfig.load(from: await reader(extra: extra)) }
    }
}

/// The server's own flags.
struct ListenOptions: ParsableArguments {
    @Option(help: "Address to listen on (HOST).") var host: String?
    @Option(help: "Port to listen on (PORT).") var port: Int?

    var values: [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { values["host"] = .init(.string(host), isSecret: false) }
        if let port { values["port"] = .init(.string(String(port)), isSecret: false) }
        return values
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
            throw configurationError("LOG_DIR \(directory) cannot be created")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server (the default).")

    @OptionGroup var listen: ListenOptions
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        // Swift concurrency's jobs run on the server's NIO event loops (those of the listener,
        // the upstream client and PostgreSQL), not on a pool of their own: a request's awaits no
        // longer hop between two sets of threads. Measured: 28 % more requests/s, 22 % less CPU
        // per request (docs/performance.md). Nothing here blocks a thread in async code (SQLite
        // runs on its own threads), which is what this requires.
        let onEventLoops = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        var config = try await options.load(extra: listen.values)
        let logger = Logs.bootstrap(level: config.logLevel, securityLog: try Logs.securityFile(config))
        config.jwtSecret = try DevelopmentSecrets.jwtSecret(config: config, logger: logger)
        config.byokMasterKey = try DevelopmentSecrets.byokMasterKey(config: config, logger: logger)
        let app = try await exitingOnConfigError { try await buildApplication(config: config, logger: logger) }
        logger.info(
            "starting",
            metadata: [
                "environment": .string(config.environment.rawValue),
                "address": .string("\(config.host):\(config.port)"),
                "database": .string(config.database.description),
                "executor": .string(onEventLoops ? "nio-event-loops" : "default"),
            ])
        var groupConfiguration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = config.shutdownTimeout
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch let error as IOError where [EADDRINUSE, EADDRNOTAVAIL, EACCES].contains(error.errnoCode) {
            // The listening socket could not be bound: say which address, and what to do.
            let address = "\(config.host):\(config.port)"
            switch error.errnoCode {
            case EADDRINUSE:
                throw configurationError(
                    "cannot listen on \(address): the address is already in use (another server, or an earlier one still running); stop it or choose another PORT"
                )
            case EADDRNOTAVAIL:
                throw configurationError(
                    "cannot listen on \(address): HOST is not an address of this machine; use 127.0.0.1, 0.0.0.0 or one of its addresses")
            default:
                throw configurationError(
                    "cannot listen on \(address): permission denied (ports below 1024 need privileges); choose a PORT of 1024 or more")
            }
        }
        logger.info("stopped")
    }

}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await options.load()
        let logger = Logs.bootstrap(level: config.logLevel)
        let progress = TerminalProgress()
        let report = try await DatabaseFactory.with(config.database, logger: logger) { database in
            try await Migrator(migrations: Migrations.all).run(on: database, logger: logger, progress: progress.report)
        }
        progress.finish()
        print("migrations: applied \(report.applied.count), schema version \(report.current)")
        if !report.unknown.isEmpty { print("warning: \(MigrationFindings.newer(report.unknown))") }
    }
}

struct RebuildRollups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild-rollups",
        abstract:
            "Recompute the hourly usage rollups from the usage rows (after importing or restoring rows). Run it with the server stopped."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await options.load()
        let logger = Logs.bootstrap(level: config.logLevel)
        let progress = TerminalProgress()
        let hours = try await DatabaseFactory.with(config.database, logger: logger) { database in
            try await Migrator(migrations: Migrations.all).run(on: database, logger: logger, progress: progress.report)
            return try await AnalyticsStore(database: database).rebuildRollups(progress: progress.report)
        }
        progress.finish()
        print("rollups: \(hours) rows")
    }
}

struct ExportUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-usage",
        abstract: "Write the usage rows added since the last run (JSON Lines or CSV), for a warehouse; run it periodically.",
        discussion: """
            The cursor file holds the id of the last row exported; it is created on the first run (which \
            exports every row) and advanced only once the output is written. With --output the rows go to a \
            new file, written whole or not at all. Each row carries its id. docs/analytics.md.
            """
    )

    @Option(help: "The file that keeps the cursor between runs.") var cursorFile: String
    @Option(help: "jsonl or csv.") var format: String = "jsonl"
    @Option(help: "Write to this file (replaced whole) instead of standard output.") var output: String?
    @Option(help: "Seconds to wait after reading the last row id, so that every write that drew a smaller id has committed.")
    var settle: Double = 2
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await options.load()
        let (count, cursor) = try await export(config: config, logger: Logs.bootstrap(level: .warning))
        FileHandle.standardError.write(Data("export-usage: \(count) rows, cursor \(cursor)\n".utf8))
    }

    /// Writes the rows after the cursor, then advances the cursor file; answers how many and the
    /// new cursor.
    func export(config: AppConfig, logger: Logger) async throws -> (count: Int64, cursor: Int64) {
        guard let format = UsageExport.Format(rawValue: format) else {
            throw ValidationError("--format must be one of: \(UsageExport.Format.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // No file: the first run, from the first row. A file that cannot be read is an error, not
        // a reason to send every row again.
        var stored: Int64 = 0
        if FileManager.default.fileExists(atPath: cursorFile) {
            let text = try String(contentsOfFile: cursorFile, encoding: .utf8)
            guard let value = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), value >= 0 else {
                throw ValidationError("\(cursorFile) does not hold a cursor (a row id)")
            }
            stored = value
        }
        let after = stored
        let target = output.map { $0 + ".partial" }
        let sink: FileHandle
        if let target {
            guard FileManager.default.createFile(atPath: target, contents: nil), let file = FileHandle(forWritingAtPath: target) else {
                throw ValidationError("cannot write \(target)")
            }
            sink = file
        } else {
            sink = .standardOutput
        }
        let settle = self.settle
        let (count, upTo) = try await DatabaseFactory.with(config.database, logger: logger) { database in
            try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
            let store = AnalyticsStore(database: database)
            let upTo = max(try await store.lastRowId(), after)
            try await Task.sleep(for: .milliseconds(Int(settle * 1000)))
            let export = UsageExport(store: store, format: format)
            if let header = export.header { sink.write(Data(header.utf8)) }
            return (try await export.run(after: after, upTo: upTo) { sink.write(Data($0.utf8)) }, upTo)
        }
        if let output, let target {
            try sink.synchronize()
            try sink.close()
            guard rename(target, output) == 0 else { throw ValidationError("cannot move \(target) to \(output)") }
        }
        try Data("\(upTo)\n".utf8).write(to: URL(fileURLWithPath: cursorFile), options: .atomic)
        return (count, upTo)
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
                try CreateAppRequest(name: name, description: description, appId: appId).validate(at: "")
                return try await AppStore(database: database).register(name: name, description: description, appId: appId)
            } catch let error as InputError {
                FileHandle.standardError.write(Data("safeapi-bridge: \(error.description)\n".utf8))
                throw ExitCode(65)
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

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Print the effective settings and every problem the server would start with; exit 78 on an error.",
        discussion: """
            Reads the same flags, environment and .env file as serve. Secrets are shown only as set or unset. \
            It opens the database to compare its migrations with this binary's, but writes no data: an \
            SQLite file that does not exist yet is not created.
            """
    )

    @OptionGroup var listen: ListenOptions
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let (text, failed) = await Self.report(reader: { try await options.reader(extra: listen.values) })
        print(text, terminator: "")
        if failed { throw ExitCode(78) }
    }

    /// The report's text, and whether it found an error.
    static func report(reader: () async throws -> ConfigReader) async -> (text: String, failed: Bool) {
        let config: AppConfig
        do {
            config = try AppConfig.load(from: try await reader())
        } catch {
            let reason = (error as? ConfigError)?.reason ?? String(describing: error)
            return ("error: \(reason)\ncheck-config: 1 error; fix it to see the other settings\n", true)
        }
        let findings = (ConfigReport.findings(config) + fileFindings(config) + (await databaseFindings(config))).sorted {
            $0.level < $1.level
        }
        let settings = ConfigReport.settings(config)
        let width = settings.map(\.name.count).max() ?? 0
        var text = "Settings\n"
        for (name, value) in settings { text += "  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value + "\n" }
        text += findings.isEmpty ? "\nNo problems found.\n" : "\nFindings\n" + findings.map { "  \($0)\n" }.joined()
        let count = { (level: ConfigReport.Finding.Level) in findings.filter { $0.level == level }.count }
        let counted = { (level: ConfigReport.Finding.Level) in "\(count(level)) \(level.rawValue)\(count(level) == 1 ? "" : "s")" }
        text += "check-config: \(counted(.error)), \(counted(.warning)), \(counted(.notice))\n"
        return (text, count(.error) > 0)
    }

    /// The files the server would read or make: TLS, the security log's folder, the data folder.
    static func fileFindings(_ config: AppConfig) -> [ConfigReport.Finding] {
        var found: [ConfigReport.Finding] = []
        do {
            _ = try serverBuilder(config)
        } catch {
            found.append(.init(level: .error, message: (error as? ConfigError)?.reason ?? String(describing: error)))
        }
        var folders = [("DATA_DIR", config.dataDirectory)]
        if let logs = config.logDirectory { folders.append(("LOG_DIR", logs)) }
        for (name, folder) in folders where !canWrite(folder) {
            found.append(.init(level: .error, message: "\(name) \(folder) cannot be created or written"))
        }
        return found
    }

    /// The folder exists and is writable, or its nearest existing parent is.
    static func canWrite(_ folder: String) -> Bool {
        var path = URL(fileURLWithPath: folder).standardizedFileURL.path
        while !FileManager.default.fileExists(atPath: path) {
            let parent = (path as NSString).deletingLastPathComponent
            guard parent != path else { return false }
            path = parent
        }
        return FileManager.default.isWritableFile(atPath: path)
    }

    /// The database: reachable within 5 s, and its migrations against this binary's.
    static func databaseFindings(_ config: AppConfig) async -> [ConfigReport.Finding] {
        if case .sqlite(let path) = config.database, !FileManager.default.fileExists(atPath: path) {
            return [.init(level: .notice, message: "the SQLite file \(path) does not exist yet: it is created at start")]
        }
        let quiet = Logger(label: "check-config") { _ in SwiftLogNoOpLogHandler() }
        do {
            let (pending, unknown) = try await Deadline.run(within: .seconds(5)) {
                try await DatabaseFactory.with(config.database, logger: quiet) { database in
                    try await Migrator(migrations: Migrations.all).compare(with: database)
                }
            }
            var found: [ConfigReport.Finding] = []
            if !unknown.isEmpty { found.append(.init(level: .error, message: MigrationFindings.newer(unknown))) }
            if !pending.isEmpty {
                found.append(
                    .init(
                        level: .notice,
                        message:
                            "\(pending.count) migration\(pending.count == 1 ? "" : "s") will be applied at start (\(pending.map(String.init).joined(separator: ", ")))"
                    ))
            }
            return found
        } catch {
            return [
                .init(level: .error, message: "the database (\(config.database)) cannot be reached: \(String(reflecting: type(of: error)))")
            ]
        }
    }
}
