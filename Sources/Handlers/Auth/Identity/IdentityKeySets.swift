import Crypto
public import Foundation
import Generated
import JWTKit
import Synchronization

/// Fetches a document (a key set, an OpenID configuration) for `IdentityKeySets`.
public protocol IdentityDocumentFetcher: Sendable {
    /// The body, and how long it may be kept (`Cache-Control: max-age`), if the server said.
    func fetch(_ url: String) async throws -> (body: Data, maxAge: Duration?)
}

/// Why a subject token cannot be exchanged; the API answers with RFC 6749 §5.2 codes.
public enum ExchangeFailure: Error, Equatable, Sendable {
    /// A parameter is missing or malformed (`invalid_request`).
    case invalidRequest(String)
    /// The app is unknown or inactive (`invalid_client`).
    case invalidClient(String)
    /// The subject token is not acceptable (`invalid_grant`).
    case invalidGrant(String)
    case unsupportedGrantType
    /// The issuer's keys cannot be had and none are cached (503).
    case keysUnavailable(String)
    /// The `DPoP` proof is not acceptable, or the app requires one (`invalid_dpop_proof`, RFC 9449 §5).
    case invalidDPoPProof(String)
}

/// The signing keys of each trusted issuer: inline, from a `jwksUri`, or found through OpenID
/// discovery. Fetched keys are kept for the server's `max-age` (between 1 minute and 24 hours; 1
/// hour when it says nothing) and, when a refresh fails, for as long as the issuer is down. A fetch
/// (for a missing, expired or `kid`-less set) is tried at most once per `refetchInterval` per key
/// location, failed or not, so neither a flood of made-up `kid`s nor a flood of requests while the
/// issuer is down is a flood of fetches.
public final class IdentityKeySets: Sendable {
    struct KeySet {
        let keys: JWTKeyCollection
        /// Each key's id and what it signs with (`RSA`, `EC P-256`, `OKP Ed25519`).
        let kinds: [String: String]
        let expires: ContinuousClock.Instant
    }

    private struct Entry {
        var set: KeySet?
        var lastAttempt: ContinuousClock.Instant?
    }

    private let entries = Mutex<[String: Entry]>([:])
    let fetcher: any IdentityDocumentFetcher
    let refetchInterval: Duration

    public init(fetcher: any IdentityDocumentFetcher, refetchInterval: Duration = .seconds(30)) {
        self.fetcher = fetcher
        self.refetchInterval = refetchInterval
    }

    /// A key collection that holds `kid` (or the only key, when the token names none) for `alg`.
    func keys(for provider: IdentityProvider, kid: String?, alg: String) async throws(ExchangeFailure) -> JWTKeyCollection {
        // Inline sets by their content: two apps may trust one issuer with different inline keys.
        let source =
            provider.jwks.map { "inline:" + Hex.encode(SHA256.hash(data: Data($0.utf8))) } ?? provider.jwksUri ?? "discovery:"
            + provider.issuer
        let now = ContinuousClock.now
        // Whether to fetch is decided and marked in one step, so requests arriving together make
        // one fetch, and a failed fetch is not retried before `refetchInterval` either.
        let (cached, fetch) = entries.withLock { entries -> (KeySet?, Bool) in
            let entry = entries[source] ?? Entry()
            let wanted = entry.set.map { now >= $0.expires || !Self.holds($0, kid: kid) } ?? true
            let allowed = entry.lastAttempt.map { now - $0 >= refetchInterval } ?? true
            if wanted && allowed { entries[source, default: Entry()].lastAttempt = now }
            return (entry.set, wanted && allowed)
        }
        var set = cached
        if fetch, let fresh = await load(provider, now: now) {
            entries.withLock { $0[source, default: Entry()].set = fresh }
            set = fresh
        }
        guard let set else { throw .keysUnavailable("The identity provider's keys could not be fetched.") }
        let chosen = kid ?? (set.kinds.count == 1 ? set.kinds.keys.first : nil)
        guard let chosen, let kind = set.kinds[chosen] else {
            throw .invalidGrant("The subject token is signed with a key the issuer does not publish.")
        }
        guard Self.algorithm(alg, fits: kind) else { throw .invalidGrant("The subject token's algorithm does not match its key.") }
        return set.keys
    }

    static func holds(_ set: KeySet, kid: String?) -> Bool {
        kid.map { set.kinds[$0] != nil } ?? (set.kinds.count == 1)
    }

    static func algorithm(_ alg: String, fits kind: String) -> Bool {
        switch alg {
        case "RS256": kind == "RSA"
        case "ES256": kind == "EC P-256"
        case "EdDSA": kind == "OKP Ed25519"
        default: false
        }
    }

    /// The issuer's key set, or nil when it cannot be had right now.
    private func load(_ provider: IdentityProvider, now: ContinuousClock.Instant) async -> KeySet? {
        do {
            if let inline = provider.jwks {
                return try await Self.keySet(Data(inline.utf8), expires: now + .seconds(365 * 86_400))
            }
            var url = provider.jwksUri
            if url == nil {
                let discovery = provider.issuer.trimmingSuffix("/") + "/.well-known/openid-configuration"
                let document = try await fetcher.fetch(discovery)
                let configuration = try JSONSerialization.jsonObject(with: document.body) as? [String: Any]
                url = configuration?["jwks_uri"] as? String
            }
            guard let url else { return nil }
            let fetched = try await fetcher.fetch(url)
            let lifetime = min(max(fetched.maxAge ?? .seconds(3600), .seconds(60)), .seconds(86_400))
            return try await Self.keySet(fetched.body, expires: now + lifetime)
        } catch {
            return nil
        }
    }

    /// The signing keys of a JWKS document. Keys for encryption, of another type or without an id
    /// (unless the set has only one) are left out; a set with no usable key is no set.
    static func keySet(_ document: Data, expires: ContinuousClock.Instant) async throws -> KeySet? {
        struct Header: Decodable {
            var kid: String?
            var kty: String?
            var crv: String?
            var use: String?
        }
        struct Document: Decodable { var keys: [JWK] }
        struct Headers: Decodable { var keys: [Header] }
        let keys = try JSONDecoder().decode(Document.self, from: document).keys
        let headers = try JSONDecoder().decode(Headers.self, from: document).keys
        let collection = JWTKeyCollection()
        var kinds: [String: String] = [:]
        for (key, header) in zip(keys, headers) where header.use == nil || header.use == "sig" {
            let kind: String
            switch (header.kty, header.crv) {
            case ("RSA", _): kind = "RSA"
            case ("EC", "P-256"): kind = "EC P-256"
            case ("OKP", "Ed25519"): kind = "OKP Ed25519"
            default: continue
            }
            var key = key
            let kid = header.kid ?? (keys.count == 1 ? "only" : nil)
            guard let kid else { continue }
            key.keyIdentifier = JWKIdentifier(string: kid)
            guard (try? await collection.add(jwk: key)) != nil else { continue }
            kinds[kid] = kind
        }
        return kinds.isEmpty ? nil : KeySet(keys: collection, kinds: kinds, expires: expires)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
