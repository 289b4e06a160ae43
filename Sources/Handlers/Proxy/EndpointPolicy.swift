import HTTPTypes
import Logging

/// One allow-list entry, matched whole segment by whole segment. A segment is a literal, or a
/// variable `{name}` with an optional literal suffix (`{model}:generateContent`) that matches one
/// non-empty segment.
public struct EndpointPattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case variable(suffix: String)
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    let segments: [Segment]
    public let text: String

    public init(_ text: String) throws {
        guard text.hasPrefix("/"), text.count > 1 else { throw Invalid(description: "a pattern starts with / and names a path") }
        var segments: [Segment] = []
        for part in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw Invalid(description: "empty segment") }
            if part.hasPrefix("{") {
                guard let close = part.firstIndex(of: "}"), close > part.index(after: part.startIndex) else {
                    throw Invalid(description: "unclosed variable")
                }
                let suffix = String(part[part.index(after: close)...])
                guard !suffix.contains("{"), !suffix.contains("}") else { throw Invalid(description: "one variable per segment") }
                segments.append(.variable(suffix: suffix))
            } else {
                guard !part.contains("{"), !part.contains("}") else { throw Invalid(description: "a variable must start its segment") }
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
        self.text = text
    }

    /// Whether the validated `segments` of a path match this pattern.
    func matches(_ path: [Substring]) -> Bool {
        guard path.count == segments.count else { return false }
        for (segment, part) in zip(segments, path) {
            switch segment {
            case .literal(let literal):
                guard part == literal else { return false }
            case .variable(let suffix):
                guard part.hasSuffix(suffix), part.count > suffix.count else { return false }
            }
        }
        return true
    }
}

/// Decides whether an `endpoint` from a client may be called on a provider. The endpoint is
/// percent-decoded exactly once, then anything that could change which URL is reached is refused
/// (400 `invalid_endpoint`) before the allow-list is consulted (403 `endpoint_not_allowed`). The
/// upstream URL is the base URL plus the returned clean path, never the raw input.
public enum EndpointPolicy {
    public enum Verdict: Equatable, Sendable {
        /// The clean path to append to the base URL.
        case allowed(path: String)
        case invalid(reason: String)
        case notAllowed
    }

    public static func check(_ raw: String, method: String, endpoints: [ProviderDefinition.Endpoint]) -> Verdict {
        let path: String
        switch clean(raw) {
        case .success(let value): path = value
        case .failure(let error): return .invalid(reason: error.reason)
        }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for endpoint in endpoints where endpoint.methods.contains(method) {
            if let pattern = endpoint.pattern, pattern.matches(segments) {
                return .allowed(path: path)
            }
        }
        return .notAllowed
    }

    struct Refusal: Error {
        let reason: String
    }

    /// The decoded path if it is a plain absolute path of safe segments.
    static func clean(_ raw: String) -> Result<String, Refusal> {
        guard !raw.isEmpty, raw.utf8.count <= 2048 else { return .failure(.init(reason: "must be 1 to 2048 characters")) }
        var decoded = raw  // most endpoints have nothing encoded
        if raw.utf8.contains(UInt8(ascii: "%")) {
            // An encoded dot, slash or backslash only ever serves to hide a segment boundary.
            let lowered = raw.lowercased()
            for encoded in ["%2e", "%2f", "%5c"] where lowered.contains(encoded) {
                return .failure(.init(reason: "must not encode dots, slashes or backslashes"))
            }
            guard let once = raw.removingPercentEncodingOnce() else { return .failure(.init(reason: "is not valid percent-encoding")) }
            // After one decode nothing may still look encoded: that would be double encoding.
            if once.contains("%") { return .failure(.init(reason: "must not be encoded twice")) }
            decoded = once
        }
        guard decoded.hasPrefix("/") else { return .failure(.init(reason: "must start with /")) }
        for scalar in decoded.unicodeScalars {
            if scalar.value < 0x21 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                return .failure(.init(reason: "must not contain spaces or control characters"))
            }
            switch scalar {
            case "\\": return .failure(.init(reason: "must not contain a backslash"))
            case "?", "#": return .failure(.init(reason: "must not contain a query or fragment; pass parameters separately"))
            case "@": return .failure(.init(reason: "must not contain @"))
            default: break
            }
        }
        if decoded.contains("//") { return .failure(.init(reason: "must not contain empty segments")) }
        if decoded.contains("://") { return .failure(.init(reason: "must be a path, not a URL")) }
        let segments = decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments {
            if segment == "." || segment == ".." { return .failure(.init(reason: "must not contain dot segments")) }
            if segment.isEmpty { return .failure(.init(reason: "must name a path and not end with /")) }
        }
        return .success(decoded)
    }
}

extension String {
    /// Decodes `%XX` sequences once. Nil when a `%` is not followed by two hex digits.
    func removingPercentEncodingOnce() -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = Array(utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = Hex.decode(String(decoding: [high, low], as: UTF8.self))?.first
                else {
                    return nil
                }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension EndpointPolicy {
    /// The endpoint stage: the clean path of a call the provider's allow-list permits. A refusal is
    /// a security event, logged with the provider and the client's address.
    static func allow(_ call: ProxyCall, logger: Logger) throws -> String {
        switch check(call.endpoint, method: call.method.rawValue, endpoints: call.provider.definition.endpoints) {
        case .allowed(let path):
            return path
        case .invalid(let reason):
            logger.info(
                "security: endpoint refused",
                metadata: [
                    "security.event": "invalid_endpoint", "provider": .string(call.provider.id), "client.ip": .string(call.clientIP),
                ])
            throw AppError.invalidEndpoint(reason: reason)
        case .notAllowed:
            logger.info(
                "security: endpoint not allowed",
                metadata: [
                    "security.event": "endpoint_not_allowed", "provider": .string(call.provider.id), "client.ip": .string(call.clientIP),
                ])
            throw AppError.endpointNotAllowed
        }
    }
}
