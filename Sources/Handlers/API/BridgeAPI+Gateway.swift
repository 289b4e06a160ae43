public import Generated
import HTTPTypes
public import Hummingbird
import NIOCore

/// `/v1`: one OpenAI base URL for every provider (docs/gateway.md). A call runs the proxy's stages
/// unchanged; only the provider and its endpoint come from the body's `model`.
extension BridgeAPI {
    public func gatewayListModels(_ input: Operations.GatewayListModels.Input, context: Context) async throws
        -> Operations.GatewayListModels.Output
    {
        _ = try context.requireUser()
        let models = proxy.registry.providers.filter { $0.isConfigured && $0.dialect != nil }.flatMap { provider in
            provider.definition.prices.keys.sorted().map {
                GatewayModel(id: "\(provider.id)/\($0)", object: .model, created: 0, ownedBy: provider.id)
            }
        }
        let aliases = proxy.registry.aliases.keys.sorted().map {
            GatewayModel(id: $0, object: .model, created: 0, ownedBy: "safeapi-bridge")
        }
        return .ok(GatewayModelList(object: .list, data: models + aliases))
    }

    public func gatewayChatCompletions(_ input: Operations.GatewayChatCompletions.Input, request: Request, context: Context) async throws
        -> Response
    {
        try await gateway(.chatCompletions, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func gatewayEmbeddings(_ input: Operations.GatewayEmbeddings.Input, request: Request, context: Context) async throws -> Response
    {
        try await gateway(.embeddings, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    public func gatewayResponses(_ input: Operations.GatewayResponses.Input, request: Request, context: Context) async throws -> Response {
        try await gateway(.responses, splitKey: (input.xPartialKeyId, input.xPartialKey), request: request, context: context)
    }

    /// A `/v1` call: to the deployments the body's `model` names (one, or an alias's in order),
    /// each passed through with the model renamed or translated into its provider's API. With a
    /// split key, only the deployments of its provider, each with the caller's key.
    private func gateway(_ operation: GatewayOperation, splitKey: (id: String?, part: String?), request: Request, context: Context)
        async throws -> Response
    {
        guard InputDecoding.isJSON(request.headers[.contentType]) else { throw UnsupportedMediaType() }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let route = try ModelRoute(body: body, for: operation)
        let user = try context.requireUser()
        var calls: [(call: ProxyCall, model: String)] = []
        var refusal: (any Error)?
        // Either split-key header asks for the caller's own key, as on the proxy routes.
        let named = splitKey.id == nil && splitKey.part == nil ? nil : (id: splitKey.id ?? "", part: splitKey.part ?? "")
        var deployments = try route.deployments(in: proxy.registry)
        // An alias is narrowed to the key's provider first (one lookup), so no deployment of another
        // provider is offered the key; a single deployment needs no narrowing: opening the key
        // checks its provider.
        if let named, deployments.count > 1 {
            let provider = try await splitKeys.provider(ofKey: named.id, user: user)
            deployments.removeAll { $0.provider.id != provider }
            guard !deployments.isEmpty else { throw AppError.splitKeyWrongProvider }
        }
        for deployment in deployments {
            do {
                let translated = try operation.translation(to: deployment.provider).map {
                    try $0.call(body, fields: route.fields, model: deployment.model)
                }
                let prepared =
                    translated?.body
                    ?? route.body(renamedTo: deployment.model, askStreamUsage: deployment.provider.definition.requestStreamUsage)
                let call = ProxyCall(
                    provider: deployment.provider, method: .post, endpoint: translated?.endpoint ?? operation.endpoint,
                    query: translated?.query ?? [], body: .prepared(prepared), clientHeaders: request.headers, user: user,
                    clientIP: context.clientIP, requestId: context.requestId, splitKey: named, translation: translated?.translation,
                    price: deployment.price)
                calls.append((call, deployment.model))
            } catch {
                refusal = refusal ?? error  // this deployment cannot take the request; the others may
            }
        }
        guard !calls.isEmpty else { throw refusal ?? AppError.modelNotFound(name: route.name) }
        let answer = try await proxy.forward(calls.map(\.call), retry: proxy.gatewayRetry, connectionClosed: context.connectionClosed)
        var response = respond(answer, context: context)
        response.headers[.servingProvider] = calls[answer.served].call.provider.id
        response.headers[.servingModel] = calls[answer.served].model
        response.headers[.attempts] = String(answer.attempts)
        return response
    }
}

extension HTTPField.Name {
    /// `x-safeapi-provider`: the provider that served a `/v1` call.
    static let servingProvider = Self("x-safeapi-provider")!
    /// `x-safeapi-model`: the model that provider was asked for.
    static let servingModel = Self("x-safeapi-model")!
    /// `x-safeapi-attempts`: how many attempts the answer took (fallbacks and retries).
    static let attempts = Self("x-safeapi-attempts")!
}
