import Generated
import Handlers
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Everything the application is made of, assembled in one place; tests call it directly.
func buildApplication(config: AppConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let database = try await DatabaseFactory.open(config.database, logger: logger)
    let router = buildRouter(api: BridgeAPI(database: database))
    var app = Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: TimeAmount.nanoseconds(Int64(config.requestTimeout.components.seconds) * 1_000_000_000))),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        services: [DatabaseService(database: database)],
        logger: logger
    )
    app.beforeServerStarts {
        let report = try await Migrator(migrations: Migrations.all).run(on: database, logger: logger)
        logger.info("database ready", metadata: [
            "database": .string(config.database.description),
            "schema.version": .stringConvertible(report.current),
        ])
    }
    return app
}

/// The middleware, in the order a request passes through it, then the spec's routes.
func buildRouter(api: BridgeAPI) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ErrorMiddleware(routes: RouteTable.all))
    api.registerRoutes(on: router)
    return router
}
