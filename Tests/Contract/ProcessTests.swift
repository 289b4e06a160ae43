import AsyncHTTPClient
import Foundation
import Generated
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SQLKit
import ServiceLifecycle
import Testing

@testable import Handlers
@testable import Server

/// The built `safeapi-bridge` executable, run as a new user would run it.
@Suite("The server process", .serialized)
struct ProcessTests {
    static var executable: URL {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                Bundle.main.bundleURL,
                Bundle.main.bundleURL.deletingLastPathComponent(),
            ]
            for folder in candidates {
                let url = folder.appendingPathComponent("safeapi-bridge")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
            throw CocoaError(
                .fileNoSuchFile, userInfo: [NSFilePathErrorKey: "safeapi-bridge next to the test bundle; run `swift build --build-tests`"])
        }
    }

    /// A running server process (or another program: `executable`) whose stdout is collected line
    /// by line. Started with
    /// `posix_spawn`, not Foundation's `Process`: on Linux with Swift 6.3 `Process.run()` can
    /// crash reading `/proc/self/fd` (swift-corelibs-foundation #5472), which CI hit.
    final class Server: @unchecked Sendable {
        private let pid: pid_t
        private let errors: Int32
        private let lock = NSLock()
        private var buffer = Data()
        private var exitStatus: Int32?

        init(executable: String? = nil, arguments: [String] = [], environment: [String: String] = [:], directory: URL) throws {
            let path = try executable ?? ProcessTests.executable.path
            var output: [Int32] = [0, 0]
            var errors: [Int32] = [0, 0]
            guard pipe(&output) == 0, pipe(&errors) == 0 else { throw POSIXError(.EMFILE) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, output[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
            // The child gets no other descriptor of the test process (its sockets, its pipes).
            _ = try Self.glibc(
                "posix_spawn_file_actions_addclosefrom_np",
                as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)(&actions, 3)
            _ = try directory.path.withCString { folder in
                try Self.glibc(
                    "posix_spawn_file_actions_addchdir_np",
                    as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)(
                        &actions, folder)
            }
            let variables = ["PATH": "/usr/bin:/bin", "HOME": directory.path].merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
            let argv = ([path] + arguments).map { strdup($0) } + [nil]
            let envp = variables.map { strdup($0) } + [nil]
            defer { for pointer in argv + envp { free(pointer) } }
            var pid = pid_t()
            let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
            close(output[1])
            close(errors[1])
            guard spawned == 0 else {
                close(output[0])
                close(errors[0])
                throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL)
            }
            self.pid = pid
            self.errors = errors[0]
            let reader = output[0]
            Thread.detachNewThread { [self] in
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(reader, &chunk, chunk.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    lock.lock()
                    buffer.append(contentsOf: chunk[0..<count])
                    lock.unlock()
                }
                close(reader)
            }
        }

        private static func glibc<Function>(_ name: String, as type: Function.Type) throws -> Function {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { throw POSIXError(.ENOSYS) }
            return unsafeBitCast(symbol, to: type)
        }

        deinit {
            close(errors)
        }

        /// Reaps the child once it has exited; true while it runs.
        var isRunning: Bool {
            lock.lock()
            defer { lock.unlock() }
            if exitStatus != nil { return false }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return true }
            // Exited: its code; killed by a signal: the signal's number (as Foundation reports it).
            exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : status & 0x7f
            return false
        }

        func terminate() { kill(pid, SIGTERM) }

        func interrupt() { kill(pid, SIGINT) }

        var lines: [String] {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init)
        }

        /// Everything the process wrote to stderr (read to the end: call it once it has exited).
        var standardError: String {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(errors, &chunk, chunk.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                bytes += chunk[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// The port from the "listening on" log line.
        func port(within timeout: Duration = .seconds(20)) async throws -> Int {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let line = lines.first(where: { $0.contains("listening on 127.0.0.1:") }),
                    let text = line.split(separator: ":").last?.prefix(while: \.isNumber), let port = Int(text)
                {
                    return port
                }
                guard isRunning else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw CancellationError()
        }

        func waitForExit(within timeout: Duration = .seconds(20)) async throws -> Int32 {
            let deadline = ContinuousClock.now + timeout
            while isRunning {
                guard ContinuousClock.now < deadline else {
                    interrupt()
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            return lock.withLock { exitStatus ?? -1 }
        }
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("safeapi-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func aNewUserRunsTheServerWithNoConfigurationAndStopsItWithSIGTERM() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try Server(environment: ["PORT": "0"], directory: folder)
        let port = try await server.port()

        let response = try await HTTPClient.shared.get(url: "http://127.0.0.1:\(port)/health").get()
        #expect(response.status == .ok)
        let requestId = try #require(response.headers.first(name: "x-request-id"))
        let ready = try await HTTPClient.shared.get(url: "http://127.0.0.1:\(port)/ready").get()
        #expect(ready.status == .ok)

        // The development secret was generated once, readable by the owner only.
        let secretPath = folder.appendingPathComponent("data/jwt-secret").path
        let secret = try String(contentsOfFile: secretPath, encoding: .utf8)
        #expect(secret.count == 64)
        let permissions = try FileManager.default.attributesOfItem(atPath: secretPath)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("data/safeapi.sqlite").path))
        let masterPath = folder.appendingPathComponent("data/byok-master-key").path
        let master = try String(contentsOfFile: masterPath, encoding: .utf8)
        #expect(master.count == 64)
        #expect(try FileManager.default.attributesOfItem(atPath: masterPath)[.posixPermissions] as? Int == 0o600)

        server.terminate()  // SIGTERM
        #expect(try await server.waitForExit() == 0)

        let lines = server.lines
        #expect(lines.contains { $0.contains("GENERATED a development secret") })
        #expect(lines.contains { $0.contains("\"requestId\":\"\(requestId)\"") && $0.contains("/health") })
        #expect(lines.last?.contains("\"msg\":\"stopped\"") == true)
        // The background jobs start after the migrations: a first start on a new database logs
        // no failed round (usage retention, webhook delivery, reloads).
        #expect(!lines.contains { $0.contains("failed") }, "\(lines.filter { $0.contains("failed") })")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not a JSON log line: \(line)")
            #expect(!line.contains(secret), "the JWT secret was logged")
            #expect(!line.contains(master), "the BYOK master key was logged")
        }

        // A second start keeps the same secret.
        let again = try Server(environment: ["PORT": "0"], directory: folder)
        _ = try await again.port()
        again.terminate()
        #expect(try await again.waitForExit() == 0)
        #expect(try String(contentsOfFile: secretPath, encoding: .utf8) == secret)
        #expect(again.lines.contains { $0.contains("using the development secret") })
    }

    @Test func productionWithoutAJWTSecretRefusesToStartWithOneLine() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try Server(environment: ["PORT": "0", "APP_ENV": "production"], directory: folder)
        #expect(try await server.waitForExit() == 78)
        let message = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(message.hasPrefix("safeapi-bridge: configuration error: JWT_SECRET is required in production"))
        #expect(!message.contains("\n"))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("data/jwt-secret").path))
    }

    @Test func theDotEnvFileIsReadAndTheEnvironmentWins() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "APP_ENV=production\nJWT_SECRET=short\n".write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        let refused = try Server(environment: ["PORT": "0"], directory: folder)
        #expect(try await refused.waitForExit() == 78)
        #expect(refused.standardError.contains("JWT_SECRET is too weak"))
        // Too short is refused in development as well (HS256 needs 32 bytes).
        let short = try Server(environment: ["PORT": "0", "APP_ENV": "development", "JWT_SECRET": "dev"], directory: folder)
        #expect(try await short.waitForExit() == 78)
        let accepted = try Server(environment: ["PORT": "0", "JWT_SECRET": "5b8e1f4a7c0d3e6b9a2c5f8e1b4d7a0c"], directory: folder)
        _ = try await accepted.port()
        accepted.terminate()
        #expect(try await accepted.waitForExit() == 0)
    }

    @Test func aPortInUseIsAConfigurationErrorThatSaysWhichAddress() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try Server(environment: ["PORT": "0"], directory: folder)
        let port = try await first.port()
        let second = try Server(environment: ["PORT": String(port)], directory: folder)
        #expect(try await second.waitForExit() == 78)
        let message = second.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            message.hasPrefix("safeapi-bridge: configuration error: cannot listen on 127.0.0.1:\(port): the address is already in use"),
            "\(message)")
        #expect(!message.contains("\n"))
        first.terminate()
        #expect(try await first.waitForExit() == 0)
    }

    @Test func anEnvFileNamedOnTheCommandLineMustExist() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try Server(arguments: ["--env-file", "/nonexistent/.env"], environment: ["PORT": "0"], directory: folder)
        #expect(try await server.waitForExit() == 78)
        #expect(server.standardError.contains("configuration error: --env-file /nonexistent/.env: no such readable file"))
    }

    @Test func helpShowsTheServerFlagsWhereTheyApply() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        func help(_ arguments: [String]) async throws -> String {
            let process = try Server(arguments: arguments, directory: folder)
            #expect(try await process.waitForExit() == 0)
            return process.lines.joined(separator: "\n")
        }
        let top = try await help(["--help"])
        #expect(top.contains("With no subcommand it runs `serve`"), "\(top)")
        #expect(try await help(["serve", "--help"]).contains("--port"))
        for command in ["create-app", "migrate", "rebuild-rollups"] {
            let text = try await help([command, "--help"])
            #expect(text.contains("--database-url"), "\(command)")
            #expect(!text.contains("--port") && !text.contains("--host"), "\(command) lists flags it ignores")
        }
    }

    @Test func migrateAppliesAndExits() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try Server(arguments: ["migrate", "--database-url", "sqlite://./db/test.sqlite"], directory: folder)
        #expect(try await server.waitForExit() == 0)
        #expect(server.lines.contains { $0.hasPrefix("migrations: applied \(Migrations.all.count), schema version") })
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("db/test.sqlite").path))
    }

    @Test func longCommandsShowProgressOnATerminalAndNothingWhenPiped() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Piped: the statements go by without a word on stderr.
        let piped = try Server(arguments: ["rebuild-rollups", "--database-url", "sqlite://./piped.sqlite"], directory: folder)
        #expect(try await piped.waitForExit() == 0)
        let quiet = piped.standardError
        #expect(!quiet.contains("[1/"))
        #expect(piped.lines.contains { $0.hasPrefix("rollups: ") })
        // On a terminal (script(1) gives the command a pseudo-terminal): one line per step.
        let command = [try ProcessTests.executable.path, "rebuild-rollups", "--database-url", "sqlite://./tty.sqlite"].joined(
            separator: " ")
        let terminal = try Server(executable: "/usr/bin/script", arguments: ["-qec", command, "/dev/null"], directory: folder)
        #expect(try await terminal.waitForExit() == 0)
        let shown = terminal.lines.joined(separator: "\n")
        #expect(shown.contains("[1/\(Migrations.all.map { $0.statements(for: .sqlite).count }.reduce(0, +))] migration 1 "))
        #expect(shown.contains("] INSERT INTO usage_daily"))
        #expect(shown.contains("rollups: "))
    }
}

/// SIGTERM's order, in process: the server stops accepting, lets in-flight requests finish, then
/// the services listed before it (the database) shut down.
@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test func anInFlightRequestFinishesAfterShutdownStarts() async throws {
        let sink = MemorySink()
        let logger = Harness.logger(sink)
        let database = try await SQLiteBackend.open(path: ":memory:", logger: logger)
        let parts = try await AppParts(
            config: Harness.config(database: .sqlite(path: ":memory:"), dataDirectory: ""), database: database, logger: logger)
        let router = buildRouter(api: parts.api, security: parts.authenticator)
        let finished = Box<ContinuousClock.Instant>()
        router.get("/test/slow") { _, _ in
            try await Task.sleep(for: .milliseconds(600))
            await finished.set(.now)
            return "done"
        }
        let port = Box<Int>()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            services: [DatabaseService(database: database)] + parts.services(logger: logger),
            onServerRunning: { await port.set($0.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var bound = 0
        while bound == 0 {
            try await Task.sleep(for: .milliseconds(20))
            bound = (try? await port.get()) ?? 0
        }
        let url = "http://127.0.0.1:\(bound)/test/slow"
        let inFlight = Task { try await HTTPClient.shared.get(url: url).get() }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        let response = try await inFlight.value
        #expect(response.status == .ok)
        #expect(String(buffer: response.body ?? ByteBuffer()) == "done")
        try await running.value
        // Shutdown began while the handler was still running, and the handler still completed.
        #expect(try await finished.get() > started, "the request ended before shutdown began: the test proved nothing")
    }

    /// A stopping server gives back the quota blocks it leased and did not hand out, before the
    /// database closes: the counter holds exactly the calls admitted.
    @Test func theLeasedQuotaGoesBackOnShutdown() async throws {
        let folder = try ProcessTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("leases.sqlite").path
        let logger = Harness.logger(MemorySink())
        let database = try await SQLiteBackend.open(path: path, logger: logger)
        _ = try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
        let (app, _) = try await AppStore(database: database).register(name: "leases", description: nil, appId: "leases.app")
        _ = try await UserStore(database: database).findOrCreate(
            userId: "busy", appId: app.appId, dailyQuota: 10_000, monthlyQuota: 100_000, now: 0)
        let parts = try await AppParts(
            config: Harness.config(database: .sqlite(path: path), dataDirectory: ""), database: database, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [DatabaseService(database: database)] + parts.services(logger: logger), logger: logger))
        let running = Task { try await group.run() }
        let counter = { (database: any Database) in
            try await database.withSQL { sql in
                try await sql.raw("SELECT requests FROM quota_counters WHERE period LIKE 'd:%'").first()?.decode(
                    column: "requests", as: Int64.self) ?? 0
            }
        }
        var admitted: Int64 = 0
        while try await counter(database) == admitted {
            _ = try await parts.quotas.admit(userId: "busy")
            admitted += 1
        }
        await group.triggerGracefulShutdown()
        try await running.value
        let reopened = try await SQLiteBackend.open(path: path, logger: logger)
        #expect(try await counter(reopened) == admitted)
        try await reopened.close()
    }
}
