import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import Yams

@testable import Handlers
@testable import Server

@Suite("Contract: every route behaves as openapi.yaml says")
struct ContractTests {
    struct Run: Sendable, CustomTestStringConvertible {
        let contractCase: ContractCase
        let kind: DatabaseKind
        var testDescription: String { "[\(kind.rawValue)] \(contractCase.testDescription)" }
    }

    static let runs: [Run] = Harness.kinds.flatMap { kind in ContractCases.all.map { Run(contractCase: $0, kind: kind) } }

    @Test(arguments: runs)
    func operationAnswersAsDocumented(run: Run) async throws {
        let contractCase = run.contractCase
        let route = try #require(RouteTable.all.first { $0.operationId == contractCase.operationId }, "no such operation")
        let sink = MemorySink()
        let (request, response) = try await Self.send(contractCase, kind: run.kind, sink: sink)
        #expect(route.method == request.method)
        #expect(route.matches(path: request.path.split(separator: "?", maxSplits: 1)[0]), "\(request.path) is not \(route.path)")
        #expect(response.status.code == contractCase.expectedStatus, "\(String(buffer: response.body))")
        try Self.verify(response, against: route)
        if let code = contractCase.expectedCode {
            let body = Self.error(response.body, route: route)
            #expect(body?.code == code)
            #expect(body?.requestId == response.headers[.requestID])
        }
        let body = String(buffer: response.body)
        for canary in [Harness.jwtSecretCanary, Harness.adminKeyCanary] {
            #expect(!body.contains(canary), "a response holds a secret")
            for line in sink.contents {
                #expect(!line.contains(canary), "a log line holds a secret")
            }
        }
    }

    /// The headers the bridge itself sets that a client may act on: each must be documented
    /// wherever it is sent.
    static let headersWeSend = [
        "x-request-id", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "Cache-Control", "WWW-Authenticate",
        "Allow", "Location", "x-safeapi-upstream-status", "x-safeapi-overhead-us", "x-safeapi-provider", "x-safeapi-model",
        "x-safeapi-attempts",
    ]

    /// The code and request id of an error body: `APIError`, or OpenAI's shape on `/v1`.
    static func error(_ body: ByteBuffer, route: RouteDescriptor) -> (code: String, requestId: String)? {
        let data = Data(body.readableBytesView)
        if AppError.isGateway(route.path) {
            return (try? APICoding.decoder.decode(GatewayError.self, from: data)).map { ($0.error.code, $0.requestId) }
        }
        return (try? APICoding.decoder.decode(APIError.self, from: data)).map { ($0.error, $0.requestId) }
    }

    /// Checks one response against the spec: its status is documented for the operation, its body
    /// decodes into the generated type for that status, and it carries a request id.
    static func verify(_ response: TestResponse, against route: RouteDescriptor) throws {
        let documented = route.responses.keys.sorted()
        if route.passesUpstreamResponses, response.headers[.upstreamStatus] != nil {
            // The provider's own answer (`default` in the spec): status and body are theirs.
            #expect(response.headers[.upstreamStatus] == String(response.status.code))
            #expect(response.headers[.overhead].flatMap { Int64($0) }.map { $0 >= 0 } == true, "no x-safeapi-overhead-us")
            #expect(response.headers[.requestID]?.isEmpty == false, "no x-request-id")
            return
        }
        guard let bodyType = route.responses[Int(response.status.code)] else {
            Issue.record(
                "\(route.operationId) answered \(response.status.code), which the spec does not document (documented: \(documented))")
            return
        }
        #expect(response.headers[.requestID]?.isEmpty == false, "no x-request-id")
        let documentedHeaders = Set((route.documentedHeaders[Int(response.status.code)] ?? []).map { $0.lowercased() })
        for name in Self.headersWeSend where response.headers[HTTPField.Name(name)!] != nil {
            #expect(
                documentedHeaders.contains(name.lowercased()),
                "\(route.operationId) \(response.status.code) sends \(name), which the spec does not document there")
        }
        // The operation's policy in the spec reaches the wire.
        if route.policy.noStore {
            #expect(response.headers[.cacheControl] == "no-store", "\(route.operationId) is x-no-store but may be cached")
        }
        // CORS runs before the limit, so a refused origin is not counted.
        let refusedOrigin = Self.error(response.body, route: route)?.code == "cors_forbidden"
        if let limit = route.policy.rateLimit, !refusedOrigin {
            #expect(
                response.headers[HTTPField.Name("RateLimit-Limit")!] != nil,
                "\(route.operationId) is x-rate-limit: \(limit) but not limited"
            )
        }
        for name in route.requiredHeaders[Int(response.status.code)] ?? [] {
            #expect(response.headers[HTTPField.Name(name)!] != nil, "\(route.operationId) \(response.status.code) lacks the \(name) header")
        }
        // On a passthrough route the spec cannot type an error status (the provider's body may
        // come with it), but the bridge's own answer there is always `APIError` (`GatewayError` on `/v1`).
        let ownError: any (Decodable & Sendable).Type = AppError.isGateway(route.path) ? GatewayError.self : APIError.self
        let ownType = bodyType ?? (route.passesUpstreamResponses && response.status.code >= 400 ? ownError : nil)
        if let bodyType = ownType {
            #expect(response.headers[.contentType] == "application/json")
            do {
                _ = try APICoding.decoder.decode(bodyType, from: Data(response.body.readableBytesView))
            } catch {
                Issue.record(
                    "\(route.operationId) \(response.status.code): body does not decode into \(bodyType): \(error)\n\(String(buffer: response.body))"
                )
            }
        } else if let mediaTypes = route.untypedMediaTypes[Int(response.status.code)] {
            // A body that is not typed JSON (text, CSV): of a media type the spec documents.
            let mediaType = response.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(
                mediaType.map(mediaTypes.contains) == true,
                "\(route.operationId) \(response.status.code) answered \(mediaType ?? "no content type"), not one of \(mediaTypes)")
            #expect(response.body.readableBytes > 0, "\(route.operationId) \(response.status.code) sent an empty body")
        } else {
            #expect(response.body.readableBytes == 0, "\(route.operationId) \(response.status.code) documents no body")
        }
    }

    static func send(_ contractCase: ContractCase, kind: DatabaseKind, sink: MemorySink) async throws -> (RequestSpec, TestResponse) {
        switch contractCase.setup {
        case .standard:
            return try await Harness.withApp(kind, sink: sink, configure: contractCase.configure) { client, _ in
                let request = try await contractCase.prepare(Fixture(client: client))
                let response = try await client.execute(
                    uri: request.path, method: request.method, headers: request.headers, body: request.body.map { ByteBuffer(string: $0) })
                return (request, response)
            }
        case .unreachableDatabase:
            // Nothing listens on port 1: every connection attempt is refused.
            let location = try DatabaseLocation.parse("postgres://nobody@127.0.0.1:1/none?sslmode=disable", dataDirectory: "")
            let database = try await DatabaseFactory.open(location, logger: Harness.logger(sink))
            var config = Harness.config(database: location, dataDirectory: "")
            config.readinessTimeout = .milliseconds(300)
            let parts = try await AppParts(config: config, database: database, logger: Harness.logger(sink))
            let router = buildRouter(api: parts.api, security: parts.authenticator)
            let app = Application(
                router: router, services: [DatabaseService(database: database)] + parts.services(logger: Harness.logger(sink)),
                logger: Harness.logger(sink))
            let box = Box<TestResponse>()
            let request = try await contractCase.prepare(Fixture(client: NoClient()))
            try await app.test(.router) { client in
                await box.set(
                    try await client.execute(
                        uri: request.path, method: request.method, headers: request.headers,
                        body: request.body.map { ByteBuffer(string: $0) }))
            }
            return (request, try await box.get())
        }
    }

    /// Cases over an unreachable database prepare nothing through the app.
    struct NoClient: TestClientProtocol {
        func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
            throw FixtureError("this case cannot prepare requests")
        }
        var port: Int? { nil }
    }

    /// A test fails when the spec has an operation, or a documented status, with no case.
    @Test func everyOperationAndStatusHasACase() {
        for route in RouteTable.all {
            let cases = ContractCases.all.filter { $0.operationId == route.operationId }
            #expect(!cases.isEmpty, "\(route.operationId) has no contract case")
            for status in route.responses.keys.sorted() {
                #expect(cases.contains { $0.expectedStatus == status }, "\(route.operationId) has no case for its documented \(status)")
            }
        }
        for contractCase in ContractCases.all {
            #expect(
                RouteTable.all.contains { $0.operationId == contractCase.operationId }, "\(contractCase.operationId) is not in the spec")
        }
    }

    /// The route table is the spec: same operations, methods, paths and statuses as openapi.yaml.
    @Test func routeTableMatchesTheSpecFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("openapi.yaml")
        let spec = try #require(try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any])
        let paths = try #require(spec["paths"] as? [String: [String: Any]])
        var fromSpec: Set<String> = []
        for (path, item) in paths {
            for (method, value) in item {
                guard let operation = value as? [String: Any], let id = operation["operationId"] as? String else { continue }
                let statuses = (operation["responses"] as? [String: Any] ?? [:]).keys.sorted().joined(separator: ",")
                fromSpec.insert("\(id) \(method.uppercased()) \(path) \(statuses)")
            }
        }
        let fromTable = Set(
            RouteTable.all.map { route in
                "\(route.operationId) \(route.method.rawValue) \(route.path) "
                    + (route.responses.keys.sorted().map(String.init) + (route.passesUpstreamResponses ? ["default"] : [])).joined(
                        separator: ",")
            })
        #expect(fromSpec == fromTable)
    }
}
