import Foundation
import Generated

/// What makes a list of identity providers usable beyond the spec's shapes (checked before the
/// handler), when an admin sets it: one provider per issuer and per namespace, claim names that
/// are not empty, https key locations (plain http only with `IDENTITY_ALLOW_INSECURE`), and an
/// inline key set with at least one signing key.
enum IdentityProviderRules {
    static func check(_ providers: [IdentityProvider], allowInsecure: Bool) async throws {
        for (index, provider) in providers.enumerated() {
            let field = "providers[\(index)]"
            guard provider.namespace != "guest" else {
                throw AppError.unprocessable(code: "identity_provider_conflict", message: "\(field).namespace 'guest' is the guests' own.")
            }
            if provider.requiredClaims?.keys.contains(where: \.isEmpty) == true {
                throw InputError(location: .body, name: field + ".requiredClaims", reason: "must not have an empty claim name")
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
