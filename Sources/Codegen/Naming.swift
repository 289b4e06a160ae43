/// Turns names from the spec into Swift identifiers, the same way every time.
enum Naming {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "protocol", "public", "rethrows", "static",
        "struct", "subscript", "typealias", "var", "break", "case", "continue", "default", "defer", "do",
        "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch", "where", "while",
        "as", "catch", "false", "is", "nil", "super", "self", "Self", "throw", "throws", "true", "try",
        "Type", "Protocol", "any", "some",
    ]

    /// Schema names that would shadow a Swift standard type get an `API` prefix (`Error` → `APIError`).
    static let shadowedTypes: Set<String> = ["Error", "Result", "Data", "Date", "URL", "UUID", "String", "Int", "Bool"]

    static func words(_ raw: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousWasLower = false
        for character in raw {
            if character.isLetter || character.isNumber {
                if character.isUppercase && previousWasLower && !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(character)
                previousWasLower = character.isLowercase || character.isNumber
            } else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousWasLower = false
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    static func upperCamel(_ raw: String) -> String {
        let joined = words(raw).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return joined.first?.isNumber == true ? "_" + joined : joined
    }

    static func lowerCamel(_ raw: String) -> String {
        let parts = words(raw)
        guard let first = parts.first else { return "_" }
        let head =
            first.allSatisfy { $0.isUppercase || $0.isNumber } ? first.lowercased() : first.prefix(1).lowercased() + first.dropFirst()
        let joined = head + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return joined.first?.isNumber == true ? "_" + joined : joined
    }

    /// The name of a type nested in another, from a property or parameter name. `Type`, `Protocol`
    /// and `Self` cannot name a member type, so they get a `Value` suffix (`type` → `TypeValue`).
    static func nestedTypeName(_ raw: String) -> String {
        let name = upperCamel(raw)
        return ["Type", "Protocol", "Self"].contains(name) ? name + "Value" : name
    }

    static func typeName(forSchema raw: String) -> String {
        let name = upperCamel(raw)
        return shadowedTypes.contains(name) ? "API" + name : name
    }

    /// An identifier, escaped with backticks when it is a keyword.
    static func identifier(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    /// The `Output` case for an HTTP status.
    static func caseName(forStatus status: Int) -> String {
        switch status {
        case 200: "ok"
        case 201: "created"
        case 202: "accepted"
        case 204: "noContent"
        case 301: "movedPermanently"
        case 302: "found"
        case 304: "notModified"
        case 307: "temporaryRedirect"
        case 308: "permanentRedirect"
        case 400: "badRequest"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "notFound"
        case 405: "methodNotAllowed"
        case 406: "notAcceptable"
        case 409: "conflict"
        case 410: "gone"
        case 413: "contentTooLarge"
        case 415: "unsupportedMediaType"
        case 422: "unprocessableContent"
        case 429: "tooManyRequests"
        case 500: "internalServerError"
        case 501: "notImplemented"
        case 502: "badGateway"
        case 503: "serviceUnavailable"
        case 504: "gatewayTimeout"
        default: "status\(status)"
        }
    }
}
