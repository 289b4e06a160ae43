import NIOCore

/// An operation of OpenAI's API translated into another provider's: the call in the provider's
/// terms, and the translation of its answer back. One conforming type per API and operation
/// (`AnthropicMessages`, `GeminiContent`, `GeminiEmbeddings`); the proxy's stages do the rest
/// unchanged.
protocol GatewayTranslation {
    /// The call for the OpenAI request in `body` (its top-level `fields` already scanned), asking
    /// the provider for `model`.
    static func call(_ body: ByteBuffer, fields: [String], model: String) throws -> TranslatedCall
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
