public import HTTPTypes
public import Hummingbird
import Logging

/// Gives every request an id: the client's `x-request-id` when it is 1 to 128 characters of
/// `[A-Za-z0-9._:-]`, otherwise a new random one. The id goes into every log line of the request
/// and back to the client in `x-request-id`, on every response.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].flatMap { Self.isWellFormed($0) ? $0 : nil } ?? Self.generate()
        context.requestId = id
        context.logger[metadataKey: "hb.request.id"] = .string(id)
        var response = try await next(request, context)
        response.headers[.requestID] = id
        return response
    }

    static func isWellFormed(_ id: String) -> Bool {
        Validate.hasShape(id, length: 1...128, extra: "._:-")
    }

    /// 128 random bits as 32 lowercase hex digits.
    static func generate() -> String {
        Hex.encode(RandomBytes.make(count: 16))
    }
}

extension HTTPField.Name {
    /// `x-request-id`
    public static let requestID = Self("x-request-id")!
}
