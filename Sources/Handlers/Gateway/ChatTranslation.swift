import NIOCore

/// A provider API that `/v1` translates OpenAI's chat completions into: the call in the
/// provider's terms, and the translation of its answer back. One conforming type per API
/// (`AnthropicMessages`, `GeminiContent`); the proxy's stages do the rest unchanged.
protocol ChatTranslation {
    static func call(_ chat: OpenAIChat.Request, model: String) throws -> TranslatedCall
}

/// What a translation changes in a proxied call.
struct TranslatedCall {
    var endpoint: String
    var query: [(name: String, value: String)] = []
    var body: ByteBuffer
    var translation: any AnswerTranslation
}

extension ProxyCall {
    /// The call in the provider's terms.
    mutating func apply(_ translated: TranslatedCall) {
        endpoint = translated.endpoint
        query = translated.query
        body = .translated(translated.body)
        translation = translated.translation
    }
}

extension Dialect {
    /// The translation for the API, nil for OpenAI's (passed through).
    var translation: (any ChatTranslation.Type)? {
        switch self {
        case .openAI: nil
        case .anthropic: AnthropicMessages.self
        case .gemini: GeminiContent.self
        }
    }
}
