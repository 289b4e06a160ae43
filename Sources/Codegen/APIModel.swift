/// The part of an OpenAPI document the generator understands, after validation.
/// `SpecReader` builds it; `SwiftEmitter` turns it into Swift. Both are deterministic.
struct APIModel: Equatable {
    var title: String
    var version: String
    var schemas: [SchemaModel]
    var operations: [OperationModel]
}

/// A Swift type that a schema maps to.
indirect enum SwiftType: Equatable {
    case string, int32, int64, double, bool, date, uuid
    case array(SwiftType)
    case dictionary(SwiftType)
    case named(String)

    var code: String {
        switch self {
        case .string: "String"
        case .int32: "Int32"
        case .int64: "Int64"
        case .double: "Double"
        case .bool: "Bool"
        case .date: "Date"
        case .uuid: "UUID"
        case .array(let element): "[\(element.code)]"
        case .dictionary(let value): "[String: \(value.code)]"
        case .named(let name): name
        }
    }

    /// Whether the type, as a parameter, is spelled as one string (path, query, header).
    var isScalar: Bool {
        switch self {
        case .array, .dictionary: false
        case .named: true  // only string enums can be named parameter types
        default: true
        }
    }

    var usesFoundation: Bool {
        switch self {
        case .date, .uuid: true
        case .array(let element), .dictionary(let element): element.usesFoundation
        default: false
        }
    }
}

enum SchemaModel: Equatable {
    case object(ObjectModel)
    case stringEnum(EnumModel)
    case map(name: String, doc: String?, value: SwiftType)

    var name: String {
        switch self {
        case .object(let object): object.name
        case .stringEnum(let model): model.name
        case .map(let name, _, _): name
        }
    }
}

struct ObjectModel: Equatable {
    var name: String
    var doc: String?
    var properties: [PropertyModel]
    var nestedEnums: [EnumModel]
    /// Deprecated old names (`x-alias-of`): read into their property when it is absent, never written.
    var aliases: [Alias] = []

    struct Alias: Equatable {
        var jsonName: String
        var swiftName: String
        /// The Swift name of the property it stands for.
        var target: String
    }

    func alias(of property: PropertyModel) -> Alias? { aliases.first { $0.target == property.swiftName } }
}

struct PropertyModel: Equatable {
    var jsonName: String
    var swiftName: String
    var type: SwiftType
    var required: Bool
    var nullable: Bool
    var doc: String?
    var rules = ValueRules()

    /// Absent or null are both possible, so the Swift property is optional.
    var isOptional: Bool { !required || nullable }
    /// Required but nullable: a nil must be written as an explicit `null`.
    var encodesNull: Bool { required && nullable }
}

struct EnumModel: Equatable {
    var name: String
    var doc: String?
    var cases: [EnumCase]
}

struct EnumCase: Equatable {
    var swiftName: String
    var rawValue: String
}

struct OperationModel: Equatable {
    enum ParameterLocation: String, Equatable { case path, query, header }

    struct Parameter: Equatable {
        var name: String
        var swiftName: String
        var location: ParameterLocation
        var type: SwiftType
        var required: Bool
        var doc: String?
        /// `x-catch-all: true`: the rest of the path, any number of segments.
        var catchAll: Bool = false
        var rules = ValueRules()
    }

    struct Body: Equatable {
        var type: SwiftType
        var required: Bool
    }

    struct Response: Equatable {
        var status: Int
        var caseName: String
        var body: SwiftType?
        /// The headers the operation's handler sets (part of its output).
        var headers: [Header] = []
        /// The headers the bridge's edge sets on this response, whatever the handler does
        /// (`x-edge: true` on the header: the request id, `Cache-Control`, the per-address rate
        /// limit, `WWW-Authenticate`, `x-safeapi-upstream-status`). Documented, not in the output.
        var edgeHeaders: [Header] = []
        /// The documented media types when the body is not typed JSON (text, CSV, a provider's
        /// answer); empty otherwise.
        var untypedMediaTypes: [String] = []

        var allHeaders: [Header] { (headers + edgeHeaders).sorted { $0.name < $1.name } }

        /// The name of the struct that carries this response's headers (`TooManyRequestsHeaders`).
        var headersTypeName: String { caseName.prefix(1).uppercased() + caseName.dropFirst() + "Headers" }
    }

    /// A documented response header: a scalar, required or not.
    struct Header: Equatable {
        var name: String
        var swiftName: String
        var type: SwiftType
        var required: Bool
        var doc: String?
    }

    var id: String
    var typeName: String
    var method: String
    var path: String
    var routerPath: String
    var tags: [String]
    var summary: String?
    var security: [String]
    var parameters: [Parameter]
    var body: Body?
    var responses: [Response]
    /// `x-raw-body: true`: the handler gets the request and returns the response itself, streamed.
    var rawBody: Bool = false
    /// A raw operation with a `default` response: statuses other than the documented ones are the
    /// upstream's.
    var passesUpstream: Bool = false
    /// Per-operation policy, from the operation's `x-` extensions.
    var policy = Policy()

    /// What the middleware does for this operation, read from the route table.
    struct Policy: Equatable {
        /// `x-audit-action`: the audit log's action name; every call is audited.
        var auditAction: String?
        /// `x-no-store: true`: `Cache-Control: no-store` on every answer (credentials, keys, per-user data).
        var noStore = false
        /// `x-rate-limit`: the limit class (`address`: the per-address limit).
        var rateLimit: String?
    }
}

/// The spec's validation keywords on one input value, checked after decoding (`validation_failed`).
/// `format` and `enum` need no entry: decoding into `Date`, `UUID` or an enum checks them.
struct ValueRules: Equatable {
    var minLength = 0
    var maxLength: Int?
    /// The pattern as written, and parsed.
    var pattern: (source: String, node: PatternNode)?
    var minimum: Int64?
    var maximum: Int64?
    /// Items of an array, or properties of a map.
    var minCount = 0
    var maxCount: Int?
    /// The rules of each item of an array, or each value of a map.
    var element: Box?

    /// Indirection for the recursive `element`.
    final class Box: Equatable {
        let rules: ValueRules
        init(_ rules: ValueRules) { self.rules = rules }
        static func == (lhs: Box, rhs: Box) -> Bool { lhs.rules == rhs.rules }
    }

    var isEmpty: Bool { self == ValueRules() }

    static func == (lhs: ValueRules, rhs: ValueRules) -> Bool {
        lhs.minLength == rhs.minLength && lhs.maxLength == rhs.maxLength && lhs.pattern?.source == rhs.pattern?.source
            && lhs.minimum == rhs.minimum && lhs.maximum == rhs.maximum && lhs.minCount == rhs.minCount
            && lhs.maxCount == rhs.maxCount && lhs.element == rhs.element
    }
}
