import Foundation
import NIOCore
import Tracing

/// OpenTelemetry's GenAI names for a proxied call (semantic conventions, `gen_ai.*`): written only
/// when tracing is on, so the request path reads no body for them otherwise.
enum GenAISpan {
    /// The well-known `gen_ai.system` value of a provider, else its id.
    static func system(_ providerId: String) -> String {
        switch providerId {
        case "claude": "anthropic"
        case "gemini": "gcp.gemini"
        case "mistral": "mistral_ai"
        default: providerId
        }
    }

    /// `chat`, `embeddings` or the endpoint itself.
    static func operation(_ path: String) -> String {
        if path.contains("embed") { return "embeddings" }
        if ["/chat/completions", "/messages", "/responses"].contains(path) || path.contains(":generateContent")
            || path.contains(":streamGenerateContent")
        {
            return "chat"
        }
        return path
    }

    /// The model the client asked for: the body's top-level `model`, or Gemini's in the path.
    static func requestModel(_ call: ProxyCall, path: String) -> String? {
        if let range = path.range(of: "/models/") {
            return String(path[range.upperBound...].prefix { $0 != ":" && $0 != "/" })
        }
        let body: ByteBuffer
        switch call.body {
        case .asSent(let bytes), .oldForm(let bytes), .prepared(let bytes): body = bytes
        case .none: return nil
        }
        return body.withUnsafeReadableBytes { bytes in
            JSONScan.Object(bytes)?.members.last { $0.name == "model" }.flatMap { JSONScan.string(bytes, $0.value) }
        }
    }

    /// The span's name and attributes before the call: `chat gpt-4o-mini`.
    static func describe(_ span: any Span, call: ProxyCall, path: String) {
        let operation = operation(path)
        let model = requestModel(call, path: path)
        span.operationName = model.map { "\(operation) \($0)" } ?? operation
        span.attributes["gen_ai.operation.name"] = operation
        span.attributes["gen_ai.system"] = system(call.provider.id)
        if let model { span.attributes["gen_ai.request.model"] = model }
        if let url = URL(string: call.provider.baseURL), let host = url.host {
            span.attributes["server.address"] = host
            if let port = url.port { span.attributes["server.port"] = port }
        }
    }

    /// The usage the call recorded, on its own span.
    static func usage(_ record: UsageRecord, into attributes: inout SpanAttributes) {
        attributes["gen_ai.system"] = system(record.provider)
        if let model = record.model { attributes["gen_ai.response.model"] = model }
        attributes["gen_ai.usage.input_tokens"] = Int(record.inputTokens)
        attributes["gen_ai.usage.output_tokens"] = Int(record.outputTokens)
        attributes["safeapi.usage.cached_tokens"] = Int(record.cachedTokens)
        attributes["safeapi.usage.cost_micros"] = Int(record.costMicros)
        attributes["http.response.status_code"] = Int(record.status)
    }
}
