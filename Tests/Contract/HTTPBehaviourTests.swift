import Foundation
import Generated
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

@testable import Handlers
@testable import Server

/// What every route shares: request ids, the standard error body, 404 and 405.
@Suite("HTTP behaviour shared by every route")
struct HTTPBehaviourTests {
    @Test func aWellFormedClientRequestIdIsKeptEverywhere() async throws {
        let sink = MemorySink()
        let response = try await Harness.withApp(.sqlite, sink: sink) { client, _ in
            try await client.execute(uri: "/health", method: .get, headers: [.requestID: "client-id.42"])
        }
        #expect(response.headers[.requestID] == "client-id.42")
        let logged = sink.contents.filter { $0.contains("\"http.path\":\"/health\"") }
        #expect(logged.count == 1)
        #expect(logged.first?.contains("\"requestId\":\"client-id.42\"") == true)
    }

    @Test(arguments: ["has space", String(repeating: "x", count: 129), "semi;colon"])
    func aMalformedRequestIdIsReplaced(id: String) async throws {
        let response = try await Harness.withApp(.sqlite) { client, _ in
            try await client.execute(uri: "/health", method: .get, headers: [.requestID: id])
        }
        let given = try #require(response.headers[.requestID])
        #expect(given != id)
        #expect(given.count == 32)
    }

    @Test func unknownPathIsAStandard404() async throws {
        let response = try await Harness.withApp(.sqlite) { client, _ in
            try await client.execute(uri: "/no/such/thing?x=1", method: .get)
        }
        #expect(response.status == .notFound)
        let body = try APICoding.decoder.decode(APIError.self, from: Data(response.body.readableBytesView))
        #expect(body.error == "not_found")
        #expect(body.requestId == response.headers[.requestID])
        #expect(!body.message.isEmpty)
    }

    @Test func knownPathWithAnotherMethodIs405WithAllow() async throws {
        let response = try await Harness.withApp(.sqlite) { client, _ in
            try await client.execute(uri: "/ready", method: .delete)
        }
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers[.allow] == "GET, HEAD")
        let body = try APICoding.decoder.decode(APIError.self, from: Data(response.body.readableBytesView))
        #expect(body.error == "method_not_allowed")
    }

    @Test func theAllowHeaderFollowsTheRoutersPrecedence() async throws {
        let response = try await Harness.withApp(.sqlite) { client, _ in
            try await client.execute(uri: "/api/providers", method: .delete)
        }
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers[.allow] == "GET, HEAD")
    }

    @Test func errorsOfTheHTTPLayerAreMappedToStableCodes() {
        let middleware = ErrorMiddleware(routes: RouteTable.all, metrics: BridgeMetrics())
        let request = Request(head: .init(method: .get, scheme: "http", authority: "x", path: "/health"), body: .init(buffer: ByteBuffer()))
        #expect(middleware.classify(HTTPError(.contentTooLarge), request: request) == .payloadTooLarge)
        #expect(middleware.classify(HTTPError(.badRequest), request: request) == .malformedRequest)
        #expect(middleware.classify(InputError(location: .query, name: "x", reason: "bad"), request: request).code == "invalid_request")
        struct Boom: Error {}
        #expect(middleware.classify(Boom(), request: request) == .internalError)
    }

    @Test func migrationsRunAtStartAndAreRecorded() async throws {
        for kind in Harness.kinds {
            try await Harness.withApp(kind) { client, config in
                _ = try await client.execute(uri: "/ready", method: .get)
                let versions = try await DatabaseFactory.with(config.database, logger: Harness.logger(MemorySink())) { database in
                    try await database.withSQL { sql in
                        try await sql.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
                            try $0.decode(column: "version", as: Int.self)
                        }
                    }
                }
                #expect(versions == Migrations.all.map(\.version))
            }
        }
    }
}
