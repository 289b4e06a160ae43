import Foundation
import Generated
import JWTKit

/// A claim's value in an identity provider's token, whatever its JSON type.
public enum ClaimValue: Codable, Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ClaimValue])
    case object([String: ClaimValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ClaimValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ClaimValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
}

/// Every claim of a subject token, for jwt-kit to decode once the signature checks out. The
/// claims themselves are checked by `IdentityVerifier`, each with its own reason.
struct SubjectClaims: JWTPayload {
    var claims: [String: ClaimValue]

    init(from decoder: any Decoder) throws {
        claims = try [String: ClaimValue](from: decoder)
    }

    func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The parts of a compact JWS read before any key is chosen: the header's `alg` and `kid`, and
/// the unverified `iss` that says which trusted issuer's keys to use. Nothing here is trusted
/// until the signature is checked; `jku`, `x5u`, `x5c` and `jwk` headers are never read.
struct SubjectTokenHeader: Sendable, Equatable {
    var alg: String
    var kid: String?
    var issuer: String

    init?(_ token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 16_384,
            let header = Credentials.jsonObject(base64URL: parts[0]), let payload = Credentials.jsonObject(base64URL: parts[1]),
            let alg = header["alg"] as? String, let issuer = payload["iss"] as? String
        else { return nil }
        self.alg = alg
        self.kid = header["kid"] as? String
        self.issuer = issuer
    }
}
