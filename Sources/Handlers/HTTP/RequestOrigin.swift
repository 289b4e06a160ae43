/// The scheme and host clients call the bridge at, for the URL a DPoP proof names (`htu`):
/// `PUBLIC_URL` when set (behind a proxy that rewrites `Host`, set it), else `https` under native
/// TLS or when a trusted proxy said so, `http` otherwise, with the request's `Host`.
public struct RequestOrigin: Sendable {
    let publicURL: String?
    let tls: Bool

    public init(publicURL: String? = nil, tls: Bool = false) {
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.tls = tls
    }

    /// The URL of `path` as the client called it.
    public func url(_ path: String, context: AppRequestContext) -> String {
        if let publicURL { return publicURL + path }
        return (tls || context.forwardedHTTPS ? "https://" : "http://") + (context.authority ?? "") + path
    }
}
