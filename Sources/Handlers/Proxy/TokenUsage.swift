import Foundation
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
    private var lineBuffer = ByteBuffer()
    private var eventData: [UInt8] = []
    public private(set) var usage = TokenUsage()

    public init(format: ProviderDefinition.UsageFormat, isEventStream: Bool) {
        self.format = format
        self.isEventStream = isEventStream
    }

    public mutating func observe(_ chunk: ByteBuffer) {
        guard format != .none else { return }
        if isEventStream {
            feedLines(chunk)
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
            if !eventData.isEmpty { dispatchEvent() }
        } else if !jsonOverflow, json.readableBytes > 0 {
            apply(Data(json.readableBytesView))
        }
        return usage
    }

    private mutating func feedLines(_ chunk: ByteBuffer) {
        var chunk = chunk
        lineBuffer.writeBuffer(&chunk)
        while let newline = lineBuffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - lineBuffer.readerIndex
            var line = lineBuffer.readBytes(length: length) ?? []
            lineBuffer.moveReaderIndex(forwardBy: 1)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.isEmpty {
                dispatchEvent()
            } else if line.starts(with: Array("data:".utf8)) {
                var data = line.dropFirst(5)
                if data.first == UInt8(ascii: " ") { data = data.dropFirst() }
                if !eventData.isEmpty { eventData.append(UInt8(ascii: "\n")) }
                eventData.append(contentsOf: data)
            }
        }
        lineBuffer.discardReadBytes()
    }

    private mutating func dispatchEvent() {
        defer { eventData.removeAll(keepingCapacity: true) }
        guard !eventData.isEmpty, eventData != Array("[DONE]".utf8) else { return }
        // Most events are text deltas: once the model is known, only an event with a usage object
        // (`"usage": {`, `"usageMetadata": {`) can change the figures, so only those are parsed.
        if usage.model != nil, let key = Self.usageKey(format), !Self.hasObject(named: key, in: eventData) { return }
        apply(Data(eventData))
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
    /// streams without `alt=sse`).
    private mutating func apply(_ data: Data) {
        guard let value = try? JSONSerialization.jsonObject(with: data) else { return }
        if let array = value as? [[String: Any]] {
            for object in array { apply(object) }
        } else if let object = value as? [String: Any] {
            apply(object)
        }
    }

    private mutating func apply(_ object: [String: Any]) {
        switch format {
        case .openai:
            if let model = object["model"] as? String { usage.model = model }
            if let reported = object["usage"] as? [String: Any] {
                usage.input = int(reported["prompt_tokens"]) ?? int(reported["input_tokens"]) ?? usage.input
                usage.output = int(reported["completion_tokens"]) ?? int(reported["output_tokens"]) ?? usage.output
                let details = (reported["prompt_tokens_details"] ?? reported["input_tokens_details"]) as? [String: Any]
                usage.cached = int(details?["cached_tokens"]) ?? usage.cached
            }
        case .anthropic:
            // message_start carries the input (and model), message_delta the running output count;
            // a non-streamed body has both in `usage`.
            let message = object["message"] as? [String: Any]
            if let model = (message?["model"] ?? object["model"]) as? String { usage.model = model }
            if let reported = (message?["usage"] ?? object["usage"]) as? [String: Any] {
                if let input = int(reported["input_tokens"]) {
                    usage.input =
                        input + (int(reported["cache_read_input_tokens"]) ?? 0) + (int(reported["cache_creation_input_tokens"]) ?? 0)
                    usage.cached = int(reported["cache_read_input_tokens"]) ?? usage.cached
                }
                if let output = int(reported["output_tokens"]) { usage.output = output }
            }
        case .gemini:
            if let model = object["modelVersion"] as? String { usage.model = model }
            if let reported = object["usageMetadata"] as? [String: Any] {
                usage.input = int(reported["promptTokenCount"]) ?? usage.input
                usage.output = (int(reported["candidatesTokenCount"]) ?? 0) + (int(reported["thoughtsTokenCount"]) ?? 0)
                usage.cached = int(reported["cachedContentTokenCount"]) ?? usage.cached
            }
        case .none:
            break
        }
    }

    private func int(_ value: Any?) -> Int64? {
        switch value {
        case let number as NSNumber: number.int64Value
        case let int as Int: Int64(int)
        default: nil
        }
    }
}
