import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The generated runtime: how `Input` values are decoded and what a malformed one reports.
@Suite("Generated runtime: input decoding")
struct InputDecodingTests {
    private func request(_ pathAndQuery: String, headers: HTTPFields = [:], body: String? = nil) -> Request {
        let head = HTTPRequest(
            method: body == nil ? .get : .post, scheme: "http", authority: "localhost", path: pathAndQuery, headerFields: headers)
        return Request(head: head, body: .init(buffer: ByteBuffer(string: body ?? "")))
    }

    @Test func queryParametersDecodeIntoTheirTypes() throws {
        let request = request("/x?limit=25&flag=true&at=2026-11-29T08:30:00Z&ratio=0.5")
        #expect(try InputDecoding.query("limit", in: request) == Int32(25))
        #expect(try InputDecoding.query("flag", in: request) == true)
        #expect(try InputDecoding.query("ratio", in: request) == 0.5)
        let at: Date? = try InputDecoding.query("at", in: request)
        #expect(at == Date(timeIntervalSince1970: 1_795_941_000))
        let missing: Int64? = try InputDecoding.query("absent", in: request)
        #expect(missing == nil)
    }

    @Test(arguments: [
        ("/x?limit=abc", "Query parameter 'limit': must be a 32-bit integer."),
        ("/x?limit=99999999999", "Query parameter 'limit': must be a 32-bit integer."),
        ("/x?limit=1&limit=2", "Query parameter 'limit': must be given once."),
        ("/x", "Query parameter 'limit': is required."),
    ])
    func malformedQueriesAreInputErrors(path: String, message: String) {
        let error = #expect(throws: InputError.self) {
            let _: Int32 = try InputDecoding.requiredQuery("limit", in: request(path))
        }
        #expect(error?.description == message)
        #expect(error?.location == .query)
    }

    @Test func headersDecodeAndMalformedOnesAreRefused() throws {
        let good = request("/x", headers: [HTTPField.Name("X-Count")!: "3"])
        #expect(try InputDecoding.header("X-Count", in: good) == Int64(3))
        let bad = request("/x", headers: [HTTPField.Name("X-Count")!: "three"])
        let error = #expect(throws: InputError.self) {
            let _: Int64? = try InputDecoding.header("X-Count", in: bad)
        }
        #expect(error?.description == "Header parameter 'X-Count': must be an integer.")
    }

    struct Body: Decodable, Equatable {
        struct Inner: Decodable, Equatable { let id: Int64 }
        let name: String
        let inner: Inner
        let tags: [String]
    }

    private struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
    }

    @Test func bodyDecodes() async throws {
        let body = try await decode(#"{"name":"a","inner":{"id":7},"tags":["x"]}"#)
        #expect(body == Body(name: "a", inner: .init(id: 7), tags: ["x"]))
    }

    @Test(arguments: [
        (#"{"name":"a","inner":{"id":"seven"},"tags":[]}"#, "Request body field 'inner.id': must be an integer."),
        (#"{"name":"a","inner":{},"tags":[]}"#, "Request body field 'inner.id': is required."),
        (#"{"name":"a","inner":{"id":1},"tags":[1]}"#, "Request body field 'tags[0]': must be a string."),
        (#"{"name":null,"inner":{"id":1},"tags":[]}"#, "Request body field 'name': must be a string, not null."),
        (#"{"name":"a","#, "Request body: is not valid JSON."),
        ("", "Request body: a JSON body is required."),
    ])
    func malformedBodiesAreInputErrorsThatNeverQuoteTheValue(json: String, message: String) async {
        do {
            _ = try await decode(json)
            Issue.record("decoded")
        } catch let error as InputError {
            #expect(error.description == message)
            #expect(!error.description.contains("seven"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    private func decode(_ json: String, contentType: String? = "application/json") async throws -> Body {
        try await withContext { context in
            var headers = HTTPFields()
            if let contentType { headers[.contentType] = contentType }
            return try await InputDecoding.body(Body.self, from: request("/x", headers: headers, body: json), context: context)
        }
    }

    @Test(arguments: [nil, "text/plain", "application/jsonx", "multipart/form-data"])
    func aBodyNotDeclaredAsJSONIsRefused(contentType: String?) async {
        await #expect(throws: UnsupportedMediaType.self) {
            _ = try await decode(#"{"name":"a","inner":{"id":7},"tags":["x"]}"#, contentType: contentType)
        }
    }

    @Test func jsonContentTypesAreRecognised() {
        for type in [
            "application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json", " application/json ;charset=UTF-8",
        ] {
            #expect(InputDecoding.isJSON(type), "\(type)")
        }
        for type in [nil, "", "text/json", "application/jsonp", "text/plain; a=application/json"] as [String?] {
            #expect(!InputDecoding.isJSON(type), "\(type ?? "nil")")
        }
    }

    /// Hummingbird's test framework gives us a real context source.
    private func withContext<Value: Sendable>(_ body: @escaping @Sendable (Context) async throws -> Value) async throws -> Value {
        let router = Router(context: Context.self)
        let box = ResultBox<Value>()
        router.post("/x") { request, context -> HTTPResponse.Status in
            do {
                await box.set(.success(try await body(context)))
            } catch {
                await box.set(.failure(error))
            }
            return .ok
        }
        let app = Application(router: router)
        try await app.test(.router) { client in
            _ = try await client.execute(uri: "/x", method: .post)
        }
        return try await box.get()
    }

    @Test func routeTemplatesMatchWholeSegments() {
        let route = RouteDescriptor(operationId: "x", method: .get, path: "/users/{userId}/keys", tags: [], security: [], responses: [:])
        #expect(route.matches(path: "/users/abc/keys"))
        #expect(!route.matches(path: "/users//keys"))
        #expect(!route.matches(path: "/users/abc"))
        #expect(!route.matches(path: "/users/abc/keys/extra"))
        #expect(!route.matches(path: "/users/abc/keyss"))
    }

    @Test func datesAreISO8601UTC() throws {
        let date = Date(timeIntervalSince1970: 1_795_941_000)
        #expect(APICoding.formatDate(date) == "2026-11-29T08:30:00Z")
        #expect(APICoding.formatDate(date.addingTimeInterval(0.25)) == "2026-11-29T08:30:00.250Z")
        #expect(APICoding.parseDate("2026-11-29T08:30:00.250Z") == date.addingTimeInterval(0.25))
        #expect(APICoding.parseDate("2026-11-29") == nil)
    }
}

/// Carries a value out of a route handler.
actor ResultBox<Value: Sendable> {
    private var result: Result<Value, any Error>?
    func set(_ result: Result<Value, any Error>) { self.result = result }
    func get() throws -> Value {
        guard let result else { throw CancellationError() }
        return try result.get()
    }
}

@Suite("RFC 3339 date-times")
struct DateTimeParsingTests {
    @Test func validDateTimesParseToTheInstantTheyName() throws {
        #expect(APICoding.parseDate("1970-01-01T00:00:00Z")?.timeIntervalSince1970 == 0)
        #expect(APICoding.parseDate("1970-01-01t00:00:00z")?.timeIntervalSince1970 == 0)
        #expect(APICoding.parseDate("2026-11-29T10:00:00+02:00") == APICoding.parseDate("2026-11-29T08:00:00Z"))
        #expect(APICoding.parseDate("2026-11-29T00:30:00-23:59") == APICoding.parseDate("2026-11-30T00:29:00Z"))
        #expect(APICoding.parseDate("2024-02-29T12:00:00.5Z")?.timeIntervalSince1970 == 1_709_208_000.5)
        #expect(APICoding.parseDate("2026-11-29T10:00:00Z") == (try Date("2026-11-29T10:00:00Z", strategy: .iso8601)))
        #expect(APICoding.parseDate("0171-11-10T03:53:27+18:51") != nil)
        #expect(APICoding.parseDate("1600-03-01T00:00:00Z")?.timeIntervalSince1970 == -11_670_912_000)
    }

    @Test func anythingElseIsRefused() {
        for text in [
            "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T10:60:00Z",
            "2026-11-29T10:00:00", "2026-11-29", "2026-11-29T10:00:00+24:00", "2026-11-29T10:00:00.Z", "2026-11-29 10:00:00Z",
            "2026-11-29T10:00:00Zjunk", "yesterday", "",
        ] {
            #expect(APICoding.parseDate(text) == nil, "\(text)")
        }
    }
}
