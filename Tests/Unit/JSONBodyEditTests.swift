import Foundation
import Generated
import NIOCore
import Testing

@testable import Handlers

/// The proxied body's one edit: the old body form (endpoint read, stripped fields removed) and a
/// body as sent (stream usage asked for). What is not edited keeps
/// its bytes, and a body that needs no edit is the very buffer that came in.
@Suite("JSON body edit")
struct JSONBodyEditTests {
    /// The old body form as the proxy takes it: the endpoint read by the route, the body edited
    /// when the upstream request is built.
    static func bodyForm(_ text: String, askStreamUsage: Bool = false) throws(JSONBodyEdit.Failure) -> (endpoint: String, body: String) {
        let buffer = ByteBuffer(string: text)
        let endpoint = try JSONBodyEdit.endpoint(in: buffer)
        return (endpoint, String(buffer: JSONBodyEdit.edit(buffer, strip: JSONBodyEdit.strippedFields, askStreamUsage: askStreamUsage)))
    }

    /// A body as sent, by a provider that wants stream usage.
    static func askingForStreamUsage(_ buffer: ByteBuffer) -> ByteBuffer {
        JSONBodyEdit.edit(buffer, strip: [], askStreamUsage: true)
    }

    static func usage(_ text: String) -> String {
        String(buffer: askingForStreamUsage(ByteBuffer(string: text)))
    }

    /// The JSON text with sorted keys and no spaces, to compare what objects say.
    static func canonical(_ text: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Whether both buffers are views of the same bytes in memory (no copy was made).
    static func sameBytes(_ one: ByteBuffer, _ other: ByteBuffer) -> Bool {
        one.withUnsafeReadableBytes { a in other.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress && a.count == b.count } }
    }

    @Test(arguments: [
        (#"{"endpoint":"/v1/chat","model":"m","n":1}"#, #"{"model":"m","n":1}"#),
        (#"{"model":"m","endpoint":"/v1/chat","n":1}"#, #"{"model":"m","n":1}"#),
        (#"{"model":"m","n":1,"endpoint":"/v1/chat"}"#, #"{"model":"m","n":1}"#),
        (#"{"apiKey":"k","model":"m","token":"t","n":1,"password":"p","endpoint":"/v1/chat"}"#, #"{"model":"m","n":1}"#),
        (#"{"token":"a","endpoint":"/old","token":"b","model":"m","endpoint":"/v1/chat","apiKey":{"x":[1]}}"#, #"{"model":"m"}"#),
        (#"{"endpoint":"/v1/chat","password":null,"apiKey":["k"],"token":1}"#, "{}"),
    ])
    func theBodyFormLosesTheStrippedFieldsWhereverTheyAre(body: String, expected: String) throws {
        let (endpoint, edited) = try Self.bodyForm(body)
        #expect(endpoint == "/v1/chat")
        #expect(try Self.canonical(edited) == Self.canonical(expected), "\(edited)")
    }

    @Test func escapesAreUndoneInTheEndpointAndInNames() throws {
        let escaped = try Self.bodyForm(#"{"endpoint":"\/v1\/chat\u002fcompletions\u0041\ud83d\ude00"}"#)
        #expect(escaped.endpoint == "/v1/chat/completionsA😀")
        #expect(try Self.bodyForm(#"{"endpoint":"\"\\\/\b\f\n\r\t"}"#).endpoint == "\"\\/\u{8}\u{C}\n\r\t")
        let names = try Self.bodyForm(#"{"\u0065ndpoint":"/v1/chat","model":"m","api\u004bey":"k","\u0074oken":"t","pass\/word":"p"}"#)
        #expect(names.endpoint == "/v1/chat")
        #expect(names.body == #"{"model":"m","pass\/word":"p"}"#)
    }

    @Test(arguments: [
        #"{"model":"m"}"#, "{}", #"{"endpoint":1}"#, #"{"endpoint":null}"#, #"{"endpoint":["/v1"]}"#, #"{"endpoint":{"path":"/v1"}}"#,
        #"{"endpoint":"/v1","endpoint":true}"#, #"{"options":{"endpoint":"/v1"}}"#,
    ])
    func anEndpointThatIsNotATopLevelStringIsMissing(body: String) {
        #expect(throws: JSONBodyEdit.Failure.endpointMissing) { try Self.bodyForm(body) }
    }

    @Test(arguments: [
        "", "   ", "null", #""{}""#, "[]", #"[{"endpoint":"/v1"}]"#,
        // Truncated.
        "{", #"{"endpoint":"/v1""#, #"{"endpoint":"/v1"#, #"{"endpoint":"/v1","a":[1,2"#, #"{"endpoint":"\u00"#,
        // Commas and colons.
        #"{"endpoint":"/v1",}"#, #"{"endpoint":"/v1","a":[1,]}"#, #"{"endpoint":"/v1","a":{"b":1,}}"#, #"{,"endpoint":"/v1"}"#,
        #"{"endpoint":"/v1",,"a":1}"#, #"{"endpoint" "/v1"}"#, #"{"endpoint":"/v1" "a":1}"#, #"{"a":[1 2],"endpoint":"/v1"}"#,
        // Strings.
        #"{"endpoint":"/v1\x"}"#, #"{"endpoint":"\u12G4"}"#, "{\"endpoint\":\"/v1\n\"}", "{\"endpoint\":\"/v1\u{1}\"}",
        #"{endpoint:"/v1"}"#, #"{'endpoint':"/v1"}"#,
        // Numbers and literals.
        #"{"endpoint":"/v1","a":01}"#, #"{"endpoint":"/v1","a":1.}"#, #"{"endpoint":"/v1","a":.5}"#, #"{"endpoint":"/v1","a":+1}"#,
        #"{"endpoint":"/v1","a":1e}"#, #"{"endpoint":"/v1","a":-}"#, #"{"endpoint":"/v1","a":tru}"#, #"{"endpoint":"/v1","a":nulls}"#,
        #"{"endpoint":"/v1","a":NaN}"#,
        // Something after the object.
        #"{"endpoint":"/v1"}x"#, #"{"endpoint":"/v1"} {}"#, #"{"endpoint":"/v1"}}"#, #"{"endpoint":"/v1","a":[[]]]}"#,
        // Too deep: 601 levels with the body's own object.
        #"{"endpoint":"/v1","a":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
    ])
    func onlyOneWellFormedObjectIsABody(body: String) {
        #expect(throws: JSONBodyEdit.Failure.notAnObject) { try Self.bodyForm(body) }
        // Forwarded as sent for the provider to judge (with the word `"stream"` in it, so that the
        // quick look for the word does not decide; it ends without a brace, so it stays malformed).
        let buffer = ByteBuffer(string: body + #" "stream":true"#)
        #expect(Self.sameBytes(Self.askingForStreamUsage(buffer), buffer))
    }

    @Test func nestingIsRefusedPastFiveHundredAndTwelveLevels() throws {
        func nested(_ levels: Int) -> String {
            #"{"endpoint":"/v1","a":"# + String(repeating: "[", count: levels - 1) + String(repeating: "]", count: levels - 1) + "}"
        }
        #expect(try Self.bodyForm(nested(512)).endpoint == "/v1")
        #expect(throws: JSONBodyEdit.Failure.notAnObject) { try Self.bodyForm(nested(513)) }
        #expect(throws: JSONBodyEdit.Failure.notAnObject) { try Self.bodyForm(nested(200_000)) }
    }

    @Test func aStreamWithoutStreamOptionsGetsThem() throws {
        #expect(
            Self.usage(#"{"model":"m","stream":true,"n":1}"#)
                == #"{"model":"m","stream":true,"n":1,"stream_options":{"include_usage":true}}"#)
        let edited = try Self.bodyForm(#"{"stream":true,"endpoint":"/v1/chat"}"#, askStreamUsage: true).body
        #expect(edited == #"{"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(try Self.bodyForm(#"{"stream":true,"endpoint":"/v1/chat"}"#, askStreamUsage: false).body == #"{"stream":true}"#)
    }

    @Test func anExistingStreamOptionsObjectGetsIncludeUsage() throws {
        #expect(Self.usage(#"{"stream":true,"stream_options":{}}"#) == #"{"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(Self.usage(#"{"stream":true,"stream_options":{ }}"#) == #"{"stream":true,"stream_options":{"include_usage":true }}"#)
        #expect(
            Self.usage(#"{"stream_options": { "chunk" : 1 },"stream":true}"#)
                == #"{"stream_options": {"include_usage":true, "chunk" : 1 },"stream":true}"#)
        // A deeper include_usage is not the one asked about.
        #expect(
            Self.usage(#"{"stream":true,"stream_options":{"x":{"include_usage":false}}}"#)
                == #"{"stream":true,"stream_options":{"include_usage":true,"x":{"include_usage":false}}}"#)
        let edited = try Self.bodyForm(#"{"endpoint":"/v1","stream":true,"stream_options":{"x":1},"token":"t"}"#, askStreamUsage: true).body
        #expect(try Self.canonical(edited) == Self.canonical(#"{"stream":true,"stream_options":{"include_usage":true,"x":1}}"#))
    }

    @Test(arguments: [
        #"{"stream":true,"stream_options":{"include_usage":true}}"#, #"{"stream":true,"stream_options":{"include_usage":false}}"#,
        #"{"stream":true,"stream_options":{"include_\u0075sage":null}}"#, #"{"stream":true,"stream_options":null}"#,
        #"{"stream":true,"stream_options":5}"#, #"{"stream":false}"#, #"{"model":"m"}"#, #"{"stream":"true"}"#, #"{"stream":1}"#,
        #"{"stream":true,"stream":false}"#, #"{"options":{"stream":true},"model":"m"}"#, #"{"messages":[{"stream":true}]}"#,
        #"{"model":"stream","stream":false}"#,
    ])
    func otherBodiesAreTheBufferThatCameIn(body: String) {
        let buffer = ByteBuffer(string: body)
        let edited = Self.askingForStreamUsage(buffer)
        #expect(edited == buffer)
        #expect(Self.sameBytes(edited, buffer))
    }

    @Test func whatIsNotEditedKeepsItsBytes() throws {
        let body =
            "\n\t{ \"b\" : 1.50E+3 ,\"endpoint\":\"/v1\", \"a\":[ -0 , {\"c\":\"\\u00e9\\n\"} ],\"token\" : \"t\" ,"
            + " \"stream\" : true\r\n}  "
        let kept = "\n\t{ \"b\" : 1.50E+3 , \"a\":[ -0 , {\"c\":\"\\u00e9\\n\"} ], \"stream\" : true"
        #expect(try Self.bodyForm(body, askStreamUsage: true).body == kept + #","stream_options":{"include_usage":true}"# + "\r\n}  ")
        #expect(try Self.bodyForm(#"  { "endpoint" : "/v1" }  "#).body == "  {}  ")
        #expect(
            Self.usage(#" {"z":"é","stream":true}"# + "\n") == #" {"z":"é","stream":true,"stream_options":{"include_usage":true}}"# + "\n")
    }
}

@Suite("The gateway's body edit: the model renamed, nothing else touched")
struct GatewayBodyEditTests {
    static func edit(_ body: String, model: String, streamUsage: Bool = true) -> String {
        let buffer = ByteBuffer(string: body)
        let object = buffer.withUnsafeReadableBytes { JSONScan.Object($0) }!
        return String(buffer: JSONBodyEdit.renaming(buffer, object, model: model, askStreamUsage: streamUsage))
    }

    @Test func everyTopLevelModelIsRenamedAndTheRestKeepsItsBytes() {
        #expect(
            Self.edit(#"{ "model" : "groq/llama", "messages":[{"model":"inner"}],  "n":1.50 }"#, model: "llama")
                == #"{ "model" : "llama", "messages":[{"model":"inner"}],  "n":1.50 }"#)
        #expect(Self.edit(#"{"model":"a/b","x":1,"model":"a/c"}"#, model: "c") == #"{"model":"c","x":1,"model":"c"}"#)
        // A name with quotes or control characters is written as a JSON string.
        #expect(Self.edit(#"{"model":"a/b"}"#, model: "q\"\\\n") == #"{"model":"q\"\\\n"}"#)
    }

    @Test func aStreamAsksForUsageBesideTheRename() {
        #expect(
            Self.edit(#"{"stream":true,"model":"testai/gpt-4o-mini"}"#, model: "gpt-4o-mini")
                == #"{"stream":true,"model":"gpt-4o-mini","stream_options":{"include_usage":true}}"#)
        #expect(
            Self.edit(#"{"model":"p/m","stream":true,"stream_options":{}}"#, model: "m")
                == #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#)
    }

    @Test func theModelRouteReadsProviderAndModel() throws {
        let route = try ModelRoute(
            body: ByteBuffer(string: #"{"model":"openrouter/meta-llama/llama-3","messages":[]}"#), for: .chatCompletions)
        #expect(ModelRoute.split(route.name)! == ("openrouter", "meta-llama/llama-3"))
        // Anything else is an alias's name, looked up in the providers file.
        for name in ["gpt-4o", "/gpt-4o", "groq/", ""] { #expect(ModelRoute.split(name) == nil) }
        for bad in [#"{"model":7,"messages":[]}"#, #"{"model":"a/b","messages":{}}"#, #"["model"]"#, "not json"] {
            #expect(throws: InputError.self) { try ModelRoute(body: ByteBuffer(string: bad), for: .chatCompletions) }
        }
    }
}
