import Crypto
public import Foundation
import JWTKit
import SQLKit

/// Why a DPoP proof was refused; the caller turns it into its route's error (400 at sign-in, 401
/// with a `DPoP` challenge on the API).
public struct DPoPRefusal: Error, Sendable, Equatable {
    public let reason: String
}

/// A checked DPoP proof: the RFC 7638 thumbprint of its key, which a bound token carries as
/// `cnf.jkt`.
public struct DPoPProof: Sendable, Equatable {
    public let thumbprint: String
}

/// Checks DPoP proofs (RFC 9449 §4.3): the header (`typ: dpop+jwt`, an accepted `alg` that fits the
/// embedded public `jwk`), the signature by that key (jwt-kit), the claims (`htm` and `htu` of
/// this request, `iat` within `window`, `ath` = the token's hash when a token is presented), and
/// that the `jti` was never seen within the window, on any instance: each (key, `jti`) is claimed
/// by one insert in `dpop_proofs`.
public struct DPoPVerifier: Sendable {
    let database: any Database
    /// How far `iat` may be from the server's clock, either way.
    let window: TimeInterval

    public static let algorithms = ["ES256", "EdDSA", "RS256"]

    public init(database: any Database, window: TimeInterval = 60) {
        self.database = database
        self.window = window
    }

    /// The proof's key, if `proof` is acceptable for `method` on `url`, presented with
    /// `accessToken` and signed by the key it is bound to (on the API), or without one (at
    /// sign-in). Every check comes before the `jti` is recorded, so a refused proof records nothing.
    public func verify(
        _ proof: String, method: String, url: String, accessToken: String?, boundTo expectedKey: String? = nil, now: Date = Date()
    ) async throws(DPoPRefusal) -> DPoPProof {
        guard proof.utf8.count <= 8192, let header = Header(proof) else { throw DPoPRefusal(reason: "the proof is not a signed JWT") }
        guard header.typ == "dpop+jwt" else { throw DPoPRefusal(reason: "the proof's typ must be dpop+jwt") }
        guard Self.algorithms.contains(header.alg) else { throw DPoPRefusal(reason: "the proof's alg must be one of ES256, EdDSA, RS256") }
        guard let key = header.key else { throw DPoPRefusal(reason: "the proof's jwk must be a public RSA, P-256 or Ed25519 key") }
        guard IdentityKeySets.algorithm(header.alg, fits: key.kind) else {
            throw DPoPRefusal(reason: "the proof's alg does not fit its key")
        }
        let claims: Claims
        do {
            let keys = JWTKeyCollection()
            try await keys.add(jwk: key.jwk)
            claims = try await keys.verify(proof, as: Claims.self)
        } catch {
            throw DPoPRefusal(reason: "the proof's signature or claims are not valid")
        }
        guard claims.htm == method else { throw DPoPRefusal(reason: "the proof is for another method (htm)") }
        guard Self.sameResource(claims.htu, url) else { throw DPoPRefusal(reason: "the proof is for another URL (htu)") }
        guard abs(claims.iat - now.timeIntervalSince1970) <= window else {
            throw DPoPRefusal(reason: "the proof's iat is not within \(Int(window)) seconds of the server's clock")
        }
        if let accessToken {
            let hash = Credentials.base64URL(Array(SHA256.hash(data: Data(accessToken.utf8))))
            guard claims.ath == hash else { throw DPoPRefusal(reason: "the proof is for another access token (ath)") }
        }
        guard !claims.jti.isEmpty, claims.jti.utf8.count <= 256 else { throw DPoPRefusal(reason: "the proof's jti must be 1 to 256 bytes") }
        if let expectedKey, key.thumbprint != expectedKey {
            throw DPoPRefusal(reason: "the proof is signed by another key than the token is bound to")
        }
        let fresh: Bool
        do {
            fresh = try await claim(jti: claims.jti, thumbprint: key.thumbprint, now: now)
        } catch {
            throw DPoPRefusal(reason: "the proof could not be checked for replay; try again")
        }
        guard fresh else { throw DPoPRefusal(reason: "the proof's jti was used before") }
        return DPoPProof(thumbprint: key.thumbprint)
    }

    /// Records the proof's `jti` for its key until it could no longer pass the `iat` check; false
    /// when it was already there.
    private func claim(jti: String, thumbprint: String, now: Date) async throws -> Bool {
        let key = Hex.encode(Array(SHA256.hash(data: Data((thumbprint + "|" + jti).utf8))))
        let nowMs = Millis.from(now)
        let expires = nowMs + Int64(2 * window * 1000)
        return try await database.withSQL { sql in
            // Proofs past their window are of no use: swept now and then, by the request that happens by.
            if Int.random(in: 0..<64) == 0 { try await sql.raw("DELETE FROM dpop_proofs WHERE expires_at_ms < \(bind: nowMs)").run() }
            return try await sql.raw(
                """
                INSERT INTO dpop_proofs (proof_key, expires_at_ms) VALUES (\(bind: key), \(bind: expires))
                ON CONFLICT (proof_key) DO NOTHING RETURNING proof_key
                """
            ).first() != nil
        }
    }

    /// `htu` names the request's URL, query and fragment aside (RFC 9449 §4.3), compared after
    /// RFC 3986 normalisation of case and default ports.
    static func sameResource(_ htu: String, _ url: String) -> Bool {
        func parts(_ text: String) -> (String, String, Int?, String)? {
            guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
                let host = components.host?.lowercased(), !host.isEmpty
            else { return nil }
            let port = components.port == (scheme == "https" ? 443 : scheme == "http" ? 80 : nil) ? nil : components.port
            let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            return (scheme, host, port, path)
        }
        guard let claimed = parts(htu), let actual = parts(url) else { return false }
        return claimed == actual
    }

    struct Claims: JWTPayload {
        var jti: String
        var htm: String
        var htu: String
        var iat: Double
        var ath: String?

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The proof's JOSE header, and its `jwk` read as a public key with its thumbprint.
    struct Header {
        var typ: String?
        var alg: String
        var key: PublicKey?

        struct PublicKey {
            var jwk: JWK
            var kind: String
            var thumbprint: String
        }

        init?(_ proof: String) {
            let parts = proof.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let header = Credentials.jsonObject(base64URL: parts[0]), let alg = header["alg"] as? String
            else { return nil }
            self.typ = header["typ"] as? String
            self.alg = alg
            self.key = (header["jwk"] as? [String: Any]).flatMap(Self.publicKey)
        }

        /// RFC 7638: the key's required members, in order, without blanks, hashed with SHA-256. A key
        /// with any private member is refused.
        static func publicKey(_ jwk: [String: Any]) -> PublicKey? {
            let secret = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            guard !secret.contains(where: { jwk[$0] != nil }) else { return nil }
            let members: [String]
            let kind: String
            switch (jwk["kty"] as? String, jwk["crv"] as? String) {
            case ("EC", "P-256"): (members, kind) = (["crv", "kty", "x", "y"], "EC P-256")
            case ("OKP", "Ed25519"): (members, kind) = (["crv", "kty", "x"], "OKP Ed25519")
            case ("RSA", _): (members, kind) = (["e", "kty", "n"], "RSA")
            default: return nil
            }
            var fields: [String] = []
            for member in members {
                guard let value = jwk[member] as? String, !value.isEmpty,
                    value.utf8.allSatisfy({ $0.isBase64URL })
                else { return nil }
                fields.append("\"\(member)\":\"\(value)\"")
            }
            let canonical = "{" + fields.joined(separator: ",") + "}"
            // The same members, with a fixed `kid` so jwt-kit takes it as the collection's key.
            let json = "{" + fields.joined(separator: ",") + ",\"kid\":\"dpop\"}"
            guard let key = try? JSONDecoder().decode(JWK.self, from: Data(json.utf8)) else { return nil }
            return PublicKey(
                jwk: key, kind: kind, thumbprint: Credentials.base64URL(Array(SHA256.hash(data: Data(canonical.utf8)))))
        }
    }
}

extension UInt8 {
    /// A character of the base64url alphabet (RFC 4648 §5).
    fileprivate var isBase64URL: Bool {
        (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || (0x30...0x39).contains(self) || self == 0x2D || self == 0x5F
    }
}
