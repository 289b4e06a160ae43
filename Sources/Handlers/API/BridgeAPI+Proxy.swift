import Foundation
public import Generated
public import Hummingbird
import NIOCore
import HTTPTypes

extension HTTPField.Name {
    static let partialKeyId = Self("X-Partial-Key-Id")!
    static let partialKey = Self("X-Partial-Key")!
}

extension BridgeAPI {
    public func getMyQuota(_ input: Operations.GetMyQuota.Input, context: Context) async throws -> Operations.GetMyQuota.Output {
        guard let user = try await users.get(try context.requireUser().userId) else { throw AppError.userInactive }
        return .ok(try await quotas.standing(of: user))
    }

    public func listProviders(_ input: Operations.ListProviders.Input, context: Context) async throws -> Operations.ListProviders.Output {
        .ok(ProviderList(providers: proxy.registry.providers.map { provider in
            ProviderSummary(
                id: provider.id, name: provider.definition.name, configured: provider.isConfigured,
                usageFormat: ProviderSummary.UsageFormat(rawValue: provider.definition.usage.rawValue) ?? ProviderSummary.UsageFormat.none,
                sdkBasePath: "/proxy/\(provider.id)"
            )
        }))
    }

    public func getProviderEndpoints(_ input: Operations.GetProviderEndpoints.Input, context: Context) async throws -> Operations.GetProviderEndpoints.Output {
        let provider = try proxy.provider(input.provider)
        return .ok(ProviderEndpoints(
            provider: provider.id, configured: provider.isConfigured,
            endpoints: provider.definition.endpoints.map { ProviderEndpoint(path: $0.path, methods: $0.methods.compactMap(ProviderEndpoint.Methods.init(rawValue:))) }
        ))
    }

    public func proxyPost(_ input: Operations.ProxyPost.Input, request: Request, context: Context) async throws -> Response {
        try await forwardBodyForm(provider: input.provider, request: request, context: context)
    }

    public func proxyShortcut(_ input: Operations.ProxyShortcut.Input, request: Request, context: Context) async throws -> Response {
        try await forwardBodyForm(provider: input.provider, request: request, context: context)
    }

    public func proxyGet(_ input: Operations.ProxyGet.Input, request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters.filter { $0.key != "endpoint" }.map { (name: String($0.key), value: String($0.value)) }
        let call = try makeCall(provider: input.provider, method: .get, endpoint: input.endpoint, query: query, body: nil, request: request, context: context)
        return try await proxy.forward(call, connectionClosed: context.connectionClosed)
    }

    public func sdkProxyGet(_ input: Operations.SdkProxyGet.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(provider: input.provider, endpoint: input.endpoint, request: request, context: context)
    }

    public func sdkProxyPost(_ input: Operations.SdkProxyPost.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(provider: input.provider, endpoint: input.endpoint, request: request, context: context)
    }

    public func sdkProxyPut(_ input: Operations.SdkProxyPut.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(provider: input.provider, endpoint: input.endpoint, request: request, context: context)
    }

    public func sdkProxyPatch(_ input: Operations.SdkProxyPatch.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(provider: input.provider, endpoint: input.endpoint, request: request, context: context)
    }

    public func sdkProxyDelete(_ input: Operations.SdkProxyDelete.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(provider: input.provider, endpoint: input.endpoint, request: request, context: context)
    }

    /// `{endpoint, ...body}`: the endpoint and the fields the old product stripped come out; the rest
    /// is the provider's request.
    private func forwardBodyForm(provider: String, request: Request, context: Context) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0,
            var object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]
        else {
            throw AppError.invalidInput(InputError(location: .body, name: "", reason: "must be a JSON object with an 'endpoint'"))
        }
        guard let endpoint = object["endpoint"] as? String else {
            throw AppError.invalidInput(InputError(location: .body, name: "endpoint", reason: "is required and must be a string"))
        }
        for field in ProxyService.strippedFields { object.removeValue(forKey: field) }
        let body = try JSONSerialization.data(withJSONObject: object)
        let call = try makeCall(provider: provider, method: .post, endpoint: endpoint, query: [], body: ByteBuffer(bytes: body), request: request, context: context)
        return try await proxy.forward(call, connectionClosed: context.connectionClosed)
    }

    /// The official SDKs' form: the body as sent; the SDK's path prefix mapped onto the base URL.
    private func forwardSDK(provider id: String, endpoint: String, request: Request, context: Context) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        let provider = try proxy.provider(id)
        var path = endpoint
        for prefix in provider.definition.sdkPrefixes where path.hasPrefix(prefix + "/") {
            path = String(path.dropFirst(prefix.count))
            break
        }
        // Credentials never travel in a forwarded query string.
        let query = request.uri.queryParameters
            .filter { !["key", "api_key", "apikey", "access_token"].contains($0.key.lowercased()) }
            .map { (name: String($0.key), value: String($0.value)) }
        let call = try makeCall(provider: id, method: request.method, endpoint: path, query: query, body: buffer.readableBytes > 0 ? buffer : nil, request: request, context: context)
        return try await proxy.forward(call, connectionClosed: context.connectionClosed)
    }

    private func makeCall(provider: String, method: HTTPRequest.Method, endpoint: String, query: [(name: String, value: String)], body: ByteBuffer?, request: Request, context: Context) throws -> ProxyCall {
        // Either split-key header asks for the caller's own key: a part without an id names no key
        // (404), an id without its part proves nothing (401). Never a silent fall back to the
        // server's key.
        let keyId = request.headers[.partialKeyId]
        let part = request.headers[.partialKey]
        let splitKey: (id: String, part: String)? = keyId == nil && part == nil ? nil : (keyId ?? "", part ?? "")
        // HEAD is GET without the body (`HeadMiddleware` drops it): the provider is asked with GET.
        return ProxyCall(
            provider: provider, method: method == .head ? .get : method, endpoint: endpoint, query: query, body: body, clientHeaders: request.headers,
            user: try context.requireUser(), clientIP: context.clientIP, requestId: context.requestId, splitKey: splitKey
        )
    }
}
