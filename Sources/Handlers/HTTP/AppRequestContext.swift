public import Generated
public import Hummingbird
import Logging

/// Per-request state, filled in by the middleware as the request passes through.
public struct AppRequestContext: APIRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The id of this request: the client's `x-request-id` when well formed, else generated.
    public var requestId: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestId = ""
    }
}
