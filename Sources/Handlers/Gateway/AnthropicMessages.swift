import Foundation
import NIOCore

/// Anthropic's Messages API as a gateway dialect: an OpenAI chat request becomes a Messages
/// request, and the answer (whole, streamed, or an error) becomes OpenAI's. What the Messages API
/// cannot express is refused before anything is sent (`OpenAIChat.Refusal`).
enum AnthropicMessages: GatewayTranslation {
    /// `max_tokens` when the client sets neither `max_completion_tokens` nor `max_tokens`:
    /// Anthropic requires one.
    static let defaultMaxTokens = 4096
    static let endpoint = "/messages"

    // MARK: The request

    struct Request: Encodable {
        var model: String
        var maxTokens: Int
        var system: String?
        var messages: [Turn]
        var stopSequences: [String]?
        var temperature: Double?
        var topP: Double?
        var stream: Bool?
        var tools: [Tool]?
        var toolChoice: ToolChoice?
        var metadata: [String: String]?

        enum CodingKeys: String, CodingKey {
            case model, system, messages, temperature, stream, tools, metadata
            case maxTokens = "max_tokens"
            case stopSequences = "stop_sequences"
            case topP = "top_p"
            case toolChoice = "tool_choice"
        }
    }

    struct Turn: Encodable {
        var role: String
        var content: [Block]
    }

    enum Block: Encodable {
        case text(String)
        case image(base64: (mediaType: String, data: String)?, url: String?)
        case toolUse(id: String, name: String, input: JSONValue)
        case toolResult(toolUseId: String, content: String)

        enum Keys: String, CodingKey {
            case type, text, source, id, name, input, content
            case mediaType = "media_type"
            case data, url
            case toolUseId = "tool_use_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            switch self {
            case .text(let text):
                try container.encode("text", forKey: .type)
                try container.encode(text, forKey: .text)
            case .image(let base64, let url):
                try container.encode("image", forKey: .type)
                var source = container.nestedContainer(keyedBy: Keys.self, forKey: .source)
                if let base64 {
                    try source.encode("base64", forKey: .type)
                    try source.encode(base64.mediaType, forKey: .mediaType)
                    try source.encode(base64.data, forKey: .data)
                } else {
                    try source.encode("url", forKey: .type)
                    try source.encode(url, forKey: .url)
                }
            case .toolUse(let id, let name, let input):
                try container.encode("tool_use", forKey: .type)
                try container.encode(id, forKey: .id)
                try container.encode(name, forKey: .name)
                try container.encode(input, forKey: .input)
            case .toolResult(let toolUseId, let content):
                try container.encode("tool_result", forKey: .type)
                try container.encode(toolUseId, forKey: .toolUseId)
                try container.encode(content, forKey: .content)
            }
        }
    }

    struct Tool: Encodable {
        var name: String
        var description: String?
        var inputSchema: JSONValue

        enum CodingKeys: String, CodingKey {
            case name, description
            case inputSchema = "input_schema"
        }
    }

    struct ToolChoice: Encodable {
        var type: String
        var name: String?
        var disableParallelToolUse: Bool?

        enum CodingKeys: String, CodingKey {
            case type, name
            case disableParallelToolUse = "disable_parallel_tool_use"
        }
    }

    /// The Messages call for `chat`, asking `model`.
    static func call(_ body: ByteBuffer, fields: [String], model: String) throws -> TranslatedCall {
        let chat = try OpenAIChat.read(OpenAIChat.Request.self, from: body, fields: fields)
        return TranslatedCall(
            endpoint: endpoint,
            body: ByteBuffer(string: OpenAIChat.json(try OpenAIChat.Refusal.asError { try request(chat, model: model) })),
            translation: AnthropicTranslation(includeUsage: chat.stream == true && chat.includeUsage))
    }

    /// The Messages request for `chat`, asking `model`. System and developer messages become the
    /// top-level `system`; tool results become `tool_result` blocks of a user turn; turns of the
    /// same role in a row are merged into one.
    static func request(_ chat: OpenAIChat.Request, model: String) throws(OpenAIChat.Refusal) -> Request {
        if chat.seed != nil { throw OpenAIChat.Refusal(parameter: "seed", reason: "Anthropic's API has no seed") }
        if let format = chat.responseFormat, format != "text" {
            throw OpenAIChat.Refusal(
                parameter: "response_format", reason: "Anthropic's API has no JSON mode; describe the JSON in the prompt or use a tool")
        }
        var system: [String] = []
        var turns: [Turn] = []
        func append(_ role: String, _ blocks: [Block]) {
            guard !blocks.isEmpty else { return }
            if turns.last?.role == role {
                turns[turns.count - 1].content += blocks
            } else {
                turns.append(Turn(role: role, content: blocks))
            }
        }
        for (index, message) in chat.messages.enumerated() {
            switch message.role {
            case "system", "developer":
                system.append(message.content?.text ?? "")
            case "user":
                append("user", try blocks(message.content, at: index))
            case "assistant":
                var blocks: [Block] = []
                if let text = message.content?.text, !text.isEmpty { blocks.append(.text(text)) }
                for call in message.toolCalls ?? [] {
                    blocks.append(.toolUse(id: call.id, name: call.function.name, input: try call.arguments(at: index)))
                }
                append("assistant", blocks)
            case "tool":
                guard let id = message.toolCallId else {
                    throw OpenAIChat.Refusal(parameter: "messages[\(index)].tool_call_id", reason: "a tool message needs its tool_call_id")
                }
                append("user", [.toolResult(toolUseId: id, content: message.content?.text ?? "")])
            default:
                throw OpenAIChat.Refusal(
                    parameter: "messages[\(index)].role", reason: "must be system, developer, user, assistant or tool")
            }
        }
        var choice: ToolChoice? =
            switch chat.toolChoice {
            case nil: nil
            case .none?: ToolChoice(type: "none")
            case .auto?: ToolChoice(type: "auto")
            case .required?: ToolChoice(type: "any")
            case .function(let name)?: ToolChoice(type: "tool", name: name)
            }
        if chat.parallelToolCalls == false, chat.tools?.isEmpty == false, choice?.type != "none" {
            choice = choice ?? ToolChoice(type: "auto")
            choice?.disableParallelToolUse = true
        }
        return Request(
            model: model, maxTokens: chat.maxCompletionTokens ?? chat.maxTokens ?? defaultMaxTokens,
            system: system.isEmpty ? nil : system.joined(separator: "\n\n"), messages: turns, stopSequences: chat.stop,
            temperature: chat.temperature, topP: chat.topP, stream: chat.stream == true ? true : nil,
            tools: chat.tools?.map {
                Tool(
                    name: $0.function.name, description: $0.function.description,
                    inputSchema: $0.function.parameters ?? .object(["type": .string("object")]))
            },
            toolChoice: choice, metadata: chat.user.map { ["user_id": $0] })
    }

    /// A user message's blocks: its text, and images given as data URLs (sent as base64) or as
    /// https URLs (fetched by the provider, never by the bridge).
    static func blocks(_ content: OpenAIChat.Content?, at index: Int) throws(OpenAIChat.Refusal) -> [Block] {
        switch content {
        case nil: return []
        case .text(let text)?: return [.text(text)]
        case .parts(let parts)?:
            var blocks: [Block] = []
            for part in parts {
                switch part.type {
                case "text": blocks.append(.text(part.text ?? ""))
                case "image_url":
                    let url = part.imageURL?.url ?? ""
                    if let image = part.base64Image {
                        blocks.append(.image(base64: image, url: nil))
                    } else if url.hasPrefix("https://") {
                        blocks.append(.image(base64: nil, url: url))
                    } else {
                        throw OpenAIChat.Refusal(
                            parameter: "messages[\(index)].content", reason: "an image must be a base64 data URL or an https URL")
                    }
                default:
                    throw OpenAIChat.Refusal(
                        parameter: "messages[\(index)].content",
                        reason: "a content part of type '\(part.type)' cannot be sent to this provider")
                }
            }
            return blocks
        }
    }

    // MARK: The answer

    struct Answer: Decodable {
        var id: String?
        var model: String?
        var content: [ContentBlock]
        var stopReason: String?
        var usage: Usage

        enum CodingKeys: String, CodingKey {
            case id, model, content, usage
            case stopReason = "stop_reason"
        }
    }

    struct ContentBlock: Decodable {
        var type: String
        var text: String?
        var id: String?
        var name: String?
        var input: JSONValue?
    }

    struct Usage: Decodable {
        var inputTokens: Int64?
        var outputTokens: Int64?
        var cacheCreationInputTokens: Int64?
        var cacheReadInputTokens: Int64?

        enum CodingKeys: String, CodingKey {
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case cacheCreationInputTokens = "cache_creation_input_tokens"
            case cacheReadInputTokens = "cache_read_input_tokens"
        }
    }

    /// OpenAI's finish reason for Anthropic's stop reason.
    static func finishReason(_ stopReason: String?) -> String? {
        switch stopReason {
        case nil: nil
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"  // end_turn, stop_sequence, pause_turn
        }
    }

    /// OpenAI's usage: prompt tokens count the cached and cache-written ones too, as
    /// `prompt_tokens` does at OpenAI (and as the usage rows count them).
    static func usage(input: Int64, cacheRead: Int64, cacheWrite: Int64, output: Int64) -> OpenAIChat.Usage {
        OpenAIChat.Usage(
            promptTokens: input + cacheRead + cacheWrite, completionTokens: output, cachedTokens: cacheRead, reasoningTokens: 0)
    }

    static func completion(_ answer: Answer, created: Int64) -> OpenAIChat.Completion {
        let text = answer.content.filter { $0.type == "text" }.compactMap(\.text).joined()
        let calls = answer.content.filter { $0.type == "tool_use" }.map { block in
            OpenAIChat.ToolCall(
                id: block.id ?? "", function: .init(name: block.name ?? "", arguments: OpenAIChat.json(block.input ?? .object([:]))))
        }
        let usage = answer.usage
        return OpenAIChat.Completion(
            id: answer.id ?? "", created: created, model: answer.model ?? "",
            choices: [
                .init(
                    message: OpenAIChat.AssistantMessage(
                        content: text.isEmpty && !calls.isEmpty ? nil : text, toolCalls: calls.isEmpty ? nil : calls),
                    finishReason: finishReason(answer.stopReason))
            ],
            usage: Self.usage(
                input: usage.inputTokens ?? 0, cacheRead: usage.cacheReadInputTokens ?? 0, cacheWrite: usage.cacheCreationInputTokens ?? 0,
                output: usage.outputTokens ?? 0))
    }

    /// Anthropic's error body, `{"type": "error", "error": {"type": …, "message": …}}`.
    struct ErrorBody: Decodable {
        var error: Detail
        struct Detail: Decodable {
            var type: String
            var message: String
        }
    }
}

/// The translation of one call's answer from Anthropic's Messages to OpenAI's chat completions.
struct AnthropicTranslation: AnswerTranslation {
    /// The client asked for a last chunk with the usage (`stream_options.include_usage`).
    var includeUsage: Bool
    var created = Int64(Date().timeIntervalSince1970)

    func answer(_ body: ByteBuffer) throws -> ByteBuffer {
        let answer = try JSONDecoder().decode(AnthropicMessages.Answer.self, from: Data(body.readableBytesView))
        return ByteBuffer(string: OpenAIChat.json(AnthropicMessages.completion(answer, created: created)))
    }

    func error(_ body: ByteBuffer, status: Int) -> ByteBuffer {
        let detail = try? JSONDecoder().decode(AnthropicMessages.ErrorBody.self, from: Data(body.readableBytesView)).error
        let error = OpenAIChat.error(
            message: detail?.message ?? "The provider answered with status \(status).", type: OpenAIChat.errorType(status: status),
            code: detail?.type)
        return ByteBuffer(string: OpenAIChat.json(error))
    }

    func stream() -> (any StreamTranslator)? { EventStreamTranslation(AnthropicStreamEvents(includeUsage: includeUsage, created: created)) }
}

/// Anthropic's stream events (`message_start`, `content_block_start`, `content_block_delta`,
/// `message_delta`, `message_stop`, `error`) as OpenAI's `chat.completion.chunk`s: text deltas as
/// content, each `tool_use` block as the next tool call (index 0, 1, …) with its arguments streamed
/// as they come, the stop reason as the finish reason, then the usage chunk when asked and
/// `[DONE]`. An `error` event becomes an error event the OpenAI SDKs raise.
///
/// Every event costs one scan of its bytes and one chunk written as text: a stream has an event
/// per few tokens, so neither `JSONDecoder` nor `JSONEncoder` is on this path.
struct AnthropicStreamEvents: StreamEvents {
    let includeUsage: Bool
    let created: Int64
    /// Started once `message_start` has named the message.
    private var writer = OpenAIChat.ChunkWriter()
    /// The OpenAI tool-call index of each `tool_use` block, by the block's index.
    private var toolIndex: [Int: Int] = [:]
    private var finishReason: String?
    private var input: Int64 = 0
    private var cacheRead: Int64 = 0
    private var cacheWrite: Int64 = 0
    private var output: Int64 = 0
    private var ended = false

    init(includeUsage: Bool, created: Int64) {
        self.includeUsage = includeUsage
        self.created = created
    }

    mutating func end(into out: inout String) {
        guard !ended else { return }
        // The provider's stream stopped without `message_stop`: say so, as an error event.
        out += OpenAIChat.incompleteStream
        ended = true
    }

    mutating func translate(_ data: [UInt8], into out: inout String) {
        guard !ended else { return }
        data.withUnsafeBytes { bytes in
            guard let event = JSONScan.Object(bytes) else { return }
            let fields = JSONScan.Fields(bytes: bytes)
            func chunk(_ delta: String, finish: String? = nil) { writer.chunk(delta, finish: finish, into: &out) }
            switch fields.string("type", in: event) {
            case "message_start":
                let message = fields.object("message", in: event)
                writer.start(
                    id: message.flatMap { fields.string("id", in: $0) } ?? "",
                    model: message.flatMap { fields.string("model", in: $0) } ?? "",
                    created: created)
                if let usage = message.flatMap({ fields.object("usage", in: $0) }) { record(usage, fields) }
                chunk(OpenAIChat.ChunkWriter.role)
            case "content_block_start":
                guard let block = fields.object("content_block", in: event), let index = fields.number("index", in: event) else { return }
                switch fields.string("type", in: block) {
                case "tool_use":
                    let next = toolIndex.count
                    toolIndex[Int(index)] = next
                    chunk(
                        OpenAIChat.ChunkWriter.toolCall(
                            index: next, id: fields.string("id", in: block) ?? "", name: fields.string("name", in: block) ?? ""))
                case "text":
                    if let text = fields.string("text", in: block), !text.isEmpty { chunk(OpenAIChat.ChunkWriter.content(text)) }
                default:
                    break
                }
            case "content_block_delta":
                guard let delta = fields.object("delta", in: event) else { return }
                switch fields.string("type", in: delta) {
                case "text_delta":
                    if let text = fields.string("text", in: delta) { chunk(OpenAIChat.ChunkWriter.content(text)) }
                case "input_json_delta":
                    guard let index = fields.number("index", in: event), let call = toolIndex[Int(index)],
                        let partial = fields.string("partial_json", in: delta), !partial.isEmpty
                    else { return }
                    chunk(OpenAIChat.ChunkWriter.arguments(index: call, partial))
                default:
                    break  // thinking and signature deltas have no place in a chat completion
                }
            case "message_delta":
                if let reason = fields.object("delta", in: event).flatMap({ fields.string("stop_reason", in: $0) }) {
                    finishReason = AnthropicMessages.finishReason(reason)
                }
                if let usage = fields.object("usage", in: event) { record(usage, fields) }
            case "message_stop":
                ended = true
                chunk("{}", finish: finishReason ?? "stop")
                if includeUsage {
                    writer.usage(
                        AnthropicMessages.usage(
                            input: input, cacheRead: cacheRead, cacheWrite: cacheWrite, output: output),
                        into: &out)
                }
                out += OpenAIChat.done
            case "error":
                ended = true
                let error = fields.object("error", in: event)
                out += OpenAIChat.event(
                    OpenAIChat.error(
                        message: error.flatMap { fields.string("message", in: $0) } ?? "The provider's stream failed.", type: "api_error",
                        code: error.flatMap { fields.string("type", in: $0) }))
            default:
                break  // ping, content_block_stop, and events of later API versions
            }
        }
    }

    /// Usage as it comes: `message_start` has the input, `message_delta` the output so far (and,
    /// in newer versions of the API, the input again).
    private mutating func record(_ usage: JSONScan.Object, _ fields: JSONScan.Fields) {
        if let count = fields.number("input_tokens", in: usage) { input = count }
        if let read = fields.number("cache_read_input_tokens", in: usage) { cacheRead = read }
        if let write = fields.number("cache_creation_input_tokens", in: usage) { cacheWrite = write }
        if let count = fields.number("output_tokens", in: usage) { output = count }
    }
}
