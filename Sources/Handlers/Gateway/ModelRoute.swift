import Generated
public import NIOCore

/// Where a gateway call (`/v1`) goes: the deployments its `model` names. `model` is
/// `provider/model` (the provider id before the first `/`, the provider's model name after it,
/// which may hold more `/`, as OpenRouter's and Together's names do), or an alias of the providers
/// file: an ordered list of such deployments.
public struct ModelRoute: Sendable {
    /// The `model` as the client sent it.
    public var name: String
    /// The body, and where its top-level members are (its one scan, kept for the edit).
    let body: ByteBuffer
    private let object: JSONScan.Object

    /// The names of the body's top-level fields (a translation refuses those it cannot express).
    var fields: [String] { object.members.map(\.name) }

    /// One place to try: the provider, its name for the model, and the alias's price, if any.
    struct Deployment {
        var provider: Provider
        var model: String
        var price: ProviderDefinition.Price?
    }

    /// The route of a `/v1` body: its top-level `model` (the last one, as JavaScript's JSON.parse
    /// reads duplicates), read by one scan of the bytes. The body must be a JSON object with the
    /// operation's main field (`messages`, an array; `input`); what else it holds is the
    /// provider's, or the translation's, to judge.
    public init(body: ByteBuffer, for operation: GatewayOperation) throws {
        let named: Result<(String, JSONScan.Object), InputError> = body.withUnsafeReadableBytes { bytes in
            guard let object = JSONScan.Object(bytes) else {
                return .failure(InputError(location: .body, name: "", reason: "must be a JSON object"))
            }
            let main = operation.mainField
            guard let value = object.members.last(where: { $0.name == main.name })?.value,
                !main.isArray || bytes[value.lowerBound] == UInt8(ascii: "[")
            else {
                return .failure(
                    InputError(location: .body, name: main.name, reason: main.isArray ? "is required and must be an array" : "is required"))
            }
            guard let model = object.members.last(where: { $0.name == "model" }).flatMap({ JSONScan.string(bytes, $0.value) }) else {
                return .failure(InputError(location: .body, name: "model", reason: "is required and must be a string"))
            }
            return .success((model, object))
        }
        self.body = body
        (name, object) = try named.get()
    }

    /// The body for a provider whose API is OpenAI's: its bytes as sent, but every top-level
    /// `model` set to `model` and, when `askStreamUsage` and the body streams, the stream's usage
    /// asked for. No second scan: the edit works on the one this route made.
    func body(renamedTo model: String, askStreamUsage: Bool) -> ByteBuffer {
        JSONBodyEdit.renaming(body, object, model: model, askStreamUsage: askStreamUsage)
    }

    /// `provider/model` split at the first `/`, both parts non-empty; nil for anything else.
    static func split(_ name: String) -> (provider: String, model: String)? {
        guard let slash = name.firstIndex(of: "/"), slash != name.startIndex, name.index(after: slash) != name.endIndex else { return nil }
        return (String(name[..<slash]), String(name[name.index(after: slash)...]))
    }

    /// The deployments to try, in order: the one `provider/model` names, or an alias's, the first
    /// picked at random by weight and the others after it in the listed order. An alias's
    /// deployments of a provider whose API `/v1` does not speak are left out.
    func deployments(in registry: ProviderRegistry) throws -> [Deployment] {
        if let (providerId, model) = Self.split(name) {
            guard let provider = registry.provider(providerId) else { throw AppError.modelNotFound(name: providerId) }
            guard provider.dialect != nil else { throw AppError.modelNotSupported(provider: provider.id) }
            return [Deployment(provider: provider, model: model)]
        }
        guard let listed = registry.aliases[name] else { throw AppError.modelNotFound(name: name) }
        var deployments = listed.compactMap { deployment -> (Deployment, weight: Int)? in
            guard let (providerId, model) = Self.split(deployment.model), let provider = registry.provider(providerId),
                provider.dialect != nil
            else { return nil }
            return (Deployment(provider: provider, model: model, price: deployment.price), deployment.weight ?? 1)
        }
        guard !deployments.isEmpty else { throw AppError.modelNotSupported(provider: name) }
        var pick = Int.random(in: 0..<deployments.reduce(0) { $0 + $1.weight })
        let first =
            deployments.firstIndex { deployment in
                pick -= deployment.weight
                return pick < 0
            } ?? 0
        deployments.insert(deployments.remove(at: first), at: 0)
        return deployments.map(\.0)
    }
}

/// What a `/v1` route asks for, in OpenAI's API.
public enum GatewayOperation: Sendable {
    case chatCompletions, embeddings, responses

    /// The path of the operation in OpenAI's API, where a call to an OpenAI-compatible provider goes.
    var endpoint: String {
        switch self {
        case .chatCompletions: "/chat/completions"
        case .embeddings: "/embeddings"
        case .responses: "/responses"
        }
    }

    /// The field a body must have beside `model`.
    var mainField: (name: String, isArray: Bool) {
        switch self {
        case .chatCompletions: ("messages", true)
        case .embeddings, .responses: ("input", false)
        }
    }

    /// How a call of this operation reaches a provider of `dialect`: nil when it is passed through
    /// (OpenAI's API); `modelNotSupported` when the provider's API has no such operation.
    func translation(to provider: Provider) throws -> (any GatewayTranslation.Type)? {
        switch (self, provider.dialect) {
        case (_, .openAI?): nil
        case (.chatCompletions, .anthropic?): AnthropicMessages.self
        case (.chatCompletions, .gemini?): GeminiContent.self
        case (.embeddings, .gemini?): GeminiEmbeddings.self
        default: throw AppError.modelNotSupported(provider: provider.id)
        }
    }
}

/// The APIs `/v1` speaks to.
enum Dialect {
    /// OpenAI's: passed through with only the model renamed.
    case openAI
    /// Anthropic's Messages: translated (`AnthropicMessages`).
    case anthropic
    /// Gemini's generateContent: translated (`GeminiContent`).
    case gemini
}

extension Provider {
    /// The provider's API as the gateway knows it, or nil when `/v1` cannot serve it yet. The
    /// providers file says it by the usage format of its answers, which is its API's.
    var dialect: Dialect? {
        switch definition.usage {
        case .openai: .openAI
        case .anthropic: .anthropic
        case .gemini: .gemini
        case .none: nil
        }
    }
}
