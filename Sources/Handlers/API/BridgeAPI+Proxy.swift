import Foundation
public import Generated
import HTTPTypes
public import Hummingbird
import NIOCore

extension BridgeAPI {
    public func getMyQuota(_ input: Operations.GetMyQuota.Input, context: Context) async throws -> Operations.GetMyQuota.Output {
        guard let user = try await users.get(try context.requireUser().userId) else { throw AppError.userInactive }
        return .ok(try await quotas.standing(of: user))
    }

    public func listProviders(_ input: Operations.ListProviders.Input, context: Context) async throws -> Operations.ListProviders.Output {
        .ok(
            ProviderList(
                providers: proxy.registry.providers.map { provider in
                    ProviderSummary(
                        id: provider.id, name: provider.definition.name, configured: provider.isConfigured,
                        usageFormat: ProviderSummary.UsageFormat(rawValue: provider.definition.usage.rawValue)
                            ?? ProviderSummary.UsageFormat.none,
                        sdkBasePath: "/proxy/\(provider.id)"
                    )
                }))
    }

    public func getProviderEndpoints(_ input: Operations.GetProviderEndpoints.Input, context: Context) async throws
        -> Operations.GetProviderEndpoints.Output
    {
        let provider = try proxy.provider(input.provider)
        return .ok(
            ProviderEndpoints(
                provider: provider.id, configured: provider.isConfigured,
                endpoints: provider.definition.endpoints.map {
                    ProviderEndpoint(path: $0.path, methods: $0.methods.compactMap(ProviderEndpoint.Methods.init(rawValue:)))
                }
            ))
    }

    public func proxyPost(_ input: Operations.ProxyPost.Input, request: Request, context: Context) async throws -> Response {
        try await forwardOldForm(input.provider, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func proxyShortcut(_ input: Operations.ProxyShortcut.Input, request: Request, context: Context) async throws -> Response {
        try await forwardOldForm(input.provider, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func proxyGet(_ input: Operations.ProxyGet.Input, request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters.filter { $0.key != "endpoint" }.map { (name: String($0.key), value: String($0.value)) }
        let call = try call(
            input.provider, endpoint: input.endpoint, query: query, body: .none, splitKey: (input.xPartialKeyId, input.xPartialKey),
            request: request,
            context: context
        )
        return try await forward(call, context: context)
    }

    public func sdkProxyGet(_ input: Operations.SdkProxyGet.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(
            input.provider, input.endpoint, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func sdkProxyPost(_ input: Operations.SdkProxyPost.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(
            input.provider, input.endpoint, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func sdkProxyPut(_ input: Operations.SdkProxyPut.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(
            input.provider, input.endpoint, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func sdkProxyPatch(_ input: Operations.SdkProxyPatch.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(
            input.provider, input.endpoint, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func sdkProxyDelete(_ input: Operations.SdkProxyDelete.Input, request: Request, context: Context) async throws -> Response {
        try await forwardSDK(
            input.provider, input.endpoint, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    /// `{endpoint, ...body}`: the endpoint is read here; it and the fields the old product stripped
    /// come out when the upstream request is built.
    private func forwardOldForm(_ provider: String, splitKey: (String?, String?), request: Request, context: Context) async throws
        -> Response
    {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        let endpoint: String
        do {
            endpoint = try JSONBodyEdit.endpoint(in: buffer)
        } catch .notAnObject {
            throw InputError(location: .body, name: "", reason: "must be a JSON object with an 'endpoint'")
        } catch .endpointMissing {
            throw InputError(location: .body, name: "endpoint", reason: "is required and must be a string")
        }
        let call = try call(provider, endpoint: endpoint, body: .oldForm(buffer), splitKey: splitKey, request: request, context: context)
        return try await forward(call, context: context)
    }

    /// The official SDKs' form: the body as sent; the SDK's path prefix mapped onto the base URL.
    /// Credentials never travel in a forwarded query string.
    private func forwardSDK(_ provider: String, _ endpoint: String, splitKey: (String?, String?), request: Request, context: Context)
        async throws -> Response
    {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        let query = request.uri.queryParameters
            .filter { !["key", "api_key", "apikey", "access_token"].contains($0.key.lowercased()) }
            .map { (name: String($0.key), value: String($0.value)) }
        let call = try call(
            provider, endpoint: endpoint, query: query, body: buffer.readableBytes > 0 ? .asSent(buffer) : .none, splitKey: splitKey,
            request: request,
            context: context, stripSDKPrefix: true
        )
        return try await forward(call, context: context)
    }

    private func call(
        _ providerId: String, endpoint: String, query: [(name: String, value: String)] = [], body: ProxyBody,
        splitKey: (id: String?, part: String?),
        request: Request, context: Context, stripSDKPrefix: Bool = false
    ) throws -> ProxyCall {
        let provider = try proxy.provider(providerId)
        var endpoint = endpoint
        if stripSDKPrefix, let prefix = provider.definition.sdkPrefixes.first(where: { endpoint.hasPrefix($0 + "/") }) {
            endpoint = String(endpoint.dropFirst(prefix.count))
        }
        // Either split-key header asks for the caller's own key: a part without an id names no key
        // (404), an id without its part proves nothing (401). Never a silent fall back to the
        // server's key.
        let named = splitKey.id == nil && splitKey.part == nil ? nil : (id: splitKey.id ?? "", part: splitKey.part ?? "")
        // HEAD is GET without the body (`HeadMiddleware` drops it): the provider is asked with GET.
        return ProxyCall(
            provider: provider, method: request.method == .head ? .get : request.method, endpoint: endpoint, query: query, body: body,
            clientHeaders: request.headers, user: try context.requireUser(), clientIP: context.clientIP, requestId: context.requestId,
            splitKey: named
        )
    }

    /// The proxy's answer as the response, with the `RateLimit-*` headers of the caller's standing.
    func forward(_ call: ProxyCall, context: Context) async throws -> Response {
        respond(try await proxy.forward(call, connectionClosed: context.connectionClosed), context: context)
    }

    /// The proxy's answer as the response, with the `RateLimit-*` headers of the caller's standing
    /// and the bridge's own time.
    func respond(_ answer: ProxyAnswer, context: Context) -> Response {
        var headers = answer.headers
        answer.standing?.write(to: &headers)
        let overhead = max(.zero, ContinuousClock.now - context.receivedAt - answer.upstreamWait)
        headers[.overhead] = String(overhead.microseconds)
        metrics.overhead(overhead)
        return Response(status: answer.status, headers: headers, body: answer.body)
    }
}
