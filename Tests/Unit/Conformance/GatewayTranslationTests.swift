import Foundation
import Generated
import NIOCore
import Testing

@testable import Handlers

/// The gateway's conformance suite, part one (part two, live through mock providers and the
/// official SDK, is Tests/Contract/GatewayTests.swift and scripts/sdk-check): OpenAI chat
/// completions to Anthropic Messages and back, field by field, on the wire formats of
/// the two APIs' documentation (the stream events are Anthropic's documented examples).
@Suite("Gateway translation: OpenAI chat to Anthropic Messages")
struct AnthropicTranslationTests {
    static func object(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    static func translate(_ request: String, fields: [String]? = nil) throws -> NSDictionary {
        let body = ByteBuffer(string: request)
        let route = try ModelRoute(body: body, for: .chatCompletions)
        return try object(
            String(
                buffer: try AnthropicMessages.call(body, fields: fields ?? route.fields, model: ModelRoute.split(route.name)!.model).body))
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
        feed(AnthropicTranslation(includeUsage: includeUsage, created: 1), text, pieces: pieces)
    }

    /// The events `translation` makes of `text` fed in `pieces` pieces of equal size (the last
    /// shorter), then its end.
    static func feed(_ translation: any AnswerTranslation, _ text: String, pieces: Int) -> [String] {
        guard let translator = translation.stream() else { return [] }
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

/// OpenAI chat completions to Gemini generateContent and back, on the wire format of Gemini's API
/// reference (`GenerateContentRequest`, `GenerateContentResponse`, `alt=sse` streams).
@Suite("Gateway translation: OpenAI chat to Gemini generateContent")
struct GeminiTranslationTests {
    static func translate(_ request: String) throws -> (call: TranslatedCall, body: NSDictionary) {
        let body = ByteBuffer(string: request)
        let route = try ModelRoute(body: body, for: .chatCompletions)
        let call = try GeminiContent.call(body, fields: route.fields, model: ModelRoute.split(route.name)!.model)
        return (call, try AnthropicTranslationTests.object(String(buffer: call.body)))
    }

    @Test func aConversationWithSystemToolsImagesAndToolResults() throws {
        let (call, sent) = try Self.translate(
            #"""
            {"model":"gemini/gemini-2.5-flash","seed":7,"temperature":0.5,"max_tokens":100,"stop":["END"],
             "response_format":{"type":"json_object"},
             "messages":[
              {"role":"system","content":"Be brief."},
              {"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}]},
              {"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"call_a","content":"{\"celsius\":18}"},
              {"role":"tool","tool_call_id":"call_a","content":"sunny"}],
             "tools":[{"type":"function","function":{"name":"weather","description":"Weather now",
                       "parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
                                     "properties":{"city":{"$ref":"#/$defs/City"},"unit":{"type":["string","null"],"enum":["c","f"]}},
                                     "required":["city"],"$defs":{"City":{"type":"string","description":"A city","const":"x"}}}}}],
             "tool_choice":{"type":"function","function":{"name":"weather"}}}
            """#)
        #expect(call.endpoint == "/models/gemini-2.5-flash:generateContent")
        #expect(call.query.isEmpty)
        let expected = try AnthropicTranslationTests.object(
            #"""
            {"systemInstruction":{"parts":[{"text":"Be brief."}]},
             "contents":[
              {"role":"user","parts":[{"text":"Weather?"},{"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}}]},
              {"role":"model","parts":[{"text":"Checking."},{"functionCall":{"name":"weather","args":{"city":"Paris"}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"weather","response":{"celsius":18}}},
                                      {"functionResponse":{"name":"weather","response":{"content":"sunny"}}}]}],
             "tools":[{"functionDeclarations":[{"name":"weather","description":"Weather now",
               "parameters":{"type":"object","required":["city"],
                 "properties":{"city":{"type":"string","description":"A city"},"unit":{"type":"string","nullable":true,"enum":["c","f"]}}}}]}],
             "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["weather"]}},
             "generationConfig":{"stopSequences":["END"],"temperature":0.5,"maxOutputTokens":100,"seed":7,"responseMimeType":"application/json"}}
            """#)
        #expect(sent == expected)
    }

    @Test func aStreamGoesToStreamGenerateContentWithSSE() throws {
        let (call, _) = try Self.translate(
            #"{"model":"gemini/gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(call.endpoint == "/models/gemini-2.5-flash:streamGenerateContent")
        #expect(call.query.map(\.name) == ["alt"] && call.query.map(\.value) == ["sse"])
    }

    @Test(arguments: [
        #""parallel_tool_calls":false,"messages":[{"role":"user","content":"hi"}]"#,
        #""response_format":{"type":"json_schema"},"messages":[{"role":"user","content":"hi"}]"#,
        #""messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]"#,
        #""messages":[{"role":"tool","tool_call_id":"nowhere","content":"x"}]"#,
    ])
    func whatCannotBeExpressedIsRefused(fields: String) {
        #expect(throws: AppError.self) { try Self.translate(#"{"model":"gemini/m","# + fields + "}") }
    }

    @Test func aSchemaThatRefersToItselfStopsAtADepth() {
        let root = JSONValue.object([
            "type": .string("object"), "properties": .object(["next": .object(["$ref": .string("#")])]),
        ])
        var depth = 0
        var node = GeminiContent.schema(root, root: root)
        while case .object(let object) = node, case .object(let properties)? = object["properties"], let next = properties["next"] {
            node = next
            depth += 1
        }
        #expect(depth > 5 && depth <= 32)
    }

    @Test func aWholeAnswerWithTextAFunctionCallAndThoughts() throws {
        let answer = #"""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"thinking…","thought":true},{"text":"Let me check."},
               {"functionCall":{"name":"weather","args":{"city":"Paris"}}}]},"finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20,"thoughtsTokenCount":30,"cachedContentTokenCount":40,"totalTokenCount":150},
             "modelVersion":"gemini-2.5-flash","responseId":"resp-1"}
            """#
        let translated = try AnthropicTranslationTests.object(
            String(
                buffer: try GeminiTranslation(model: "gemini-2.5-flash", includeUsage: false, created: 1).answer(ByteBuffer(string: answer))
            ))
        let expected = try AnthropicTranslationTests.object(
            #"""
            {"id":"resp-1","object":"chat.completion","created":1,"model":"gemini-2.5-flash",
             "choices":[{"index":0,"logprobs":null,"finish_reason":"tool_calls",
               "message":{"role":"assistant","content":"Let me check.","refusal":null,
                 "tool_calls":[{"id":"call_0","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]}}],
             "usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
                      "prompt_tokens_details":{"cached_tokens":40},"completion_tokens_details":{"reasoning_tokens":30}}}
            """#)
        #expect(translated == expected)
    }

    @Test func aBlockedPromptAndASafetyStopAreContentFilters() throws {
        let translation = GeminiTranslation(model: "m", includeUsage: false, created: 1)
        for body in [
            #"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":5}}"#,
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"SAFETY"}]}"#,
        ] {
            let completion = try AnthropicTranslationTests.object(String(buffer: try translation.answer(ByteBuffer(string: body))))
            let choice = try #require((completion["choices"] as? [NSDictionary])?.first)
            #expect(choice["finish_reason"] as? String == "content_filter")
        }
        #expect(GeminiContent.finishReason("MAX_TOKENS", calledTools: false) == "length")
        #expect(GeminiContent.finishReason("STOP", calledTools: false) == "stop")
    }

    @Test func anErrorBodyTakesOpenAIsShape() throws {
        let body = #"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}"#
        let translated = try AnthropicTranslationTests.object(
            String(buffer: GeminiTranslation(model: "m", includeUsage: false).error(ByteBuffer(string: body), status: 400)))
        #expect(
            translated == [
                "error": ["message": "API key not valid.", "type": "invalid_request_error", "code": "invalid_argument", "param": NSNull()]
            ])
    }

    /// Gemini's `alt=sse` stream: each event the next parts; the last has the finish reason and
    /// the final usage; two function calls in the stream.
    static let stream = [
        #"data: {"candidates":[{"content":{"parts":[{"text":"Checking"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1},"modelVersion":"gemini-2.5-flash","responseId":"resp-2"}"#,
        #"data: {"candidates":[{"content":{"parts":[{"text":" both."},{"functionCall":{"name":"weather","args":{"city":"Paris"}}},{"functionCall":{"name":"weather","args":{"city":"Rome"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":12,"totalTokenCount":21},"modelVersion":"gemini-2.5-flash","responseId":"resp-2"}"#,
    ].map { $0 + "\r\n\r\n" }.joined()

    static func translateStream(_ text: String, pieces: Int, includeUsage: Bool = true) -> [String] {
        AnthropicTranslationTests.feed(
            GeminiTranslation(model: "gemini-2.5-flash", includeUsage: includeUsage, created: 1), text, pieces: pieces)
    }

    @Test(arguments: [1, 9, 4000])
    func aStreamWithTextAndTwoFunctionCalls(pieces: Int) throws {
        let events = Self.translateStream(Self.stream, pieces: pieces)
        #expect(events.last == "data: [DONE]")
        let chunks = try events.dropLast().map { try AnthropicTranslationTests.object(String($0.dropFirst(6))) }
        #expect(chunks.allSatisfy { $0["id"] as? String == "resp-2" && $0["model"] as? String == "gemini-2.5-flash" })
        let deltas = chunks.compactMap { (($0["choices"] as? [NSDictionary])?.first)?["delta"] as? NSDictionary }
        #expect(deltas.first == ["role": "assistant", "content": ""])
        #expect(deltas.compactMap { $0["content"] as? String }.joined() == "Checking both.")
        let calls = deltas.compactMap { ($0["tool_calls"] as? [NSDictionary])?.first }
        #expect(calls.map { $0["index"] as? Int } == [0, 1])
        #expect(calls.map { $0["id"] as? String } == ["call_0", "call_1"])
        #expect(
            calls.compactMap { ($0["function"] as? NSDictionary)?["arguments"] as? String } == [#"{"city":"Paris"}"#, #"{"city":"Rome"}"#])
        let finishes = chunks.compactMap { (($0["choices"] as? [NSDictionary])?.first)?["finish_reason"] as? String }
        #expect(finishes == ["tool_calls"])
        let usage = try #require(chunks.last?["usage"] as? NSDictionary)
        #expect(usage["prompt_tokens"] as? Int == 9 && usage["completion_tokens"] as? Int == 12)
    }

    @Test func aStreamWithoutAFinishReasonOrWithAnErrorEndsInAnErrorEvent() throws {
        let first = Self.stream.components(separatedBy: "\r\n\r\n")[0] + "\r\n\r\n"
        let cut = Self.translateStream(first, pieces: 2)
        #expect(cut.last?.contains("upstream_incomplete") == true)
        let failed = Self.translateStream(
            first + #"data: {"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"# + "\n\n", pieces: 3)
        let error = try #require(try AnthropicTranslationTests.object(String(failed.last!.dropFirst(6)))["error"] as? NSDictionary)
        #expect(error["code"] as? String == "unavailable")
        #expect(!failed.contains("data: [DONE]"))
    }
}

@Suite("Gateway routes")
struct ModelRouteTests {
    /// A provider whose answers have no usage format has an API the gateway does not know.
    @Test func aProviderOfAnUnknownAPIIsNotServed() throws {
        let definition = try ProvidersFile.decode(
            Data(
                #"{"providers":[{"id":"plain","baseURL":"http://127.0.0.1:1","auth":{"style":"none"},"usage":"none","endpoints":[]}]}"#.utf8
            ),
            source: "test"
        ).providers
        let registry = ProviderRegistry.resolve(definition, mockEnabled: false) { _ in nil }
        let route = try ModelRoute(body: ByteBuffer(string: #"{"model":"plain/x","messages":[]}"#), for: .chatCompletions)
        #expect(throws: AppError.modelNotSupported(provider: "plain")) { try route.deployments(in: registry) }
        let unknown = try ModelRoute(body: ByteBuffer(string: #"{"model":"nope/x","messages":[]}"#), for: .chatCompletions)
        #expect(throws: AppError.modelNotFound(name: "nope")) { try unknown.deployments(in: registry) }
    }

    /// An alias: the first attempt spread by weight, the others after it in the listed order; a
    /// deployment of a provider the gateway cannot serve is left out.
    @Test func anAliasSpreadsItsFirstAttemptByWeight() throws {
        let file = try ProvidersFile.decode(
            Data(
                #"""
                {"providers":[{"id":"a","baseURL":"http://127.0.0.1:1","auth":{"style":"none"},"usage":"openai","endpoints":[]},
                              {"id":"b","baseURL":"http://127.0.0.1:1","auth":{"style":"none"},"usage":"anthropic","endpoints":[]},
                              {"id":"plain","baseURL":"http://127.0.0.1:1","auth":{"style":"none"},"usage":"none","endpoints":[]}],
                 "aliases":{"fast":[{"model":"a/m1","weight":3},{"model":"plain/x"},{"model":"b/m2","weight":1,
                                    "price":{"inputMicrosPerMillion":1,"outputMicrosPerMillion":2}}]}}
                """#.utf8), source: "test")
        let registry = ProviderRegistry.resolve(file.providers, aliases: file.aliases ?? [:], mockEnabled: false) { _ in nil }
        let route = try ModelRoute(body: ByteBuffer(string: #"{"model":"fast","messages":[]}"#), for: .chatCompletions)
        var firsts: [String: Int] = [:]
        for _ in 0..<400 {
            let deployments = try route.deployments(in: registry)
            #expect(deployments.count == 2)
            #expect(Set(deployments.map(\.model)) == ["m1", "m2"])
            firsts[deployments[0].provider.id, default: 0] += 1
        }
        // 3 to 1: about 300 and 100.
        #expect((240...360).contains(firsts["a"] ?? 0) && (40...160).contains(firsts["b"] ?? 0))
        #expect(try route.deployments(in: registry).first { $0.model == "m2" }?.price?.outputMicrosPerMillion == 2)
        let missing = try ModelRoute(body: ByteBuffer(string: #"{"model":"slow","messages":[]}"#), for: .chatCompletions)
        #expect(throws: AppError.modelNotFound(name: "slow")) { try missing.deployments(in: registry) }
        #expect(throws: ProvidersFile.LoadError.self) {
            try ProvidersFile.decode(Data(#"{"providers":[],"aliases":{"a/b":[{"model":"x/y"}]}}"#.utf8), source: "test")
        }
    }
}

@Suite("Gateway translation: OpenAI embeddings to Gemini batchEmbedContents")
struct GeminiEmbeddingsTests {
    @Test func textsBecomeOneRequestEachAndVectorsComeBackAsFloatsOrBase64() throws {
        let body = ByteBuffer(string: #"{"model":"gemini/text-embedding-004","input":["a","b"],"dimensions":3,"encoding_format":"base64"}"#)
        let route = try ModelRoute(body: body, for: .embeddings)
        let call = try GeminiEmbeddings.call(body, fields: route.fields, model: ModelRoute.split(route.name)!.model)
        #expect(call.endpoint == "/models/text-embedding-004:batchEmbedContents")
        let sent = try AnthropicTranslationTests.object(String(buffer: call.body))
        let expected = try AnthropicTranslationTests.object(
            #"""
            {"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"outputDimensionality":3},
                         {"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]},"outputDimensionality":3}]}
            """#)
        #expect(sent == expected)
        let answer = ByteBuffer(string: #"{"embeddings":[{"values":[0.5,-1.25,3]},{"values":[1,2,3]}]}"#)
        let encoded = try AnthropicTranslationTests.object(String(buffer: try call.translation.answer(answer)))
        let first = try #require((encoded["data"] as? [NSDictionary])?.first)
        // The base64 of the little-endian float32 bytes, as OpenAI's API sends it.
        let text = try #require(first["embedding"] as? String)
        let bytes = try #require(Data(base64Encoded: text))
        let floats = stride(from: 0, to: bytes.count, by: 4).map { offset in
            Float(bitPattern: bytes[offset..<offset + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        #expect(floats == [0.5, -1.25, 3])
        #expect(encoded["model"] as? String == "text-embedding-004" && encoded["object"] as? String == "list")
        let plain = try GeminiEmbeddings.call(
            ByteBuffer(string: #"{"model":"gemini/e","input":"a"}"#), fields: ["model", "input"], model: "e")
        let floatsAnswer = try AnthropicTranslationTests.object(String(buffer: try plain.translation.answer(answer)))
        #expect(((floatsAnswer["data"] as? [NSDictionary])?.last?["embedding"] as? [Double]) == [1, 2, 3])
    }

    /// A value of the wrong type is the client's 400, as on chat completions (it was a 500).
    @Test func aValueOfTheWrongTypeIsAnInputError() {
        #expect(throws: InputError.self) {
            try GeminiEmbeddings.call(
                ByteBuffer(string: #"{"model":"gemini/e","input":"a","dimensions":"x"}"#), fields: ["model", "input", "dimensions"],
                model: "e")
        }
    }

    @Test func tokensAndUnknownFieldsAreRefused() {
        for body in [#"{"model":"gemini/e","input":[[1,2]]}"#, #"{"model":"gemini/e","input":"a","encoding_format":"int8"}"#] {
            #expect(throws: AppError.self) {
                try GeminiEmbeddings.call(ByteBuffer(string: body), fields: ["model", "input", "encoding_format"], model: "e")
            }
        }
        #expect(throws: AppError.self) {
            try GeminiEmbeddings.call(
                ByteBuffer(string: #"{"model":"gemini/e","input":"a","task":"x"}"#), fields: ["model", "input", "task"], model: "e")
        }
    }
}
