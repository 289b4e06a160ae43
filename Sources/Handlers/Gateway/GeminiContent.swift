import Foundation
import NIOCore

/// Gemini's generateContent API as a gateway dialect: an OpenAI chat request becomes a
/// `generateContent` (or, streamed, `streamGenerateContent?alt=sse`) request, and the answer becomes
/// OpenAI's. What the API cannot express is refused before anything is sent.
enum GeminiContent: GatewayTranslation {
    static func call(_ body: ByteBuffer, fields: [String], model: String) throws -> TranslatedCall {
        let chat = try OpenAIChat.read(OpenAIChat.Request.self, from: body, fields: fields)
        let streamed = chat.stream == true
        return TranslatedCall(
            endpoint: "/models/\(model):\(streamed ? "streamGenerateContent" : "generateContent")",
            query: streamed ? [(name: "alt", value: "sse")] : [],
            body: ByteBuffer(string: OpenAIChat.json(try OpenAIChat.Refusal.asError { try request(chat) })),
            translation: GeminiTranslation(model: model, includeUsage: streamed && chat.includeUsage))
    }

    // MARK: The request

    struct Request: Encodable {
        var contents: [Content]
        var systemInstruction: Content?
        var tools: [Tools]?
        var toolConfig: ToolConfig?
        var generationConfig: GenerationConfig?
    }

    struct Content: Codable {
        var role: String?
        var parts: [Part]
    }

    struct Part: Codable {
        var text: String?
        var thought: Bool?
        var inlineData: InlineData?
        var functionCall: FunctionCall?
        var functionResponse: FunctionResponse?

        struct InlineData: Codable {
            var mimeType: String
            var data: String
        }

        struct FunctionCall: Codable {
            var id: String?
            var name: String
            var args: JSONValue?
        }

        struct FunctionResponse: Codable {
            var name: String
            var response: JSONValue
        }
    }

    struct Tools: Encodable {
        var functionDeclarations: [FunctionDeclaration]

        struct FunctionDeclaration: Encodable {
            var name: String
            var description: String?
            var parameters: JSONValue?
        }
    }

    struct ToolConfig: Encodable {
        var functionCallingConfig: FunctionCallingConfig

        struct FunctionCallingConfig: Encodable {
            var mode: String
            var allowedFunctionNames: [String]?
        }
    }

    struct GenerationConfig: Encodable {
        var stopSequences: [String]?
        var temperature: Double?
        var topP: Double?
        var maxOutputTokens: Int?
        var seed: Int64?
        var responseMimeType: String?
    }

    /// The generateContent request for `chat`. System and developer messages become the
    /// `systemInstruction`; the assistant is the `model` role; a tool result becomes a
    /// `functionResponse` of the call its `tool_call_id` names; turns of the same role in a row are
    /// merged, since Gemini wants user and model turns in alternation.
    static func request(_ chat: OpenAIChat.Request) throws(OpenAIChat.Refusal) -> Request {
        if chat.parallelToolCalls == false {
            throw OpenAIChat.Refusal(parameter: "parallel_tool_calls", reason: "Gemini's API cannot forbid parallel calls")
        }
        if chat.responseFormat == "json_schema" {
            throw OpenAIChat.Refusal(parameter: "response_format", reason: "only json_object is translated for Gemini")
        }
        var system: [Part] = []
        var contents: [Content] = []
        var toolNames: [String: String] = [:]
        func append(_ role: String, _ parts: [Part]) {
            guard !parts.isEmpty else { return }
            if contents.last?.role == role {
                contents[contents.count - 1].parts += parts
            } else {
                contents.append(Content(role: role, parts: parts))
            }
        }
        for (index, message) in chat.messages.enumerated() {
            switch message.role {
            case "system", "developer":
                system.append(Part(text: message.content?.text ?? ""))
            case "user":
                append("user", try parts(message.content, at: index))
            case "assistant":
                var parts: [Part] = []
                if let text = message.content?.text, !text.isEmpty { parts.append(Part(text: text)) }
                for call in message.toolCalls ?? [] {
                    toolNames[call.id] = call.function.name
                    parts.append(Part(functionCall: .init(name: call.function.name, args: try call.arguments(at: index))))
                }
                append("model", parts)
            case "tool":
                guard let id = message.toolCallId, let name = toolNames[id] else {
                    throw OpenAIChat.Refusal(
                        parameter: "messages[\(index)].tool_call_id",
                        reason: "a tool message must answer a tool call made earlier in the messages")
                }
                // Gemini takes an object: a result that is one goes as it is, any other text in `content`.
                let text = message.content?.text ?? ""
                let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
                let response = parsed?.isObject == true ? parsed! : .object(["content": .string(text)])
                append("user", [Part(functionResponse: .init(name: name, response: response))])
            default:
                throw OpenAIChat.Refusal(
                    parameter: "messages[\(index)].role", reason: "must be system, developer, user, assistant or tool")
            }
        }
        let declarations = (chat.tools ?? []).map {
            Tools.FunctionDeclaration(
                name: $0.function.name, description: $0.function.description,
                parameters: $0.function.parameters.map { schema($0, root: $0) })
        }
        let mode: (String, [String]?)? =
            switch chat.toolChoice {
            case nil: nil
            case .none?: ("NONE", nil)
            case .auto?: ("AUTO", nil)
            case .required?: ("ANY", nil)
            case .function(let name)?: ("ANY", [name])
            }
        let generation = GenerationConfig(
            stopSequences: chat.stop, temperature: chat.temperature, topP: chat.topP,
            maxOutputTokens: chat.maxCompletionTokens ?? chat.maxTokens, seed: chat.seed,
            responseMimeType: chat.responseFormat == "json_object" ? "application/json" : nil)
        return Request(
            contents: contents, systemInstruction: system.isEmpty ? nil : Content(parts: system),
            tools: declarations.isEmpty ? nil : [Tools(functionDeclarations: declarations)],
            toolConfig: mode.map { ToolConfig(functionCallingConfig: .init(mode: $0.0, allowedFunctionNames: $0.1)) },
            generationConfig: generation)
    }

    /// A user message's parts: its text, and images given as data URLs (Gemini's `inlineData`).
    static func parts(_ content: OpenAIChat.Content?, at index: Int) throws(OpenAIChat.Refusal) -> [Part] {
        switch content {
        case nil: return []
        case .text(let text)?: return [Part(text: text)]
        case .parts(let parts)?:
            var out: [Part] = []
            for part in parts {
                switch part.type {
                case "text": out.append(Part(text: part.text ?? ""))
                case "image_url":
                    guard let image = part.base64Image else {
                        throw OpenAIChat.Refusal(
                            parameter: "messages[\(index)].content", reason: "Gemini takes images as base64 data URLs")
                    }
                    out.append(Part(inlineData: .init(mimeType: image.mediaType, data: image.data)))
                default:
                    throw OpenAIChat.Refusal(
                        parameter: "messages[\(index)].content",
                        reason: "a content part of type '\(part.type)' cannot be sent to this provider")
                }
            }
            return out
        }
    }

    /// The schema keywords Gemini's function declarations take (its OpenAPI subset).
    static let schemaKeywords: Set<String> = [
        "type", "format", "title", "description", "nullable", "enum", "properties", "required", "items", "minItems", "maxItems",
        "minimum", "maximum", "minLength", "maxLength", "pattern", "minProperties", "maxProperties", "anyOf", "propertyOrdering",
        "default", "example",
    ]

    /// A JSON Schema as Gemini takes it: `$ref`s to `#/$defs/…` or `#/definitions/…` replaced by
    /// what they name (to a depth of 32; deeper, an object), a `type` list with `null` as
    /// `nullable`, and every other keyword (`$schema`, `additionalProperties`, `oneOf`, `const` …)
    /// left out.
    static func schema(_ value: JSONValue, root: JSONValue, depth: Int = 0) -> JSONValue {
        guard case .object(let object) = value else { return value }
        guard depth < 32 else { return .object(["type": .string("object")]) }
        if case .string(let reference)? = object["$ref"] {
            guard let target = resolve(reference, in: root) else { return .object(["type": .string("object")]) }
            return schema(target, root: root, depth: depth + 1)
        }
        var out: [String: JSONValue] = [:]
        for (key, item) in object where schemaKeywords.contains(key) {
            switch (key, item) {
            case ("properties", .object(let properties)):
                out[key] = .object(properties.mapValues { schema($0, root: root, depth: depth + 1) })
            case ("items", _):
                out[key] = schema(item, root: root, depth: depth + 1)
            case ("anyOf", .array(let list)):
                out[key] = .array(list.map { schema($0, root: root, depth: depth + 1) })
            case ("type", .array(let types)):
                let named = types.filter { $0 != .string("null") }
                if named.count < types.count { out["nullable"] = .bool(true) }
                if let first = named.first { out["type"] = first }
            default:
                out[key] = item
            }
        }
        return .object(out)
    }

    /// The value a local JSON pointer names (`#`, `#/$defs/Name`), nil for any other reference.
    static func resolve(_ reference: String, in root: JSONValue) -> JSONValue? {
        if reference == "#" { return root }
        guard reference.hasPrefix("#/") else { return nil }
        var current = root
        for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard case .object(let object) = current, let next = object[key] else { return nil }
            current = next
        }
        return current
    }

    // MARK: The answer

    /// A `GenerateContentResponse`: a whole answer, or one event of a stream.
    struct Answer: Decodable {
        var candidates: [Candidate]?
        var usageMetadata: UsageMetadata?
        var modelVersion: String?
        var responseId: String?
        var promptFeedback: PromptFeedback?
        /// An error in the middle of a stream.
        var error: ErrorBody.Detail?

        struct Candidate: Decodable {
            var content: Content?
            var finishReason: String?
        }

        struct PromptFeedback: Decodable {
            var blockReason: String?
        }

        /// The answer's visible text, and its function calls.
        var parts: [Part] { candidates?.first?.content?.parts.filter { $0.thought != true } ?? [] }

        /// The finish reason, or, when the prompt itself was blocked, `SAFETY`.
        var finishReason: String? { candidates?.first?.finishReason ?? promptFeedback?.blockReason.map { _ in "SAFETY" } }
    }

    struct UsageMetadata: Decodable {
        var promptTokenCount: Int64?
        var candidatesTokenCount: Int64?
        var cachedContentTokenCount: Int64?
        var thoughtsTokenCount: Int64?

        /// OpenAI's usage: completion tokens count the thinking ones too, as the usage rows do.
        var openAI: OpenAIChat.Usage {
            OpenAIChat.Usage(
                promptTokens: promptTokenCount ?? 0, completionTokens: (candidatesTokenCount ?? 0) + (thoughtsTokenCount ?? 0),
                cachedTokens: cachedContentTokenCount ?? 0, reasoningTokens: thoughtsTokenCount ?? 0)
        }
    }

    /// Gemini's error body, `{"error": {"code": 400, "message": …, "status": "INVALID_ARGUMENT"}}`.
    struct ErrorBody: Decodable {
        var error: Detail

        struct Detail: Decodable {
            var message: String?
            var status: String?
        }
    }

    /// OpenAI's finish reason for Gemini's.
    static func finishReason(_ reason: String?, calledTools: Bool) -> String? {
        switch reason {
        case nil: nil
        case "STOP": calledTools ? "tool_calls" : "stop"
        case "MAX_TOKENS": "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": "content_filter"
        default: "stop"
        }
    }

    /// The id Gemini gave a call, or one made from its place (OpenAI's tool results name it).
    static func callId(_ call: Part.FunctionCall, index: Int) -> String { call.id ?? "call_\(index)" }

    static func completion(_ answer: Answer, model: String, created: Int64) -> OpenAIChat.Completion {
        let parts = answer.parts
        let text = parts.compactMap(\.text).joined()
        let calls = parts.compactMap(\.functionCall).enumerated().map { index, call in
            OpenAIChat.ToolCall(
                id: callId(call, index: index), function: .init(name: call.name, arguments: OpenAIChat.json(call.args ?? .object([:]))))
        }
        return OpenAIChat.Completion(
            id: answer.responseId ?? "", created: created, model: answer.modelVersion ?? model,
            choices: [
                .init(
                    message: OpenAIChat.AssistantMessage(
                        content: text.isEmpty && (!calls.isEmpty || parts.isEmpty) ? nil : text, toolCalls: calls.isEmpty ? nil : calls),
                    finishReason: finishReason(answer.finishReason, calledTools: !calls.isEmpty))
            ],
            usage: answer.usageMetadata?.openAI ?? UsageMetadata().openAI)
    }
}

/// The translation of one call's answer from Gemini's generateContent to OpenAI's chat completions.
struct GeminiTranslation: AnswerTranslation {
    var model: String
    var includeUsage: Bool
    var created = Int64(Date().timeIntervalSince1970)

    func answer(_ body: ByteBuffer) throws -> ByteBuffer {
        let answer = try JSONDecoder().decode(GeminiContent.Answer.self, from: Data(body.readableBytesView))
        return ByteBuffer(string: OpenAIChat.json(GeminiContent.completion(answer, model: model, created: created)))
    }

    func error(_ body: ByteBuffer, status: Int) -> ByteBuffer {
        let detail = try? JSONDecoder().decode(GeminiContent.ErrorBody.self, from: Data(body.readableBytesView)).error
        let error = OpenAIChat.error(
            message: detail?.message ?? "The provider answered with status \(status).", type: OpenAIChat.errorType(status: status),
            code: detail?.status?.lowercased())
        return ByteBuffer(string: OpenAIChat.json(error))
    }

    func stream() -> (any StreamTranslator)? {
        EventStreamTranslation(GeminiStreamEvents(model: model, includeUsage: includeUsage, created: created))
    }
}

/// Gemini's stream (`alt=sse`: each event a `GenerateContentResponse` with the next parts) as
/// OpenAI's `chat.completion.chunk`s: text parts as content, each function call as the next tool
/// call (index 0, 1, …) with its whole arguments, the last finish reason and usage at the end of the
/// stream (Gemini sends no end event: the stream's end is the answer's), then the usage chunk when
/// asked and `[DONE]`. A stream that ends without a finish reason, or with an error, ends in an
/// error event the OpenAI SDKs raise.
struct GeminiStreamEvents: StreamEvents {
    let model: String
    let includeUsage: Bool
    let created: Int64
    private var writer = OpenAIChat.ChunkWriter()
    private var calls = 0
    private var finishReason: String?
    private var usage: OpenAIChat.Usage?
    private var ended = false

    init(model: String, includeUsage: Bool, created: Int64) {
        self.model = model
        self.includeUsage = includeUsage
        self.created = created
    }

    mutating func end(into out: inout String) {
        guard !ended else { return }
        ended = true
        guard let reason = finishReason else {
            out += OpenAIChat.incompleteStream
            return
        }
        writer.chunk("{}", finish: GeminiContent.finishReason(reason, calledTools: calls > 0), into: &out)
        if includeUsage { writer.usage(usage ?? GeminiContent.UsageMetadata().openAI, into: &out) }
        out += OpenAIChat.done
    }

    mutating func translate(_ data: [UInt8], into out: inout String) {
        guard !ended, let answer = try? JSONDecoder().decode(GeminiContent.Answer.self, from: Data(data)) else { return }
        if let error = answer.error {
            ended = true
            out += OpenAIChat.event(
                OpenAIChat.error(
                    message: error.message ?? "The provider's stream failed.", type: "api_error", code: error.status?.lowercased()))
            return
        }
        if !writer.started {
            writer.start(id: answer.responseId ?? "", model: answer.modelVersion ?? model, created: created)
            writer.chunk(OpenAIChat.ChunkWriter.role, into: &out)
        }
        for part in answer.parts {
            if let text = part.text, !text.isEmpty { writer.chunk(OpenAIChat.ChunkWriter.content(text), into: &out) }
            if let call = part.functionCall {
                let delta = OpenAIChat.ChunkWriter.toolCall(
                    index: calls, id: GeminiContent.callId(call, index: calls), name: call.name,
                    arguments: OpenAIChat.json(call.args ?? .object([:])))
                writer.chunk(delta, into: &out)
                calls += 1
            }
        }
        if let reason = answer.finishReason { finishReason = reason }
        if let usage = answer.usageMetadata { self.usage = usage.openAI }
    }
}
