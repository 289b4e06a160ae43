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
        return .ok(GatewayModelList(object: .list, data: models))
    }

    public func gatewayChatCompletions(_ input: Operations.GatewayChatCompletions.Input, request: Request, context: Context) async throws
        -> Response
    {
        try await gateway(.chatCompletions, request: request, context: context)
    }

    public func gatewayEmbeddings(_ input: Operations.GatewayEmbeddings.Input, request: Request, context: Context) async throws -> Response
    {
        try await gateway(.embeddings, request: request, context: context)
    }

    public func gatewayResponses(_ input: Operations.GatewayResponses.Input, request: Request, context: Context) async throws -> Response {
        try await gateway(.responses, request: request, context: context)
    }

    /// A `/v1` call: to the provider the body's `model` names, passed through with the model
    /// renamed, or translated into the provider's API.
    private func gateway(_ operation: GatewayOperation, request: Request, context: Context) async throws -> Response {
        guard InputDecoding.isJSON(request.headers[.contentType]) else { throw UnsupportedMediaType() }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let route = try ModelRoute(body: body, for: operation)
        let provider = try route.provider(in: proxy.registry)
        var call = ProxyCall(
            provider: provider, method: .post, endpoint: operation.endpoint, body: .renamingModel(body, to: route.model),
            clientHeaders: request.headers, user: try context.requireUser(), clientIP: context.clientIP, requestId: context.requestId
        )
        if let translation = try operation.translation(to: provider) {
            call.apply(try translation.call(body, fields: route.fields, model: route.model))
        }
        var response = try await forward(call, context: context)
        response.headers[.servingProvider] = call.provider.id
        response.headers[.servingModel] = route.model
        return response
    }
}

extension HTTPField.Name {
    /// `x-safeapi-provider`: the provider that served a `/v1` call.
    static let servingProvider = Self("x-safeapi-provider")!
    /// `x-safeapi-model`: the model that provider was asked for.
    static let servingModel = Self("x-safeapi-model")!
}
