import Foundation
import HTTPTypes
import NIOCore

/// The built-in `mock` provider: deterministic OpenAI-format answers and SSE streams, served in
/// process, so a new user can try the whole flow (auth, proxy, streaming, usage) with no key.
/// The reply echoes the last user message; usage counts whitespace-separated words. A chat
/// without `messages` gets OpenAI's 400, so clients can see a provider error passed through.
public struct MockUpstream: Upstream {
    public init() {}

    public func send(_ request: UpstreamRequest, deadline: Duration) async throws -> UpstreamResponse {
        let path = URL(string: request.url).map(\.path) ?? ""
        if request.method == .get && path.hasSuffix("/models") {
            return Self.json(#"{"object":"list","data":[{"id":"mock-model","object":"model","owned_by":"safeapi-bridge"}]}"#)
        }
        guard request.method == .post, path.hasSuffix("/chat/completions") else {
            return Self.json(
                #"{"error":{"message":"The mock provider has no such endpoint.","type":"invalid_request_error"}}"#, status: 404)
        }
        let body = request.body.flatMap { try? JSONSerialization.jsonObject(with: Data($0.readableBytesView)) as? [String: Any] } ?? [:]
        // As OpenAI does: a chat without messages is the provider's own 400, passed through.
        guard let messages = body["messages"] as? [[String: Any]] else {
            return Self.json(
                #"{"error":{"message":"'messages' is a required property.","type":"invalid_request_error","param":"messages","code":null}}"#,
                status: 400)
        }
        let prompt = messages.compactMap { $0["content"] as? String }
        let last = prompt.last ?? ""
        let model = body["model"] as? String ?? "mock-model"
        let reply = "Mock reply: " + last
        let inputTokens = prompt.reduce(0) { $0 + $1.split(whereSeparator: \.isWhitespace).count }
        let words = reply.split(separator: " ").map(String.init)
        let usage = #"{"prompt_tokens":\#(inputTokens),"completion_tokens":\#(words.count),"total_tokens":\#(inputTokens + words.count)}"#
        if body["stream"] as? Bool == true {
            let includeUsage = (body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true
            var events: [String] = []
            for (index, word) in words.enumerated() {
                let text = (index == 0 ? "" : " ") + word
                events.append(
                    #"{"id":"mock-1","object":"chat.completion.chunk","model":"\#(model)","choices":[{"index":0,"delta":{"content":\#(JSONText.quoted(text))},"finish_reason":null}]}"#
                )
            }
            events.append(
                #"{"id":"mock-1","object":"chat.completion.chunk","model":"\#(model)","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
            )
            if includeUsage {
                events.append(#"{"id":"mock-1","object":"chat.completion.chunk","model":"\#(model)","choices":[],"usage":\#(usage)}"#)
            }
            let chunks = events.map { "data: \($0)\n\n" } + ["data: [DONE]\n\n"]
            return UpstreamResponse(status: 200, headers: [.contentType: "text/event-stream"]) { handler in
                for chunk in chunks { try await handler(ByteBuffer(string: chunk)) }
            }
        }
        return Self.json(
            #"{"id":"mock-1","object":"chat.completion","model":"\#(model)","choices":[{"index":0,"message":{"role":"assistant","content":\#(JSONText.quoted(reply))},"finish_reason":"stop"}],"usage":\#(usage)}"#
        )
    }

    static func json(_ text: String, status: Int = 200) -> UpstreamResponse {
        UpstreamResponse(status: status, headers: [.contentType: "application/json"]) { handler in
            try await handler(ByteBuffer(string: text))
        }
    }
}
