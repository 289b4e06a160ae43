public import NIOCore

/// Tokens a response reports, in the three formats providers use.
public struct TokenUsage: Sendable, Equatable {
    public var input: Int64 = 0
    public var output: Int64 = 0
    /// Input tokens served from the provider's cache (part of `input`).
    public var cached: Int64 = 0
    public var model: String?

    public init(input: Int64 = 0, output: Int64 = 0, cached: Int64 = 0, model: String? = nil) {
        self.input = input
        self.output = output
        self.cached = cached
        self.model = model
    }

    /// The cost in micro-dollars at `price` (per million tokens); cached input at its own price.
    /// Integer arithmetic, rounded half up.
    public func costMicros(_ price: ProviderDefinition.Price?) -> Int64 {
        guard let price else { return 0 }
        let cached = min(self.cached, input)
        let uncached = input - cached
        let cachedPrice = price.cachedInputMicrosPerMillion ?? price.inputMicrosPerMillion
        let total = uncached * price.inputMicrosPerMillion + cached * cachedPrice + output * price.outputMicrosPerMillion
        return (total + 500_000) / 1_000_000
    }
}

/// Watches a response go by, chunk by chunk, without holding it back, and works out its usage:
/// from the final JSON body, or from the events of an SSE stream as they pass. A stream that
/// stops early has the usage seen so far.
public struct UsageMeter: Sendable {
    let format: ProviderDefinition.UsageFormat
    let isEventStream: Bool
    /// JSON bodies larger than this are passed through without usage (none seen in practice).
    static let maximumJSONBytes = 8 << 20

    private var json = ByteBuffer()
    private var jsonOverflow = false
    private var events = EventStreamReader()
    public private(set) var usage = TokenUsage()

    public init(format: ProviderDefinition.UsageFormat, isEventStream: Bool) {
        self.format = format
        self.isEventStream = isEventStream
    }

    public mutating func observe(_ chunk: ByteBuffer) {
        guard format != .none else { return }
        if isEventStream {
            for event in events.feed(chunk) { dispatchEvent(event.data) }
        } else if !jsonOverflow {
            if json.readableBytes + chunk.readableBytes > Self.maximumJSONBytes {
                jsonOverflow = true
                json = ByteBuffer()
            } else {
                var copy = chunk
                json.writeBuffer(&copy)
            }
        }
    }

    /// The usage once the body has ended (or been cut short).
    public mutating func finish() -> TokenUsage {
        if isEventStream {
            if let event = events.finish() { dispatchEvent(event.data) }
        } else if !jsonOverflow, json.readableBytes > 0 {
            json.withUnsafeReadableBytes { apply($0) }
        }
        return usage
    }

    private mutating func dispatchEvent(_ eventData: [UInt8]) {
        guard !eventData.isEmpty, eventData != Array("[DONE]".utf8) else { return }
        // Most events are text deltas: once the model is known, only an event with a usage object
        // (`"usage": {`, `"usageMetadata": {`) can change the figures, so only those are parsed.
        if usage.model != nil, let key = Self.usageKey(format), !Self.hasObject(named: key, in: eventData) { return }
        eventData.withUnsafeBytes { apply($0) }
    }

    static func usageKey(_ format: ProviderDefinition.UsageFormat) -> [UInt8]? {
        switch format {
        case .openai, .anthropic: Array("\"usage\"".utf8)
        case .gemini: Array("\"usageMetadata\"".utf8)
        case .none: nil
        }
    }

    /// Whether `bytes` have `key` (quoted) followed by `:` and an object. Inside a JSON string a
    /// quote is escaped, so the quoted key matches only a key (or a string value, which is then
    /// not followed by `:`); a false match only costs a parse.
    static func hasObject(named key: [UInt8], in bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { bytes in
            var start = 0
            while let found = Bytes.firstIndex(of: key, in: bytes, from: start) {
                var next = found + key.count
                func skipSpaces() { while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 } }
                skipSpaces()
                if next < bytes.count, bytes[next] == UInt8(ascii: ":") {
                    next += 1
                    skipSpaces()
                    if next < bytes.count, bytes[next] == UInt8(ascii: "{") { return true }
                }
                start = found + 1
            }
            return false
        }
    }

    /// Reads the usage fields of one JSON value: a body, one event, or an array of either (Gemini
    /// streams without `alt=sse`). One scan over its bytes finds the few fields usage is made of;
    /// the rest is only checked, and a field of another type than expected is ignored, not fatal.
    private mutating func apply(_ bytes: UnsafeRawBufferPointer) {
        if let elements = JSONScan.elements(ofArray: bytes) {
            for element in elements {
                if let reported = ReportedUsage(bytes, element) { apply(reported) }
            }
        } else if let reported = ReportedUsage(bytes) {
            apply(reported)
        }
    }

    private mutating func apply(_ reported: ReportedUsage) {
        switch format {
        case .openai:
            if let model = reported.response?.model ?? reported.model { usage.model = model }
            if let counts = reported.response?.usage ?? reported.usage {
                usage.input = counts["prompt_tokens"] ?? counts["input_tokens"] ?? usage.input
                usage.output = counts["completion_tokens"] ?? counts["output_tokens"] ?? usage.output
                usage.cached = counts.details["cached_tokens"] ?? usage.cached
            }
        case .anthropic:
            // message_start carries the input (and model), message_delta the running output count;
            // a non-streamed body has both in `usage`.
            if let model = reported.message?.model ?? reported.model { usage.model = model }
            if let counts = reported.message?.usage ?? reported.usage {
                if let input = counts["input_tokens"] {
                    usage.input = input + (counts["cache_read_input_tokens"] ?? 0) + (counts["cache_creation_input_tokens"] ?? 0)
                    usage.cached = counts["cache_read_input_tokens"] ?? usage.cached
                }
                if let output = counts["output_tokens"] { usage.output = output }
            }
        case .gemini:
            if let model = reported.modelVersion { usage.model = model }
            if let counts = reported.usageMetadata {
                usage.input = counts["promptTokenCount"] ?? usage.input
                usage.output = (counts["candidatesTokenCount"] ?? 0) + (counts["thoughtsTokenCount"] ?? 0)
                usage.cached = counts["cachedContentTokenCount"] ?? usage.cached
            }
        case .none:
            break
        }
    }
}

/// The fields of a provider's JSON that usage is read from, in the three formats.
struct ReportedUsage {
    var model: String?
    var modelVersion: String?
    var usage: Counts?
    var usageMetadata: Counts?
    /// Anthropic's `message_start` event, and OpenAI's Responses API events
    /// (`response.completed`): the `model` and `usage` of the object inside.
    var message: (model: String?, usage: Counts?)?
    var response: (model: String?, usage: Counts?)?

    /// Nil unless `bytes[range]` is one JSON object.
    init?(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>? = nil) {
        guard let object = JSONScan.Object(bytes, range) else { return nil }
        for member in object.members {
            switch member.name {
            case "model": model = JSONScan.string(bytes, member.value) ?? model
            case "modelVersion": modelVersion = JSONScan.string(bytes, member.value) ?? modelVersion
            case "usage": usage = Counts(bytes, member.value) ?? usage
            case "usageMetadata": usageMetadata = Counts(bytes, member.value) ?? usageMetadata
            case "message":
                if let inner = ReportedUsage(bytes, member.value) { message = (inner.model, inner.usage) }
            case "response":
                if let inner = ReportedUsage(bytes, member.value) { response = (inner.model, inner.usage) }
            default: break
            }
        }
    }

    /// The numbers of a usage object by name, and those of its first `…_details` object
    /// (`prompt_tokens_details.cached_tokens`).
    struct Counts {
        private var numbers: [String: Int64] = [:]
        private(set) var details: [String: Int64] = [:]

        subscript(_ name: String) -> Int64? { numbers[name] }

        /// Nil unless `bytes[value]` is an object.
        init?(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) {
            guard bytes[value.lowerBound] == UInt8(ascii: "{"), let object = JSONScan.Object(bytes, value) else { return nil }
            for member in object.members {
                if let number = JSONScan.wholeNumber(bytes, member.value) {
                    numbers[member.name] = number
                } else if member.name.hasSuffix("_details"), details.isEmpty, let inner = Counts(bytes, member.value) {
                    details = inner.numbers
                }
            }
        }
    }
}
