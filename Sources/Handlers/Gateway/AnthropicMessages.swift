import Foundation
import NIOCore
import Synchronization

/// Anthropic's Messages API as a gateway dialect: an OpenAI chat request becomes a Messages
/// request, and the answer (whole, streamed, or an error) becomes OpenAI's. What the Messages API
/// cannot express is refused before anything is sent (`OpenAIChat.Refusal`).
enum AnthropicMessages {
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

    /// The Messages request for `chat`, asking `model`, as the bytes to send.
    static func body(_ chat: OpenAIChat.Request, model: String) throws -> ByteBuffer {
        do {
            return ByteBuffer(string: json(try request(chat, model: model)))
        } catch {
            throw AppError.unsupportedParameter(name: error.parameter, reason: error.reason)
        }
    }

    /// The Messages request for `chat`, asking `model`. System and developer messages become the
    /// top-level `system`; tool results become `tool_result` blocks of a user turn; turns of the
    /// same role in a row are merged into one.
    static func request(_ chat: OpenAIChat.Request, model: String) throws(OpenAIChat.Refusal) -> Request {
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
                    let input = try? JSONDecoder().decode(JSONValue.self, from: Data(call.function.arguments.utf8))
                    guard let input, input.isObject else {
                        throw OpenAIChat.Refusal(
                            parameter: "messages[\(index)].tool_calls", reason: "a tool call's arguments must be a JSON object")
                    }
                    blocks.append(.toolUse(id: call.id, name: call.function.name, input: input))
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
                    if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","),
                        case let header = url[url.index(url.startIndex, offsetBy: 5)..<comma], header.hasSuffix(";base64")
                    {
                        blocks.append(.image(base64: (String(header.dropLast(7)), String(url[url.index(after: comma)...])), url: nil))
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
                id: block.id ?? "", function: .init(name: block.name ?? "", arguments: json(block.input ?? .object([:]))))
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

    static func json(_ value: some Encodable) -> String {
        (try? OpenAIChat.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
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
        return ByteBuffer(string: AnthropicMessages.json(AnthropicMessages.completion(answer, created: created)))
    }

    func error(_ body: ByteBuffer, status: Int) -> ByteBuffer {
        let detail = try? JSONDecoder().decode(AnthropicMessages.ErrorBody.self, from: Data(body.readableBytesView)).error
        let error = OpenAIChat.error(
            message: detail?.message ?? "The provider answered with status \(status).", type: OpenAIChat.errorType(status: status),
            code: detail?.type)
        return ByteBuffer(string: AnthropicMessages.json(error))
    }

    func stream() -> any StreamTranslator { AnthropicStreamTranslator(includeUsage: includeUsage, created: created) }
}

/// Anthropic's stream events (`message_start`, `content_block_start`, `content_block_delta`,
/// `message_delta`, `message_stop`, `error`) as OpenAI's `chat.completion.chunk`s: text deltas as
/// content, each `tool_use` block as the next tool call (index 0, 1, …) with its arguments streamed
/// as they come, the stop reason as the finish reason, then the usage chunk when asked and
/// `[DONE]`. An `error` event becomes an error event the OpenAI SDKs raise.
final class AnthropicStreamTranslator: StreamTranslator {
    private struct State {
        var reader = EventStreamReader()
        var id = ""
        var model = ""
        /// The OpenAI tool-call index of each `tool_use` block, by the block's index.
        var toolIndex: [Int: Int] = [:]
        var finishReason: String?
        var input: Int64 = 0
        var cacheRead: Int64 = 0
        var cacheWrite: Int64 = 0
        var output: Int64 = 0
        var ended = false
    }

    struct Event: Decodable {
        var type: String
        var message: Start?
        var index: Int?
        var contentBlock: AnthropicMessages.ContentBlock?
        var delta: Delta?
        var usage: AnthropicMessages.Usage?
        var error: AnthropicMessages.ErrorBody.Detail?

        struct Start: Decodable {
            var id: String?
            var model: String?
            var usage: AnthropicMessages.Usage?
        }

        struct Delta: Decodable {
            var type: String?
            var text: String?
            var partialJSON: String?
            var stopReason: String?

            enum CodingKeys: String, CodingKey {
                case type, text
                case partialJSON = "partial_json"
                case stopReason = "stop_reason"
            }
        }

        enum CodingKeys: String, CodingKey {
            case type, message, index, delta, usage, error
            case contentBlock = "content_block"
        }
    }

    private let includeUsage: Bool
    private let created: Int64
    private let state = Mutex(State())

    init(includeUsage: Bool, created: Int64) {
        self.includeUsage = includeUsage
        self.created = created
    }

    func feed(_ chunk: ByteBuffer) -> ByteBuffer {
        state.withLock { state in
            var out = ""
            for event in state.reader.feed(chunk) { out += translate(event, &state) }
            return ByteBuffer(string: out)
        }
    }

    func finish() -> ByteBuffer {
        state.withLock { state in
            var out = state.reader.finish().map { translate($0, &state) } ?? ""
            if !state.ended {
                // The provider's stream stopped without `message_stop`: say so, as an error event.
                out += OpenAIChat.event(
                    OpenAIChat.error(
                        message: "The provider's stream ended before the answer was complete.", type: "api_error",
                        code: "upstream_incomplete"))
                state.ended = true
            }
            return ByteBuffer(string: out)
        }
    }

    private func translate(_ sse: EventStreamReader.Event, _ state: inout State) -> String {
        guard !state.ended, let event = try? JSONDecoder().decode(Event.self, from: Data(sse.data)) else { return "" }
        func chunk(_ delta: OpenAIChat.Chunk.Delta?, finish: String? = nil, usage: OpenAIChat.Usage? = nil) -> String {
            OpenAIChat.event(
                OpenAIChat.Chunk(id: state.id, created: created, model: state.model, delta: delta, finishReason: finish, usage: usage))
        }
        switch event.type {
        case "message_start":
            state.id = event.message?.id ?? ""
            state.model = event.message?.model ?? ""
            if let usage = event.message?.usage { record(usage, &state) }
            return chunk(.init(role: "assistant", content: ""))
        case "content_block_start":
            guard let block = event.contentBlock, let index = event.index else { return "" }
            if block.type == "tool_use" {
                let toolIndex = state.toolIndex.count
                state.toolIndex[index] = toolIndex
                return chunk(
                    .init(toolCalls: [
                        .init(index: toolIndex, id: block.id, type: "function", function: .init(name: block.name, arguments: ""))
                    ]))
            }
            if block.type == "text", let text = block.text, !text.isEmpty { return chunk(.init(content: text)) }
            return ""
        case "content_block_delta":
            guard let delta = event.delta else { return "" }
            if let text = delta.text, delta.type == "text_delta" { return chunk(.init(content: text)) }
            if let partial = delta.partialJSON, let index = event.index, let toolIndex = state.toolIndex[index], !partial.isEmpty {
                return chunk(.init(toolCalls: [.init(index: toolIndex, function: .init(arguments: partial))]))
            }
            return ""
        case "message_delta":
            if let reason = event.delta?.stopReason { state.finishReason = AnthropicMessages.finishReason(reason) }
            if let usage = event.usage { record(usage, &state) }
            return ""
        case "message_stop":
            state.ended = true
            var out = chunk(.init(), finish: state.finishReason ?? "stop")
            if includeUsage {
                out += chunk(
                    nil,
                    usage: AnthropicMessages.usage(
                        input: state.input, cacheRead: state.cacheRead, cacheWrite: state.cacheWrite, output: state.output))
            }
            return out + OpenAIChat.done
        case "error":
            state.ended = true
            let error = event.error
            return OpenAIChat.event(
                OpenAIChat.error(
                    message: error?.message ?? "The provider's stream failed.", type: "api_error", code: error?.type))
        default:
            return ""  // ping, content_block_stop, and events of later API versions
        }
    }

    /// Usage as it comes: `message_start` has the input, `message_delta` the output so far (and,
    /// in newer versions of the API, the input again).
    private func record(_ usage: AnthropicMessages.Usage, _ state: inout State) {
        if let input = usage.inputTokens { state.input = input }
        if let read = usage.cacheReadInputTokens { state.cacheRead = read }
        if let write = usage.cacheCreationInputTokens { state.cacheWrite = write }
        if let output = usage.outputTokens { state.output = output }
    }
}
