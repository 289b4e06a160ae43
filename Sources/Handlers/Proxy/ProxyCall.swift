public import HTTPTypes
public import Hummingbird
public import NIOCore

/// One proxied call, built once by the API layer from the operation's decoded input and passed
/// through the stages of `ProxyService`: what the client asked for, the provider it names, and
/// who asks.
public struct ProxyCall: Sendable {
    public var provider: Provider
    public var method: HTTPRequest.Method
    /// The endpoint exactly as the client sent it; `EndpointPolicy` decodes and checks it.
    public var endpoint: String
    /// Query parameters to forward (the GET forms), already decoded.
    public var query: [(name: String, value: String)]
    public var body: ProxyBody
    public var clientHeaders: HTTPFields
    public var user: AuthenticatedUser
    public var clientIP: String
    public var requestId: String
    /// `X-Partial-Key-Id` and `X-Partial-Key`: use the caller's split key instead of the server's.
    public var splitKey: (id: String, part: String)?
    /// The answer goes to the client in another dialect than the provider's (the gateway).
    public var translation: (any AnswerTranslation)?
    /// What the call costs, when it is not the provider's price for the model (a gateway alias's).
    public var price: ProviderDefinition.Price?

    public init(
        provider: Provider, method: HTTPRequest.Method, endpoint: String, query: [(name: String, value: String)] = [], body: ProxyBody,
        clientHeaders: HTTPFields, user: AuthenticatedUser, clientIP: String, requestId: String,
        splitKey: (id: String, part: String)? = nil,
        translation: (any AnswerTranslation)? = nil, price: ProviderDefinition.Price? = nil
    ) {
        self.provider = provider
        self.method = method
        self.endpoint = endpoint
        self.query = query
        self.body = body
        self.clientHeaders = clientHeaders
        self.user = user
        self.clientIP = clientIP
        self.requestId = requestId
        self.splitKey = splitKey
        self.translation = translation
        self.price = price
    }
}

/// The body of a proxied call, as the client sent it.
public enum ProxyBody: Sendable {
    case none
    /// The provider's request, as the official SDKs send it.
    case asSent(ByteBuffer)
    /// The old product's form, `{"endpoint": …, …request}`: the endpoint and the fields that
    /// product stripped (`JSONBodyEdit.strippedFields`) never go upstream.
    case oldForm(ByteBuffer)
    /// A request the gateway (`/v1`) prepared in the provider's terms, its model renamed or the
    /// whole request translated: sent as it is.
    case prepared(ByteBuffer)
}

/// What the client gets back: the provider's status, the headers it may see and the body (whole,
/// or relayed as it arrives), and where the call stands against the caller's limits.
public struct ProxyAnswer: Sendable {
    public var status: HTTPResponse.Status
    public var headers: HTTPFields
    public var body: ResponseBody
    public var standing: LimitStanding?
    /// From sending the upstream request to its answer's head (and, with fallbacks, the earlier
    /// attempts and the waits between them): not the bridge's own time.
    public var upstreamWait: Duration = .zero
    /// How many attempts the answer took (the gateway's fallbacks), and which of the calls served
    /// it (its index in the list given to `ProxyService.forward`).
    public var attempts = 1
    public var served = 0
}

extension HTTPField.Name {
    /// `x-safeapi-upstream-status`: present when the status and body are the provider's.
    public static let upstreamStatus = Self("x-safeapi-upstream-status")!
    /// `x-safeapi-overhead-us`: the bridge's own time on a passed-through answer, in microseconds.
    public static let overhead = Self("x-safeapi-overhead-us")!
}
