import AsyncHTTPClient
public import HTTPTypes
public import NIOCore
import NIOHTTP1
public import ServiceLifecycle

/// A request to a provider, built from scratch by `ProxyService`.
public struct UpstreamRequest: Sendable {
    public var method: HTTPRequest.Method
    public var url: String
    public var headers: HTTPFields
    public var body: ByteBuffer?
}

/// A provider's answer; the body is read chunk by chunk, once.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: HTTPFields
    /// Calls `handler` with each chunk as it arrives. Returning or throwing from `handler` ends the
    /// read; leaving early cancels the upstream request.
    public var body: @Sendable (_ handler: (ByteBuffer) async throws -> Void) async throws -> Void
}

public enum UpstreamError: Error, Equatable {
    /// No connection, or it broke before the response head.
    case unreachable
    /// No response head within the deadline.
    case timeout
}

/// Where proxied requests go: the network, the built-in mock, or a test's recorder.
public protocol Upstream: Sendable {
    func send(_ request: UpstreamRequest, deadline: Duration) async throws -> UpstreamResponse
}

/// The one shared AsyncHTTPClient: a connection pool, redirects never followed (they would carry
/// the provider key to another origin), no decompression, an idle read timeout for long streams,
/// and a connect timeout of its own. A connection that fails to open fails the request at once
/// (502), rather than being retried until the response-head deadline.
public final class HTTPUpstream: Upstream, Service {
    let client: HTTPClient

    /// `maximumConnectionsPerHost`: HTTP/1.1 connections kept per provider host; calls beyond them
    /// wait for one (an HTTP/2 provider multiplexes its calls over fewer).
    public init(readTimeout: Duration, connectTimeout: Duration = .seconds(5), maximumConnectionsPerHost: Int = 512) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(connectTimeout.nanoseconds), read: .nanoseconds(readTimeout.nanoseconds)),
            decompression: .disabled
        )
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maximumConnectionsPerHost
        configuration.connectionPool.retryConnectionEstablishment = false
        // No distributed tracing here: without a tracer the client skips building a span and its
        // attributes for every request (2 % of a proxied call's CPU).
        configuration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ request: UpstreamRequest, deadline: Duration) async throws -> UpstreamResponse {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers { outbound.headers.add(name: field.name.canonicalName, value: field.value) }
        if let body = request.body { outbound.body = .bytes(body) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, timeout: .nanoseconds(deadline.nanoseconds))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw error == .connectTimeout ? UpstreamError.unreachable : UpstreamError.timeout
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw UpstreamError.unreachable
        }
        var headers = HTTPFields()
        for header in response.headers {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        let body = response.body
        return UpstreamResponse(status: Int(response.status.code), headers: headers) { handler in
            do {
                for try await chunk in body { try await handler(chunk) }
            } catch let error as HTTPClientError where error == .readTimeout {
                throw UpstreamError.timeout
            }
        }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
