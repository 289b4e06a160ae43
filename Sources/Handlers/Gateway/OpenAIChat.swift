import Foundation
import Generated
import NIOCore

/// OpenAI's chat completions API, the client's side of every translation: the request as the
/// OpenAI SDKs send it (the fields a translation reads), and the answer, chunk and error they read.
enum OpenAIChat {
    /// A request's fields. Any other top-level field is refused (`ChatRequest.check`): a
    /// translation never drops what a client asked for without saying so.
    struct Request: Decodable {
        var model: String
        var messages: [Message]
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var temperature: Double?
        var topP: Double?
        var stop: [String]?
        var stream: Bool?
        var includeUsage: Bool
        var tools: [Tool]?
        var toolChoice: ToolChoice?
        var parallelToolCalls: Bool?
        var user: String?
        var seed: Int64?
        /// `response_format.type`: `text`, `json_object` or `json_schema`.
        var responseFormat: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, messages, temperature, stop, stream, tools, user, n, seed
            case maxTokens = "max_tokens"
            case maxCompletionTokens = "max_completion_tokens"
            case topP = "top_p"
            case streamOptions = "stream_options"
            case toolChoice = "tool_choice"
            case parallelToolCalls = "parallel_tool_calls"
            case responseFormat = "response_format"
            case logprobs, store
        }

        struct StreamOptions: Decodable {
            var includeUsage: Bool?
            enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        }

        struct ResponseFormat: Decodable {
            var type: String
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            model = try container.decode(String.self, forKey: .model)
            messages = try container.decode([Message].self, forKey: .messages)
            maxTokens = try container.decodeIfPresent(Int.self, forKey: .maxTokens)
            maxCompletionTokens = try container.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
            temperature = try container.decodeIfPresent(Double.self, forKey: .temperature)
            topP = try container.decodeIfPresent(Double.self, forKey: .topP)
            if let one = try? container.decodeIfPresent(String.self, forKey: .stop) {
                stop = [one]
            } else {
                stop = try container.decodeIfPresent([String].self, forKey: .stop)
            }
            stream = try container.decodeIfPresent(Bool.self, forKey: .stream)
            includeUsage = try container.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage ?? false
            tools = try container.decodeIfPresent([Tool].self, forKey: .tools)
            toolChoice = try container.decodeIfPresent(ToolChoice.self, forKey: .toolChoice)
            parallelToolCalls = try container.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)
            user = try container.decodeIfPresent(String.self, forKey: .user)
            // Fields that change what the model does, refused unless at their default.
            if let n = try container.decodeIfPresent(Int.self, forKey: .n), n != 1 {
                throw Refusal(parameter: "n", reason: "only one choice (n = 1) can be asked for")
            }
            seed = try container.decodeIfPresent(Int64.self, forKey: .seed)
            responseFormat = try container.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)?.type
            if try container.decodeIfPresent(Bool.self, forKey: .logprobs) == true {
                throw Refusal(parameter: "logprobs", reason: "the provider gives no log probabilities")
            }
        }
    }

    /// A request field the provider cannot honour: 400 `unsupported_parameter`.
    struct Refusal: Error {
        var parameter: String
        var reason: String

        /// `body`'s value, a refusal thrown as the bridge's error.
        static func asError<Value>(_ body: () throws -> Value) throws -> Value {
            do {
                return try body()
            } catch let refusal as Refusal {
                throw AppError.unsupportedParameter(name: refusal.parameter, reason: refusal.reason)
            }
        }
    }

    struct Message: Decodable {
        var role: String
        var content: Content?
        var toolCalls: [ToolCall]?
        var toolCallId: String?

        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case toolCallId = "tool_call_id"
        }
    }

    /// A message's content: a text, or parts (text and images).
    enum Content: Decodable {
        case text(String)
        case parts([Part])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .parts(try container.decode([Part].self))
            }
        }

        /// The text of every text part, joined.
        var text: String {
            switch self {
            case .text(let text): text
            case .parts(let parts): parts.compactMap(\.text).joined()
            }
        }
    }

    struct Part: Decodable {
        var type: String
        var text: String?
        var imageURL: ImageURL?

        struct ImageURL: Decodable {
            var url: String
        }

        enum CodingKeys: String, CodingKey {
            case type, text
            case imageURL = "image_url"
        }
    }

    struct ToolCall: Codable {
        var id: String
        var type = "function"
        var function: Function

        struct Function: Codable {
            var name: String
            var arguments: String
        }
    }

    struct Tool: Decodable {
        var function: Function

        struct Function: Decodable {
            var name: String
            var description: String?
            var parameters: JSONValue?
        }
    }

    enum ToolChoice: Decodable {
        case none, auto, required
        case function(String)

        struct Named: Decodable {
            var function: Name
            struct Name: Decodable { var name: String }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let mode = try? container.decode(String.self) {
                switch mode {
                case "none": self = .none
                case "auto": self = .auto
                case "required": self = .required
                default: throw Refusal(parameter: "tool_choice", reason: "must be none, auto, required or a named function")
                }
            } else {
                self = .function(try container.decode(Named.self).function.name)
            }
        }
    }

    // MARK: The answer

    struct Completion: Encodable {
        var id: String
        var object = "chat.completion"
        var created: Int64
        var model: String
        var choices: [Choice]
        var usage: Usage

        struct Choice: Encodable {
            var index = 0
            var message: AssistantMessage
            var finishReason: String?

            enum CodingKeys: String, CodingKey {
                case index, message, logprobs
                case finishReason = "finish_reason"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(index, forKey: .index)
                try container.encode(message, forKey: .message)
                try container.encodeNil(forKey: .logprobs)
                try container.encode(finishReason, forKey: .finishReason)
            }
        }
    }

    struct AssistantMessage: Encodable {
        var content: String?
        var toolCalls: [ToolCall]?

        enum CodingKeys: String, CodingKey {
            case role, content, refusal
            case toolCalls = "tool_calls"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("assistant", forKey: .role)
            try container.encode(content, forKey: .content)
            try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
            try container.encodeNil(forKey: .refusal)
        }
    }

    struct Usage: Encodable, Equatable {
        var promptTokens: Int64
        var completionTokens: Int64
        var cachedTokens: Int64
        var reasoningTokens: Int64

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
            case promptDetails = "prompt_tokens_details"
            case completionDetails = "completion_tokens_details"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(promptTokens, forKey: .promptTokens)
            try container.encode(completionTokens, forKey: .completionTokens)
            try container.encode(promptTokens + completionTokens, forKey: .totalTokens)
            try container.encode(["cached_tokens": cachedTokens], forKey: .promptDetails)
            try container.encode(["reasoning_tokens": reasoningTokens], forKey: .completionDetails)
        }
    }

    /// The text of `chat.completion.chunk` events, written by hand: a stream has an event per few
    /// tokens, so no encoder runs per event.
    struct ChunkWriter {
        /// `data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":`
        private var head = ""
        var started: Bool { !head.isEmpty }

        mutating func start(id: String, model: String, created: Int64) {
            var head = #"data: {"id":"#
            JSONText.appendQuoted(id, to: &head)
            head += #","object":"chat.completion.chunk","created":"# + String(created) + #","model":"#
            JSONText.appendQuoted(model, to: &head)
            self.head = head + #","choices":"#
        }

        /// A chunk of the one choice, `delta` its JSON text.
        func chunk(_ delta: String, finish: String? = nil, into out: inout String) {
            out += head
            out += #"[{"index":0,"delta":"#
            out += delta
            out += #","logprobs":null,"finish_reason":"#
            if let finish { JSONText.appendQuoted(finish, to: &out) } else { out += "null" }
            out += "}]}\n\n"
        }

        /// The last chunk with `include_usage`: no choice, the usage.
        func usage(_ usage: Usage, into out: inout String) {
            out += head + #"[],"usage":"# + OpenAIChat.json(usage) + "}\n\n"
        }

        static let role = #"{"role":"assistant","content":""}"#

        /// `{"content":"…"}`
        static func content(_ text: String) -> String {
            var delta = #"{"content":"#
            JSONText.appendQuoted(text, to: &delta)
            return delta + "}"
        }

        /// A tool call's first delta (its id and name), with the `arguments` known so far.
        static func toolCall(index: Int, id: String, name: String, arguments: String = "") -> String {
            var delta = #"{"tool_calls":[{"index":"# + String(index) + #","id":"#
            JSONText.appendQuoted(id, to: &delta)
            delta += #","type":"function","function":{"name":"#
            JSONText.appendQuoted(name, to: &delta)
            delta += #","arguments":"#
            JSONText.appendQuoted(arguments, to: &delta)
            return delta + "}}]}"
        }

        /// More of a tool call's arguments.
        static func arguments(index: Int, _ arguments: String) -> String {
            var delta = #"{"tool_calls":[{"index":"# + String(index) + #","function":{"arguments":"#
            JSONText.appendQuoted(arguments, to: &delta)
            return delta + "}}]}"
        }
    }

    static func json(_ value: some Encodable) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// `data: <json>` and the blank line after it.
    static func event(_ value: some Encodable) -> String {
        "data: " + json(value) + "\n\n"
    }

    static let done = "data: [DONE]\n\n"

    /// The error event for a provider's stream that stopped before its end.
    static let incompleteStream = event(
        error(message: "The provider's stream ended before the answer was complete.", type: "api_error", code: "upstream_incomplete"))

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    // MARK: Errors

    /// A provider's error in OpenAI's shape, as `GatewayError` has it (without a request id: the
    /// provider's error is marked by `x-safeapi-upstream-status`).
    static func error(message: String, type: String, code: String?) -> [String: [String: String?]] {
        ["error": ["message": message, "type": type, "code": code, "param": nil]]
    }

    /// OpenAI's error type for a status.
    static func errorType(status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 429: "rate_limit_error"
        case 500...: "api_error"
        default: "invalid_request_error"
        }
    }
}

extension OpenAIChat {
    /// A request of OpenAI's API in `body` (its top-level `fields` already scanned), as `Request`
    /// reads it: a field not in `Request.CodingKeys`, a value of the wrong type, or one the
    /// provider cannot honour is a 400.
    static func read<Request: Decodable>(_ type: Request.Type, from body: ByteBuffer, fields: [String]) throws -> Request
    where Request: OpenAIRequest {
        let known = Set(Request.CodingKeys.allCases.map(\.stringValue))
        if let unknown = fields.first(where: { !known.contains($0) }) {
            throw AppError.unsupportedParameter(name: unknown, reason: "the gateway does not translate it")
        }
        do {
            return try Refusal.asError { try JSONDecoder().decode(Request.self, from: Data(body.readableBytesView)) }
        } catch let error as DecodingError {
            let path: [any CodingKey] =
                switch error {
                case .keyNotFound(let key, let context): context.codingPath + [key]
                case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): context.codingPath
                @unknown default: []
                }
            let name = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            throw InputError(
                location: .body, name: name.replacingOccurrences(of: ".[", with: "["),
                reason: "is missing or not of the type OpenAI's API has")
        }
    }
}

/// A request type of OpenAI's API that a translation reads: its coding keys are every field it
/// knows.
protocol OpenAIRequest {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension OpenAIChat.Request: OpenAIRequest {}

extension OpenAIChat.ToolCall {
    /// The call's arguments as the JSON object they must be (the providers that take tool calls
    /// back want an object, not its text); `index` is the message's place, for the refusal.
    func arguments(at index: Int) throws(OpenAIChat.Refusal) -> JSONValue {
        guard let input = try? JSONDecoder().decode(JSONValue.self, from: Data(function.arguments.utf8)), input.isObject else {
            throw OpenAIChat.Refusal(parameter: "messages[\(index)].tool_calls", reason: "a tool call's arguments must be a JSON object")
        }
        return input
    }
}

extension OpenAIChat.Part {
    /// An image given as a base64 data URL (`data:image/png;base64,…`): its media type and data.
    var base64Image: (mediaType: String, data: String)? {
        guard let url = imageURL?.url, url.hasPrefix("data:"), let comma = url.firstIndex(of: ","),
            case let header = url[url.index(url.startIndex, offsetBy: 5)..<comma], header.hasSuffix(";base64")
        else { return nil }
        return (String(header.dropLast(7)), String(url[url.index(after: comma)...]))
    }
}
