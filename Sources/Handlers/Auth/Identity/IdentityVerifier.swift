public import Foundation
public import Generated
import JWTKit

/// Checks a subject token (an OpenID Connect ID token, or an access token in JWT form) against
/// the identity providers an app trusts, and says which user it speaks for: the provider's
/// namespace, a colon, and the chosen claim (`sub` by default), so two issuers cannot collide.
public struct IdentityVerifier: Sendable {
    let keySets: IdentityKeySets

    public init(keySets: IdentityKeySets) {
        self.keySets = keySets
    }

    /// The algorithms accepted when a provider names none. Never `none`, never HMAC: a public
    /// key is no secret.
    public static let defaultAlgorithms: [IdentityAlgorithm] = IdentityAlgorithm.allCases

    /// The user id a good token speaks for; every refusal says why.
    public func userId(for token: String, trusting providers: [IdentityProvider], now: Date = Date()) async throws(ExchangeFailure)
        -> String
    {
        guard let header = SubjectTokenHeader(token) else { throw .invalidGrant("The subject token is not a signed JWT.") }
        guard let provider = providers.first(where: { $0.issuer == header.issuer }) else {
            throw .invalidGrant("The subject token's issuer is not trusted by this app.")
        }
        let allowed = (provider.algorithms ?? Self.defaultAlgorithms).map(\.rawValue)
        guard allowed.contains(header.alg) else { throw .invalidGrant("The subject token's algorithm '\(header.alg)' is not accepted.") }
        let keys = try await keySets.keys(for: provider, kid: header.kid, alg: header.alg)
        let claims: [String: ClaimValue]
        do {
            claims = try await keys.verify(token, as: SubjectClaims.self).claims
        } catch {
            throw .invalidGrant("The subject token's signature is not valid.")
        }
        try Self.check(claims, provider: provider, now: now)
        let claim = provider.userClaim ?? "sub"
        guard let subject = claims[claim]?.string, !subject.isEmpty, subject.utf8.count <= 255,
            subject.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        else { throw .invalidGrant("The subject token's '\(claim)' claim is missing or not up to 255 ASCII characters.") }
        return provider.namespace + ":" + subject
    }

    /// Issuer, audience, times (with the provider's clock skew) and the required claims.
    static func check(_ claims: [String: ClaimValue], provider: IdentityProvider, now: Date) throws(ExchangeFailure) {
        guard claims["iss"]?.string == provider.issuer else {
            throw .invalidGrant("The subject token's issuer is not trusted by this app.")
        }
        let audiences: [String] =
            switch claims["aud"] {
            case .string(let one): [one]
            case .array(let many): many.compactMap(\.string)
            default: []
            }
        guard audiences.contains(where: provider.audiences.contains) else {
            throw .invalidGrant("The subject token is meant for another audience.")
        }
        let skew = Double(provider.clockSkewSeconds ?? 60)
        let time = now.timeIntervalSince1970
        guard let expires = claims["exp"]?.number else { throw .invalidGrant("The subject token has no expiry.") }
        guard time < expires + skew else { throw .invalidGrant("The subject token has expired.") }
        if let notBefore = claims["nbf"]?.number, time + skew < notBefore { throw .invalidGrant("The subject token is not valid yet.") }
        if let issuedAt = claims["iat"]?.number, time + skew < issuedAt {
            throw .invalidGrant("The subject token was issued in the future.")
        }
        for (name, expected) in (provider.requiredClaims ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let value = claims[name], Self.text(of: value) == expected else {
                throw .invalidGrant("The subject token's '\(name)' claim is missing or does not have the required value.")
            }
        }
    }

    /// A claim as the text a required claim is written in: strings as they are, `true`/`false`,
    /// whole numbers without a fraction.
    static func text(of value: ClaimValue) -> String? {
        switch value {
        case .string(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        default: nil
        }
    }
}
