public import Foundation
public import JWTKit
import Synchronization

/// The claims of an access token. `gen` is the user's token generation when it was issued and
/// `fam` the refresh-token family it belongs to, so both can be revoked without a list of tokens.
public struct AccessClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var app: String
    public var jti: IDClaim
    public var iat: IssuedAtClaim
    public var nbf: NotBeforeClaim
    public var exp: ExpirationClaim
    public var iss: IssuerClaim
    public var aud: AudienceClaim
    public var gen: Int64
    public var fam: String
    /// RFC 9449 §6.1: the thumbprint of the key the token is bound to (DPoP); absent for a bearer token.
    public var cnf: Confirmation?

    public struct Confirmation: Codable, Equatable, Sendable {
        public var jkt: String
    }

    public init(
        sub: SubjectClaim, app: String, jti: IDClaim, iat: IssuedAtClaim, nbf: NotBeforeClaim, exp: ExpirationClaim, iss: IssuerClaim,
        aud: AudienceClaim, gen: Int64, fam: String, jkt: String? = nil
    ) {
        self.cnf = jkt.map { Confirmation(jkt: $0) }
        self.sub = sub
        self.app = app
        self.jti = jti
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.iss = iss
        self.aud = aud
        self.gen = gen
        self.fam = fam
    }

    /// jwt-kit calls this after the signature checks out. The time, issuer and audience checks are
    /// made by `TokenService.verify` right after, so that each failure gets its own error code.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Who an accepted access token speaks for.
public struct AuthenticatedUser: Sendable, Equatable {
    public let userId: String
    public let appId: String
    public let tokenId: String
    public let familyId: String
    public let generation: Int64
    public let issuedAt: Date
    public let expiresAt: Date
    /// The thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`).
    public var boundKey: String? = nil
}

/// Signs and verifies access tokens: HS256 only, through jwt-kit.
public struct TokenService: Sendable {
    private let keys: JWTKeyCollection
    let settings: AuthSettings
    /// Tokens whose signature and claims were checked, by their exact text: a client sends the
    /// same token for up to 15 minutes, and checking it again (HMAC, JSON, an actor hop) was a
    /// tenth of a proxied call's CPU. Times are checked on every use; revocation is the
    /// authenticator's, after this, every time.
    private let verified = VerifiedTokens()

    public init(settings: AuthSettings) async {
        self.settings = settings
        self.keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: settings.jwtSecret.value), digestAlgorithm: .sha256)
    }

    /// A signed access token for the user.
    public func issue(userId: String, appId: String, generation: Int64, familyId: String, boundKey: String? = nil, now: Date = Date())
        async throws -> (
            token: String, claims: AccessClaims
        )
    {
        let issuedAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = AccessClaims(
            sub: .init(value: userId),
            app: appId,
            jti: .init(value: Credentials.newId()),
            iat: .init(value: issuedAt),
            nbf: .init(value: issuedAt),
            exp: .init(value: issuedAt.addingTimeInterval(Double(settings.accessTokenTTL.components.seconds))),
            iss: .init(value: settings.issuer),
            aud: .init(value: [settings.audience]),
            gen: generation,
            fam: familyId,
            jkt: boundKey
        )
        return (try await keys.sign(claims), claims)
    }

    /// The user a token speaks for, or the reason it is refused (signature, then time, issuer and
    /// audience). Revocation is the caller's check (`RevocationList`).
    public func verify(_ token: String, now: Date = Date()) async throws(AppError) -> AuthenticatedUser {
        if let known = verified.lookup(token) {
            if now < known.notBefore { throw .tokenNotYetValid }
            if now >= known.user.expiresAt { throw .tokenExpired }
            return known.user
        }
        // jwt-kit verifies with its one HMAC key whatever the header says: the header must say
        // exactly what we sign (`alg: HS256`, `typ` absent or `JWT`), or the token is refused.
        switch Self.hasOurHeader(token) {
        case true?: break
        case false?: throw .tokenInvalidSignature
        case nil: throw .tokenMalformed
        }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch let error as JWTError {
            switch error.errorType {
            case .signatureVerificationFailed, .signingAlgorithmFailure, .unsupportedAlgorithm, .unknownKID, .missingKIDHeader,
                .invalidHeaderField:
                throw .tokenInvalidSignature
            default:
                throw .tokenMalformed
            }
        } catch {
            throw .tokenMalformed
        }
        if now < claims.nbf.value { throw .tokenNotYetValid }
        if now >= claims.exp.value { throw .tokenExpired }
        if claims.iss.value != settings.issuer { throw .tokenInvalidIssuer }
        if !claims.aud.value.contains(settings.audience) { throw .tokenInvalidAudience }
        let user = AuthenticatedUser(
            userId: claims.sub.value,
            appId: claims.app,
            tokenId: claims.jti.value,
            familyId: claims.fam,
            generation: claims.gen,
            issuedAt: claims.iat.value,
            expiresAt: claims.exp.value,
            boundKey: claims.cnf?.jkt
        )
        verified.remember(token, user: user, notBefore: claims.nbf.value)
        return user
    }
}

extension TokenService {
    private struct Header: Decodable {
        var alg: String?
        var typ: String?
    }

    /// Whether the token's JOSE header is `{"alg":"HS256"}` with `typ` absent or `JWT` (RFC 7519
    /// §5.1); nil when there is no header that is base64url JSON.
    static func hasOurHeader(_ token: String) -> Bool? {
        guard let end = token.firstIndex(of: ".") else { return nil }
        guard let data = Credentials.base64URLDecoded(token[..<end]), let header = try? JSONDecoder().decode(Header.self, from: data) else {
            return nil
        }
        return header.alg == "HS256" && (header.typ == nil || header.typ == "JWT")
    }
}

/// Checked tokens in memory, at most `capacity` (then the oldest half of them by expiry is let go).
final class VerifiedTokens: Sendable {
    struct Entry: Sendable {
        var user: AuthenticatedUser
        var notBefore: Date
    }

    static let capacity = 10_000
    private let entries = Mutex<[String: Entry]>([:])

    func lookup(_ token: String) -> Entry? {
        entries.withLock { $0[token] }
    }

    func remember(_ token: String, user: AuthenticatedUser, notBefore: Date) {
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                let now = Date()
                entries = entries.filter { $0.value.user.expiresAt > now }
                if entries.count >= Self.capacity {
                    let cut = entries.values.map(\.user.expiresAt).sorted()[entries.count / 2]
                    entries = entries.filter { $0.value.user.expiresAt > cut }
                }
            }
            entries[token] = Entry(user: user, notBefore: notBefore)
        }
    }
}
