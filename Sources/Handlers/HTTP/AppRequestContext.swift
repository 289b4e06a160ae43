public import Generated
public import Hummingbird
import Logging
import NIOCore

/// Per-request state, filled in by the middleware and the authenticator as the request passes.
public struct AppRequestContext: APIRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The id of this request: the client's `x-request-id` when well formed, else generated.
    public var requestId: String
    /// The socket peer's address (trusted proxies come with the limits issue).
    public let clientIP: String
    /// Set by the authenticator for operations secured by `bearerAuth`.
    public var user: AuthenticatedUser?
    /// Set by the authenticator for operations secured by `adminKey`: a short fingerprint of the key.
    public var adminKeyId: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestId = ""
        self.clientIP = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The authenticated user; only operations secured by `bearerAuth` call it.
    public func requireUser() throws -> AuthenticatedUser {
        guard let user else { throw AppError.tokenMissing }
        return user
    }
}
