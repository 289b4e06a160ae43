import Foundation
import Generated
import NIOCore
import Testing

@testable import Handlers

/// OpenAI chat completions to Anthropic Messages and back, field by field, on the wire formats of
/// the two APIs' documentation (the stream events are Anthropic's documented examples).
@Suite("Gateway translation: OpenAI chat to Anthropic Messages")
struct AnthropicTranslationTests {
    static func object(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    static func translate(_ request: String, fields: [String]? = nil) throws -> NSDictionary {
        let body = ByteBuffer(string: request)
        let route = try ModelRoute(chatBody: body)
        let chat = try OpenAIChat.Request.read(body, fields: fields ?? route.fields)
        return try object(String(buffer: try AnthropicMessages.body(chat, model: route.model)))
    }

    @Test func aConversationWithSystemToolsImagesAndToolResults() throws {
        let sent = try Self.translate(
            #"""
            {"model":"claude/claude-sonnet-4-5","user":"u-1","temperature":0.2,"top_p":0.9,"stop":"END",
             "messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"Use tools."}]},
              {"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"},
                                        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
                                        {"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}}]},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"18C"},
              {"role":"tool","tool_call_id":"call_2","content":"24C"},
              {"role":"user","content":"Thanks"}],
             "tools":[{"type":"function","function":{"name":"weather","description":"Weather now",
                       "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
             "tool_choice":"required","parallel_tool_calls":false}
            """#)
        let expected = try Self.object(
            #"""
            {"model":"claude-sonnet-4-5","max_tokens":4096,"system":"Be brief.\n\nUse tools.","metadata":{"user_id":"u-1"},
             "temperature":0.2,"top_p":0.9,"stop_sequences":["END"],
             "messages":[
              {"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
                {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]},
              {"role":"assistant","content":[
                {"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},
                {"type":"tool_use","id":"call_2","name":"weather","input":{"city":"Rome"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C"},
                {"type":"tool_result","tool_use_id":"call_2","content":"24C"},{"type":"text","text":"Thanks"}]}],
             "tools":[{"name":"weather","description":"Weather now",
                       "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
             "tool_choice":{"type":"any","disable_parallel_tool_use":true}}
            """#)
        #expect(sent == expected)
    }

    @Test func maxTokensAndToolChoicesMap() throws {
        let base = #""model":"claude/m","messages":[{"role":"user","content":"hi"}]"#
        #expect(try Self.translate("{\(base),\"max_completion_tokens\":50,\"max_tokens\":9}")["max_tokens"] as? Int == 50)
        #expect(try Self.translate("{\(base),\"max_tokens\":9,\"stream\":true}")["stream"] as? Bool == true)
        let named = try Self.translate(
            "{\(base),\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}}"
        )
        #expect(named["tool_choice"] as? NSDictionary == ["type": "tool", "name": "f"])
        #expect((named["tools"] as? [NSDictionary])?.first?["input_schema"] as? NSDictionary == ["type": "object"])
        #expect(try Self.translate("{\(base),\"tool_choice\":\"none\"}")["tool_choice"] as? NSDictionary == ["type": "none"])
    }

    /// What Anthropic cannot express is refused with 400 and the field named, never dropped.
    @Test(arguments: [
        (#""n":2"#, "n"), (#""seed":7"#, "seed"), (#""response_format":{"type":"json_object"}"#, "response_format"),
        (#""logprobs":true"#, "logprobs"), (#""frequency_penalty":0.5"#, "frequency_penalty"),
    ])
    func whatCannotBeExpressedIsRefused(field: String, name: String) throws {
        let body = #"{"model":"claude/m","messages":[{"role":"user","content":"hi"}],"# + field + "}"
        #expect {
            try Self.translate(body)
        } throws: { error in
            guard case AppError.unsupportedParameter(let refused, _) = error else { return false }
            return refused == name
        }
    }

    @Test func imagesAndToolCallsThatCannotBeSentAreRefused() throws {
        let local =
            #"{"model":"claude/m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://10.0.0.1/a.png"}}]}]}"#
        #expect(throws: AppError.self) { try Self.translate(local) }
        let arguments =
            #"{"model":"claude/m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}"#
        #expect(throws: AppError.self) { try Self.translate(arguments) }
    }

    @Test func aWholeAnswerWithTextAndAToolCall() throws {
        let answer = #"""
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"text","text":"Let me check."},
                        {"type":"tool_use","id":"toolu_01","name":"weather","input":{"city":"Paris"}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":100,"cache_read_input_tokens":50,"cache_creation_input_tokens":10,"output_tokens":20}}
            """#
        let translated = try Self.object(
            String(buffer: try AnthropicTranslation(includeUsage: false, created: 1).answer(ByteBuffer(string: answer))))
        let expected = try Self.object(
            #"""
            {"id":"msg_01","object":"chat.completion","created":1,"model":"claude-sonnet-4-5",
             "choices":[{"index":0,"logprobs":null,"finish_reason":"tool_calls",
               "message":{"role":"assistant","content":"Let me check.","refusal":null,
                 "tool_calls":[{"id":"toolu_01","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]}}],
             "usage":{"prompt_tokens":160,"completion_tokens":20,"total_tokens":180,
                      "prompt_tokens_details":{"cached_tokens":50},"completion_tokens_details":{"reasoning_tokens":0}}}
            """#)
        #expect(translated == expected)
    }

    @Test(arguments: [
        ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ])
    func finishReasons(stop: String, finish: String) {
        #expect(AnthropicMessages.finishReason(stop) == finish)
    }

    @Test func anErrorBodyTakesOpenAIsShape() throws {
        let body = #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        let translated = try Self.object(
            String(buffer: AnthropicTranslation(includeUsage: false).error(ByteBuffer(string: body), status: 529)))
        #expect(translated == ["error": ["message": "Overloaded", "type": "api_error", "code": "overloaded_error", "param": NSNull()]])
    }

    /// Anthropic's documented stream of a text block and two tool calls, fed in pieces of every
    /// size: the same chunks come out, with tool-call indexes 0 and 1 and the arguments as they came.
    static let stream = [
        #"event: message_start\#ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
        #"event: content_block_start\#ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        #"event: ping\#ndata: {"type": "ping"}"#,
        #"event: content_block_delta\#ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}"#,
        #"event: content_block_stop\#ndata: {"type":"content_block_stop","index":0}"#,
        #"event: content_block_start\#ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"weather","input":{}}}"#,
        #"event: content_block_delta\#ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        #"event: content_block_delta\#ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}"#,
        #"event: content_block_delta\#ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}"#,
        #"event: content_block_stop\#ndata: {"type":"content_block_stop","index":1}"#,
        #"event: content_block_start\#ndata: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"weather","input":{}}}"#,
        #"event: content_block_delta\#ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Rome\"}"}}"#,
        #"event: content_block_stop\#ndata: {"type":"content_block_stop","index":2}"#,
        #"event: message_delta\#ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
        #"event: message_stop\#ndata: {"type":"message_stop"}"#,
    ].map { $0 + "\n\n" }.joined()

    static func translateStream(_ text: String, pieces: Int, includeUsage: Bool = true) -> [String] {
        let translator = AnthropicTranslation(includeUsage: includeUsage, created: 1).stream()
        let bytes = Array(text.utf8)
        var out = ""
        var start = 0
        let size = max(1, bytes.count / pieces)
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            out += String(buffer: translator.feed(ByteBuffer(bytes: bytes[start..<end])))
            start = end
        }
        out += String(buffer: translator.finish())
        return out.components(separatedBy: "\n\n").filter { !$0.isEmpty }
    }

    @Test(arguments: [1, 7, 100, 5000])
    func aStreamWithTextAndTwoToolCalls(pieces: Int) throws {
        let events = Self.translateStream(Self.stream, pieces: pieces)
        #expect(events.allSatisfy { $0.hasPrefix("data: ") })
        #expect(events.last == "data: [DONE]")
        let chunks = try events.dropLast().map { try Self.object(String($0.dropFirst(6))) }
        #expect(chunks.allSatisfy { $0["id"] as? String == "msg_1" && $0["object"] as? String == "chat.completion.chunk" })
        #expect(chunks.allSatisfy { $0["model"] as? String == "claude-sonnet-4-5" })
        let deltas = chunks.compactMap { (($0["choices"] as? [NSDictionary])?.first)?["delta"] as? NSDictionary }
        #expect(deltas.first == ["role": "assistant", "content": ""])
        #expect(deltas.compactMap { $0["content"] as? String }.joined() == "Checking")
        let calls = deltas.compactMap { ($0["tool_calls"] as? [NSDictionary])?.first }
        #expect(calls.map { $0["index"] as? Int } == [0, 0, 0, 1, 1])
        #expect(calls.compactMap { $0["id"] as? String } == ["toolu_a", "toolu_b"])
        let arguments = { (index: Int) in
            calls.filter { $0["index"] as? Int == index }.compactMap { ($0["function"] as? NSDictionary)?["arguments"] as? String }.joined()
        }
        #expect(arguments(0) == #"{"city": "Paris"}"#)
        #expect(arguments(1) == #"{"city": "Rome"}"#)
        let finishes = chunks.compactMap { (($0["choices"] as? [NSDictionary])?.first)?["finish_reason"] as? String }
        #expect(finishes == ["tool_calls"])
        let usage = try #require(chunks.last?["usage"] as? NSDictionary)
        #expect((chunks.last?["choices"] as? [Any])?.isEmpty == true)
        #expect(usage["prompt_tokens"] as? Int == 30 && usage["completion_tokens"] as? Int == 89 && usage["total_tokens"] as? Int == 119)
        #expect((usage["prompt_tokens_details"] as? NSDictionary)?["cached_tokens"] as? Int == 5)
    }

    @Test func noUsageChunkUnlessAskedFor() {
        let events = Self.translateStream(Self.stream, pieces: 3, includeUsage: false)
        #expect(!events.contains { $0.contains(#""usage""#) })
        #expect(events.last == "data: [DONE]")
    }

    /// An `error` event in mid-stream, and a stream that stops without `message_stop`, end in an
    /// error event the OpenAI SDKs raise.
    @Test func errorsAfterTheStreamStarted() throws {
        let start = Self.stream.components(separatedBy: "event: content_block_stop")[0]
        let failed = Self.translateStream(
            start
                + "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
            pieces: 5)
        let error = try #require(try Self.object(String(failed.last!.dropFirst(6)))["error"] as? NSDictionary)
        #expect(error["code"] as? String == "overloaded_error" && error["message"] as? String == "Overloaded")
        #expect(!failed.contains("data: [DONE]"))
        let cut = Self.translateStream(start, pieces: 2)
        let incomplete = try #require(try Self.object(String(cut.last!.dropFirst(6)))["error"] as? NSDictionary)
        #expect(incomplete["code"] as? String == "upstream_incomplete")
    }
}
