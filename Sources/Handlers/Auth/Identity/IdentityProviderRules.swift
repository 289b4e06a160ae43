import Foundation
import Generated

/// What makes a list of identity providers usable, checked when an admin sets it: the spec's
/// shapes, one provider per issuer and per namespace, https key locations (plain http only with
/// `IDENTITY_ALLOW_INSECURE`), and an inline key set with at least one signing key.
enum IdentityProviderRules {
    static func check(_ providers: [IdentityProvider], allowInsecure: Bool) async throws {
        guard providers.count <= 10 else { throw InputError(location: .body, name: "providers", reason: "must have at most 10 items") }
        for (index, provider) in providers.enumerated() {
            let field = "providers[\(index)]"
            try Validate.length(provider.issuer, 1...500, field: field + ".issuer")
            guard Validate.hasShape(provider.namespace, length: 1...32, extra: "-"), provider.namespace == provider.namespace.lowercased()
            else {
                throw InputError(location: .body, name: field + ".namespace", reason: "must be 1 to 32 of a-z, 0-9 or '-'")
            }
            guard provider.namespace != "guest" else {
                throw AppError.unprocessable(code: "identity_provider_conflict", message: "\(field).namespace 'guest' is the guests' own.")
            }
            guard (1...20).contains(provider.audiences.count), provider.audiences.allSatisfy({ (1...500).contains($0.count) }) else {
                throw InputError(location: .body, name: field + ".audiences", reason: "must be 1 to 20 values of 1 to 500 characters")
            }
            try Validate.length(provider.jwksUri, 1...2000, field: field + ".jwksUri")
            try Validate.length(provider.jwks, 1...65_536, field: field + ".jwks")
            try Validate.length(provider.userClaim, 1...100, field: field + ".userClaim")
            try Validate.range(provider.clockSkewSeconds, 0...600, field: field + ".clockSkewSeconds")
            if provider.algorithms?.isEmpty == true {
                throw InputError(location: .body, name: field + ".algorithms", reason: "must name at least one algorithm")
            }
            if let claims = provider.requiredClaims, claims.count > 20 || claims.contains(where: { $0.key.isEmpty || $0.value.count > 500 })
            {
                throw InputError(
                    location: .body, name: field + ".requiredClaims", reason: "must be at most 20 names with values of up to 500 characters"
                )
            }
            if let jwks = provider.jwks {
                guard (try? await IdentityKeySets.keySet(Data(jwks.utf8), expires: .now)) ?? nil != nil else {
                    throw AppError.unprocessable(
                        code: "identity_provider_jwks_invalid",
                        message: "\(field).jwks is not a JWK Set with an RSA, P-256 or Ed25519 signing key.")
                }
            } else {
                // The keys are fetched: from jwksUri, or from the issuer's discovery document.
                let location = provider.jwksUri ?? provider.issuer
                guard let url = URL(string: location), url.host != nil, url.scheme == "https" || (allowInsecure && url.scheme == "http")
                else {
                    throw AppError.unprocessable(
                        code: "identity_provider_url_refused",
                        message:
                            "\(field): keys are fetched over https only (\(provider.jwksUri == nil ? "the issuer, for discovery" : "jwksUri"))."
                    )
                }
            }
        }
        for key in [\IdentityProvider.issuer, \IdentityProvider.namespace]
        where Set(providers.map { $0[keyPath: key] }).count < providers.count {
            throw AppError.unprocessable(code: "identity_provider_conflict", message: "Two providers share an issuer or a namespace.")
        }
    }
}
