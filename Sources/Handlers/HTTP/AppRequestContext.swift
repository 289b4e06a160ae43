public import Foundation
public import Generated
public import Hummingbird
import Logging
public import NIOCore

/// Per-request state, filled in by the middleware and the authenticator as the request passes.
public struct AppRequestContext: APIRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The id of this request: the client's `x-request-id` when well formed, else generated.
    public var requestId: String
    /// When the request's head arrived (the context is made then): the start of the bridge's overhead.
    public let receivedAt = ContinuousClock.now
    /// The client's address: the socket peer, or the address a trusted proxy forwarded
    /// (`ClientAddressMiddleware`).
    public var clientIP: String
    /// The socket peer's address.
    public let peerIP: String?
    /// Completes when the client's connection closes (a stream relay stops then).
    public let connectionClosed: EventLoopFuture<Void>
    /// The request came through a trusted proxy that said the client used HTTPS.
    public var forwardedHTTPS = false
    /// The request's authority (`Host`), for the URL a DPoP proof must name.
    public var authority: String?
    /// The body limit (`MAX_BODY_BYTES`), set by `RequestLimitsMiddleware`.
    public var maxBodyBytes = 2 * 1024 * 1024
    public var maxUploadSize: Int { maxBodyBytes }
    /// The matched operation's policy from the spec (`RoutePolicyMiddleware`); empty for no route.
    public var policy = RoutePolicy()
    /// The matched operation's id (`RoutePolicyMiddleware`); nil for no route.
    public var operationId: String?
    /// Set by the authenticator for operations secured by `bearerAuth`.
    public var user: AuthenticatedUser?
    /// Set by the authenticator for operations secured by `adminKey`: a short fingerprint of the key.
    public var adminKeyId: String?
    /// Set by the authenticator for a request of a dashboard session: its token and expiry.
    public var session: (token: String, expiresAt: Date)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestId = ""
        self.peerIP = source.channel.remoteAddress?.ipAddress
        self.connectionClosed = source.channel.closeFuture
        self.clientIP = peerIP ?? "unknown"
    }

    /// The authenticated user; only operations secured by `bearerAuth` call it.
    public func requireUser() throws -> AuthenticatedUser {
        guard let user else { throw AppError.tokenMissing }
        return user
    }
}
