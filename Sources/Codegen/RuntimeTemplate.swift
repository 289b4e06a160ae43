/// The support code every generated API needs, written to `Sources/Generated/Runtime.swift` as is.
/// It is part of the generator (not hand-written in Generated) so the whole folder is reproducible.
enum RuntimeTemplate {
    static let source = #"""
        public import Foundation
        import HTTPTypes
        public import Hummingbird

        /// The request context the generated routes need: the request id goes into every error body.
        public protocol APIRequestContext: RequestContext {
            var requestId: String { get }
        }

        /// One operation of the spec: used to register routes and by the contract tests.
        public struct RouteDescriptor: Sendable {
            public let operationId: String
            public let method: HTTPRequest.Method
            /// The path template as the spec writes it, `/users/{userId}`.
            public let path: String
            public let tags: [String]
            /// Security scheme names; empty when the operation needs no credentials.
            public let security: [String]
            /// Every documented status, with the type its JSON body decodes into (nil: no body).
            public let responses: [Int: (any (Decodable & Sendable).Type)?]
            /// The headers each status must carry.
            public let requiredHeaders: [Int: [String]]
            /// Every header the spec documents for each status (required or not).
            public let documentedHeaders: [Int: [String]]
            /// The media types a status's body may have when it is not typed JSON (text, CSV, a
            /// provider's answer).
            public let untypedMediaTypes: [Int: [String]]
            /// A raw operation: any status may be the upstream's, marked `x-safeapi-upstream-status`.
            public let passesUpstreamResponses: Bool
            /// The last path variable takes the rest of the path (`x-catch-all`).
            public let catchAllTail: Bool
            /// The path as the router writes it (`/users/:userId`).
            public let routerPath: String
            /// What the middleware does for this operation (the spec's `x-` extensions).
            public let policy: RoutePolicy

            public init(
                operationId: String,
                method: HTTPRequest.Method,
                path: String,
                tags: [String],
                security: [String],
                responses: [Int: (any (Decodable & Sendable).Type)?],
                requiredHeaders: [Int: [String]] = [:],
                documentedHeaders: [Int: [String]] = [:],
                untypedMediaTypes: [Int: [String]] = [:],
                passesUpstreamResponses: Bool = false,
                catchAllTail: Bool = false,
                routerPath: String? = nil,
                policy: RoutePolicy = RoutePolicy()
            ) {
                self.operationId = operationId
                self.method = method
                self.path = path
                self.tags = tags
                self.security = security
                self.responses = responses
                self.requiredHeaders = requiredHeaders
                self.documentedHeaders = documentedHeaders
                self.untypedMediaTypes = untypedMediaTypes
                self.passesUpstreamResponses = passesUpstreamResponses
                self.catchAllTail = catchAllTail
                self.routerPath = routerPath ?? path
                self.policy = policy
            }

            /// Whether `requestPath` (no query) is an instance of this path template.
            public func matches(path requestPath: some StringProtocol) -> Bool {
                let template = path.split(separator: "/", omittingEmptySubsequences: false)
                let actual = requestPath.split(separator: "/", omittingEmptySubsequences: false)
                if catchAllTail {
                    // The tail takes one or more segments.
                    guard actual.count >= template.count else { return false }
                    return zip(template.dropLast(), actual).allSatisfy { expected, given in
                        expected.hasPrefix("{") ? !given.isEmpty : expected == given
                    }
                }
                guard template.count == actual.count else { return false }
                for (expected, given) in zip(template, actual) {
                    if expected.hasPrefix("{") && expected.hasSuffix("}") {
                        if given.isEmpty { return false }
                    } else if expected != given {
                        return false
                    }
                }
                return true
            }
        }

        /// The route table; its contents are generated in Routes.swift.
        public enum RouteTable {}

        /// Per-operation policy the middleware applies, from the spec's `x-audit-action`, `x-no-store`
        /// and `x-rate-limit`.
        public struct RoutePolicy: Sendable, Equatable {
            /// Every call is written to the audit log under this action name.
            public let auditAction: String?
            /// Answers carry `Cache-Control: no-store` (credentials, keys, per-user data).
            public let noStore: Bool
            /// The rate limit the operation counts against, if any.
            public let rateLimit: RateLimitClass?

            public init(auditAction: String? = nil, noStore: Bool = false, rateLimit: RateLimitClass? = nil) {
                self.auditAction = auditAction
                self.noStore = noStore
                self.rateLimit = rateLimit
            }
        }

        /// The rate limits an operation may count against (`x-rate-limit`).
        public enum RateLimitClass: String, Sendable {
            /// The per-address limit on the API and the proxy (`RATE_LIMIT_*`).
            case address
            /// The per-address limit on signing in (`AUTH_RATE_LIMIT_*`), counted apart.
            case auth
        }

        /// Finds a request's operation from the route the router matched (`context.endpointPath`,
        /// which the router sets before any router middleware runs): one dictionary lookup.
        public struct RouteIndex: Sendable {
            private let routes: [String: [HTTPRequest.Method: RouteDescriptor]]

            public init(_ routes: [RouteDescriptor]) {
                var index: [String: [HTTPRequest.Method: RouteDescriptor]] = [:]
                for route in routes {
                    index[RouterPath(route.routerPath).description, default: [:]][route.method] = route
                }
                self.routes = index
            }

            /// The operation of a matched route; HEAD finds the GET operation it is answered by.
            public func route(endpointPath: String?, method: HTTPRequest.Method) -> RouteDescriptor? {
                guard let endpointPath, let methods = routes[endpointPath] else { return nil }
                return methods[method] ?? (method == .head ? methods[.get] : nil)
            }
        }

        /// Authenticates requests for the operations whose spec names security schemes. It runs before
        /// the input is decoded, and either fills in `context` or throws (the error middleware turns
        /// that into 401, 403, 429 or 503).
        public protocol SecurityHandler<Context>: Sendable {
            associatedtype Context: APIRequestContext
            /// `schemes`: the names from the spec, any one of which is enough.
            func authenticate(_ request: Request, context: inout Context, schemes: [String], operationId: String) async throws
        }

        /// A path, query, header or body value that does not match the spec. Answered with 400.
        public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
            public enum Location: String, Sendable {
                case path, query, header, body
            }

            /// How the input fails the spec.
            public enum Kind: Sendable {
                /// Missing, repeated, not JSON, or not of the declared type (`invalid_request`).
                case malformed
                /// Read, but outside a constraint: pattern, length, range, count, enum, format
                /// (`validation_failed`).
                case constraint
            }

            public let location: Location
            /// The parameter name, or a dotted path into the body (`providers[0].issuer`).
            public let name: String
            public let reason: String
            public let kind: Kind

            public init(location: Location, name: String, reason: String, kind: Kind = .malformed) {
                self.location = location
                self.name = name
                self.reason = reason
                self.kind = kind
            }

            /// A message for humans. It never repeats the value that was sent.
            public var description: String {
                switch location {
                case .body: name.isEmpty ? "Request body: \(reason)." : "Request body field '\(name)': \(reason)."
                default: "\(location.rawValue.capitalized) parameter '\(name)': \(reason)."
                }
            }
        }

        /// A body sent with a content type other than JSON (or none). Answered with 415.
        public struct UnsupportedMediaType: Error, Sendable, Equatable {
            public init() {}
        }

        /// A type a path, query or header parameter decodes into from its text.
        public protocol ParameterValue: Sendable {
            init?(parameter: String)
            static var expectation: String { get }
            /// A text that does not decode breaks a constraint (an enum, a format), or is of the wrong type.
            static var failure: InputError.Kind { get }
            /// The value as a parameter or header text.
            var parameterText: String { get }
        }

        extension ParameterValue {
            public static var failure: InputError.Kind { .malformed }
        }

        extension ParameterValue where Self: CustomStringConvertible {
            public var parameterText: String { description }
        }

        extension String: ParameterValue {
            public init?(parameter: String) { self = parameter }
            public static var expectation: String { "a string" }
        }

        extension Int32: ParameterValue {
            public init?(parameter: String) { self.init(parameter, radix: 10) }
            public static var expectation: String { "a 32-bit integer" }
        }

        extension Int64: ParameterValue {
            public init?(parameter: String) { self.init(parameter, radix: 10) }
            public static var expectation: String { "an integer" }
        }

        extension Double: ParameterValue {
            public init?(parameter: String) {
                guard let value = Double(parameter), value.isFinite else { return nil }
                self = value
            }
            public static var expectation: String { "a number" }
        }

        extension Bool: ParameterValue {
            public init?(parameter: String) {
                switch parameter {
                case "true": self = true
                case "false": self = false
                default: return nil
                }
            }
            public static var expectation: String { "true or false" }
        }

        extension UUID: ParameterValue {
            public init?(parameter: String) { self.init(uuidString: parameter) }
            public static var expectation: String { "a UUID" }
            public static var failure: InputError.Kind { .constraint }
            public var parameterText: String { uuidString.lowercased() }
        }

        extension Date: ParameterValue {
            public init?(parameter: String) {
                guard let date = APICoding.parseDate(parameter) else { return nil }
                self = date
            }
            public static var expectation: String { "an ISO 8601 date-time (2026-01-31T00:00:00Z)" }
            public static var failure: InputError.Kind { .constraint }
            public var parameterText: String { APICoding.formatDate(self) }
        }

        extension ParameterValue where Self: RawRepresentable & CaseIterable, RawValue == String {
            public init?(parameter: String) { self.init(rawValue: parameter) }
            public static var expectation: String {
                "one of " + allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            }
            public static var failure: InputError.Kind { .constraint }
            public var parameterText: String { rawValue }
        }

        /// Decoding of `Input` values, used by the generated routes.
        public enum InputDecoding {
            public static func path<Value: ParameterValue>(_ name: String, context: some RequestContext) throws -> Value {
                guard let raw = context.parameters.get(name) else {
                    throw InputError(location: .path, name: name, reason: "is missing")
                }
                // The router hands over the segment as sent; `%40` is `@`.
                guard let text = raw.removingPercentEncoding else {
                    throw InputError(location: .path, name: name, reason: "is not valid percent-encoding")
                }
                return try decode(text, name: name, location: .path)
            }

            /// The rest of the path after a `**` route, exactly as sent (not decoded: the proxy's endpoint
            /// policy decodes it once, itself).
            public static func catchAll(context: some RequestContext) throws -> String {
                let tail = context.parameters.getCatchAll().joined(separator: "/")
                guard !tail.isEmpty else { throw InputError(location: .path, name: "endpoint", reason: "is missing") }
                return "/" + tail
            }

            public static func query<Value: ParameterValue>(_ name: String, in request: Request) throws -> Value? {
                let values = request.uri.queryParameters.getAll(name)
                guard let first = values.first else { return nil }
                guard values.count == 1 else {
                    throw InputError(location: .query, name: name, reason: "must be given once")
                }
                return try decode(first, name: name, location: .query)
            }

            public static func requiredQuery<Value: ParameterValue>(_ name: String, in request: Request) throws -> Value {
                guard let value: Value = try query(name, in: request) else {
                    throw InputError(location: .query, name: name, reason: "is required")
                }
                return value
            }

            public static func header<Value: ParameterValue>(_ name: String, in request: Request) throws -> Value? {
                guard let fieldName = HTTPField.Name(name) else { return nil }
                let values = request.headers[values: fieldName]
                guard let first = values.first else { return nil }
                guard values.count == 1 else {
                    throw InputError(location: .header, name: name, reason: "must be given once")
                }
                return try decode(first, name: name, location: .header)
            }

            public static func requiredHeader<Value: ParameterValue>(_ name: String, in request: Request) throws -> Value {
                guard let value: Value = try header(name, in: request) else {
                    throw InputError(location: .header, name: name, reason: "is required")
                }
                return value
            }

            public static func body<Body: Decodable>(_ type: Body.Type, from request: Request, context: some RequestContext) async throws -> Body {
                guard let body = try await optionalBody(type, from: request, context: context) else {
                    throw InputError(location: .body, name: "", reason: "a JSON body is required")
                }
                return body
            }

            public static func optionalBody<Body: Decodable>(_ type: Body.Type, from request: Request, context: some RequestContext) async throws -> Body? {
                let buffer = try await request.body.collect(upTo: context.maxUploadSize)
                guard buffer.readableBytes > 0 else { return nil }
                guard isJSON(request.headers[.contentType]) else { throw UnsupportedMediaType() }
                do {
                    return try APICoding.decoder.decode(Body.self, from: Data(buffer.readableBytesView))
                } catch let error as DecodingError {
                    throw InputError(decoding: error)
                }
            }

            /// `application/json` or `application/<anything>+json`, with any parameters, in any case.
            public static func isJSON(_ contentType: String?) -> Bool {
                guard let contentType else { return false }
                let type = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
                return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
            }

            static func decode<Value: ParameterValue>(_ text: String, name: String, location: InputError.Location) throws -> Value {
                guard let value = Value(parameter: text) else {
                    throw InputError(location: location, name: name, reason: "must be \(Value.expectation)", kind: Value.failure)
                }
                return value
            }
        }

        extension InputError {
            /// Names the field and what was expected; never quotes the value sent.
            init(decoding error: DecodingError) {
                func path(_ codingPath: [any CodingKey]) -> String {
                    codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                        .joined(separator: ".")
                        .replacingOccurrences(of: ".[", with: "[")
                }
                switch error {
                case .keyNotFound(let key, let context):
                    self.init(location: .body, name: path(context.codingPath + [key]), reason: "is required")
                case .typeMismatch(let type, let context):
                    self.init(location: .body, name: path(context.codingPath), reason: "must be \(Self.describe(type))")
                case .valueNotFound(let type, let context):
                    self.init(location: .body, name: path(context.codingPath), reason: "must be \(Self.describe(type)), not null")
                case .dataCorrupted(let context):
                    let name = path(context.codingPath)
                    // At a field: a value of the right type that no case or format accepts.
                    self.init(
                        location: .body, name: name, reason: name.isEmpty ? "is not valid JSON" : "has an invalid value",
                        kind: name.isEmpty ? .malformed : .constraint)
                @unknown default:
                    self.init(location: .body, name: "", reason: "is not valid")
                }
            }

            private static func describe(_ type: Any.Type) -> String {
                switch type {
                case is String.Type: "a string"
                case is Int32.Type, is Int64.Type, is Int.Type: "an integer"
                case is Double.Type: "a number"
                case is Bool.Type: "a boolean"
                case is Date.Type: "an ISO 8601 date-time"
                default:
                    String(describing: type).hasPrefix("Array") ? "an array" : "an object"
                }
            }
        }

        /// An input object that checks the spec's constraints on itself (generated in Validation.swift).
        public protocol InputValidatable {
            /// `path` prefixes the field names in errors: `""` for the body, `providers[0].` inside it.
            func validate(at path: String) throws(InputError)
        }

        /// The checks behind the generated `validate` methods: JSON Schema's validation keywords.
        /// Lengths count Unicode scalars, as JSON Schema counts characters.
        public enum InputRules {
            public static func string(
                _ value: String?, _ field: @autoclosure () -> String, minLength: Int = 0, maxLength: Int? = nil,
                pattern: SpecPattern? = nil, location: InputError.Location = .body
            ) throws(InputError) {
                guard let value else { return }
                if minLength > 0 || maxLength != nil {
                    let length = value.unicodeScalars.count
                    if length < minLength || length > (maxLength ?? .max) {
                        let reason =
                            switch (minLength, maxLength) {
                            case (0, let max?): "must be at most \(max) characters"
                            case (let min, nil): "must be at least \(min) characters"
                            case (let min, let max?) where min == max: "must be \(min) characters"
                            case (let min, let max?): "must be \(min) to \(max) characters"
                            }
                        throw InputError(location: location, name: field(), reason: reason, kind: .constraint)
                    }
                }
                if let pattern, !pattern.isFound(in: value) {
                    throw InputError(location: location, name: field(), reason: "must match \(pattern.source)", kind: .constraint)
                }
            }

            public static func integer<Value: BinaryInteger>(
                _ value: Value?, _ field: @autoclosure () -> String, minimum: Int64? = nil, maximum: Int64? = nil,
                location: InputError.Location = .body
            ) throws(InputError) {
                guard let value else { return }
                let number = Int64(value)
                if number < (minimum ?? .min) || number > (maximum ?? .max) {
                    let reason =
                        switch (minimum, maximum) {
                        case (let min?, let max?): "must be from \(min) to \(max)"
                        case (let min?, nil): "must be at least \(min)"
                        case (nil, let max?): "must be at most \(max)"
                        case (nil, nil): "is out of range"
                        }
                    throw InputError(location: location, name: field(), reason: reason, kind: .constraint)
                }
            }

            /// The number of items of an array or properties of a map.
            public static func count(
                _ count: Int?, _ field: @autoclosure () -> String, noun: String, min: Int = 0, max: Int? = nil,
                location: InputError.Location = .body
            ) throws(InputError) {
                guard let count, count < min || count > (max ?? .max) else { return }
                let reason =
                    switch (min, max) {
                    case (0, let max?): "must have at most \(max) \(noun)"
                    case (let min, nil): "must have at least \(min) \(noun)"
                    case (let min, let max?): "must have \(min) to \(max) \(noun)"
                    }
                throw InputError(location: location, name: field(), reason: reason, kind: .constraint)
            }
        }

        /// A `pattern` of the spec, parsed by the generator into a tree matched here by backtracking
        /// over UTF-8 bytes (the patterns are ASCII, so a byte of a multi-byte character never
        /// matches). A repeated character set is scanned in a loop, not by recursion, so a long
        /// value costs no stack. As in JSON Schema, the pattern may match anywhere unless anchored.
        public struct SpecPattern: Sendable {
            public indirect enum Node: Sendable {
                case start, end
                case set([ClosedRange<UInt8>])
                case sequence([Node])
                case either([Node])
                case repeated(Node, min: Int, max: Int)
            }

            public let source: String
            let node: Node

            public init(_ source: String, _ node: Node) {
                self.source = source
                self.node = node
            }

            public func isFound(in text: String) -> Bool {
                var text = text
                return text.withUTF8 { bytes in
                    (0...bytes.count).contains { start in node.match(bytes, start) { _ in true } }
                }
            }
        }

        extension SpecPattern.Node {
            func match(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ next: (Int) -> Bool) -> Bool {
                switch self {
                case .start:
                    return index == 0 && next(index)
                case .end:
                    return index == bytes.count && next(index)
                case .set(let ranges):
                    return index < bytes.count && ranges.contains { $0.contains(bytes[index]) } && next(index + 1)
                case .sequence(let nodes):
                    return Self.matchSequence(nodes[...], bytes, index, next)
                case .either(let branches):
                    return branches.contains { $0.match(bytes, index, next) }
                case .repeated(.set(let ranges), let min, let max):
                    var run = 0
                    while run < max, index + run < bytes.count, ranges.contains(where: { $0.contains(bytes[index + run]) }) { run += 1 }
                    guard run >= min else { return false }
                    return stride(from: run, through: min, by: -1).contains { next(index + $0) }
                case .repeated(let node, let min, let max):
                    return Self.matchRepeated(node, done: 0, min: min, max: max, bytes, index, next)
                }
            }

            private static func matchSequence(
                _ nodes: ArraySlice<Self>, _ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ next: (Int) -> Bool
            ) -> Bool {
                guard let first = nodes.first else { return next(index) }
                return first.match(bytes, index) { end in matchSequence(nodes.dropFirst(), bytes, end, next) }
            }

            /// Greedy: one more repetition first, then stop. A repetition that consumes nothing ends the loop.
            private static func matchRepeated(
                _ node: Self, done: Int, min: Int, max: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ index: Int,
                _ next: (Int) -> Bool
            ) -> Bool {
                if done < max,
                    node.match(bytes, index, { end in end != index && matchRepeated(node, done: done + 1, min: min, max: max, bytes, end, next) })
                {
                    return true
                }
                return done >= min && next(index)
            }
        }

        /// Responses built from `Output` values.
        public enum APIResponse {
            public static func json(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
                let data = try APICoding.encoder.encode(value)
                return Response(
                    status: status,
                    headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data))
                )
            }

            public static func empty(status: HTTPResponse.Status) -> Response {
                Response(status: status)
            }
        }

        /// The one JSON configuration of the API: ISO 8601 dates (UTC), sorted keys.
        public enum APICoding {
            public static var encoder: JSONEncoder {
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .custom { date, encoder in
                    var container = encoder.singleValueContainer()
                    try container.encode(formatDate(date))
                }
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                return encoder
            }

            public static var decoder: JSONDecoder {
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .custom { decoder in
                    let container = try decoder.singleValueContainer()
                    let text = try container.decode(String.self)
                    guard let date = parseDate(text) else {
                        throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date-time")
                    }
                    return date
                }
                return decoder
            }

            /// `2026-11-29T08:30:00Z`, or with milliseconds when the date has them.
            public static func formatDate(_ date: Date) -> String {
                let hasFraction = date.timeIntervalSince1970.truncatingRemainder(dividingBy: 1) != 0
                return date.formatted(hasFraction ? fractional : whole)
            }

            /// An RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and `Z` in
            /// either case, every field range-checked (leap years and leap seconds included).
            public static func parseDate(_ text: String) -> Date? {
                let bytes = Array(text.utf8)
                guard bytes.count >= 20, bytes.count <= 64 else { return nil }
                func number(_ range: Range<Int>) -> Int? {
                    var value = 0
                    for index in range {
                        guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { return nil }
                        value = value * 10 + Int(bytes[index] - 48)
                    }
                    return value
                }
                guard let year = number(0..<4), bytes[4] == 45, let month = number(5..<7), bytes[7] == 45, let day = number(8..<10),
                    bytes[10] == 84 || bytes[10] == 116, let hour = number(11..<13), bytes[13] == 58, let minute = number(14..<16),
                    bytes[16] == 58, let second = number(17..<19)
                else { return nil }
                var index = 19
                var fraction = 0.0
                if bytes[index] == 46 {
                    index += 1
                    var scale = 0.1
                    let start = index
                    while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                        fraction += Double(bytes[index] - 48) * scale
                        scale /= 10
                        index += 1
                    }
                    guard index > start, index < bytes.count else { return nil }
                }
                var offset = 0
                switch bytes[index] {
                case 90, 122:
                    guard index + 1 == bytes.count else { return nil }
                case 43, 45:
                    guard index + 6 == bytes.count, let hours = number(index + 1..<index + 3), bytes[index + 3] == 58,
                        let minutes = number(index + 4..<index + 6), hours <= 23, minutes <= 59
                    else { return nil }
                    offset = (hours * 60 + minutes) * 60 * (bytes[index] == 43 ? 1 : -1)
                default:
                    return nil
                }
                let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
                let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
                guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour <= 23, minute <= 59, second <= 60 else { return nil }
                // Days since 1970-01-01 in the proleptic Gregorian calendar.
                let shifted = month <= 2 ? year - 1 : year
                let era = (shifted >= 0 ? shifted : shifted - 399) / 400
                let yearOfEra = shifted - era * 400
                let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
                let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
                let epochDays = era * 146_097 + dayOfEra - 719_468
                let seconds = Double(epochDays * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
                return Date(timeIntervalSince1970: seconds)
            }

            private static let whole = Date.ISO8601FormatStyle(timeZone: .gmt)
            private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
        }

        """#
}
