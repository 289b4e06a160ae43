import Foundation
import NIOCore
import Testing

@testable import Handlers

/// The one edit of a proxied body: old-form fields out, stream usage asked for, in one pass, with
/// every byte it does not need to touch left as the client sent it.
@Suite("Body edit: one pass over the bytes")
struct BodyEditTests {
    static func edit(_ text: String, strip: Set<String> = JSONBodyEdit.strippedFields, usage: Bool = false) -> String {
        String(buffer: JSONBodyEdit.edit(ByteBuffer(string: text), strip: strip, askStreamUsage: usage))
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(arguments: [
        #"{"endpoint":"/v1/chat","model":"m"}"#,
        #"{"model":"m","endpoint":"/v1/chat"}"#,
        #"{"apiKey":"k","model":"m","token":"t","password":"p","endpoint":"/v1/chat"}"#,
        #"{ "endpoint" : "/a" , "model" : "m" , "endpoint" : "/v1/chat" }"#,
        #"{"\u0065ndpoint":"/v1/chat","model":"m","api\u004bey":"k"}"#,
    ])
    func theOldFieldsComeOutWhereverTheyAre(body: String) throws {
        let edited = Self.edit(body)
        #expect(Set(try Self.object(edited).keys) == ["model"], "\(edited)")
        #expect(try JSONBodyEdit.endpoint(in: ByteBuffer(string: body)) == "/v1/chat")
    }

    @Test func whatIsKeptKeepsItsBytes() {
        #expect(
            Self.edit(#"  { "a" : 1.50e3,"endpoint":"/x",  "b":[ 1 , {"c":"\u00e9"} ] }  "#)
                == #"  { "a" : 1.50e3,  "b":[ 1 , {"c":"\u00e9"} ] }  "#)
        #expect(Self.edit(#"{"endpoint":"/x"}"#) == "{}")
        #expect(Self.edit(#"{"endpoint":"/x","token":"t"}"#) == "{}")
    }

    @Test func theEndpointIsUnescapedAndMustBeAString() throws {
        #expect(try JSONBodyEdit.endpoint(in: ByteBuffer(string: #"{"endpoint":"\/v1\/chat\u002Fcompletions"}"#)) == "/v1/chat/completions")
        for body in [#"{"model":"m"}"#, #"{"endpoint":1}"#, #"{"endpoint":null}"#, #"{"endpoint":["/v1"]}"#, "{}"] {
            #expect(throws: JSONBodyEdit.Failure.endpointMissing) { try JSONBodyEdit.endpoint(in: ByteBuffer(string: body)) }
        }
    }

    @Test(arguments: [
        "", " ", "[]", #"[{"endpoint":"/x"}]"#, #""{}""#, "null", #"{"endpoint":"/x""#, #"{"endpoint":"/x",}"#, #"{"a":1,,"b":2}"#,
        #"{"a" 1}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":-}"#, #"{"a":tru}"#, #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"line\nbreak\"}",
        #"{"a":1} {}"#, #"{"a":1}x"#, #"{a:1}"#, #"{"a":[1,]}"#, #"{"a":{"b":}}"#,
        "{\"a\":" + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
    ])
    func onlyOneWellFormedObjectIsAnObject(body: String) {
        #expect(throws: JSONBodyEdit.Failure.notAnObject) { try JSONBodyEdit.endpoint(in: ByteBuffer(string: body)) }
        // Not an object: forwarded as it is, for the provider to judge.
        #expect(Self.edit(body, usage: true) == body)
    }

    @Test func deepButBoundedNestingIsAnObject() throws {
        let body = #"{"endpoint":"/x","a":"# + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "}"
        #expect(try JSONBodyEdit.endpoint(in: ByteBuffer(string: body)) == "/x")
    }

    @Test func aStreamAsksForUsage() throws {
        #expect(
            Self.edit(#"{"stream":true,"model":"m"}"#, strip: [], usage: true)
                == #"{"stream":true,"model":"m","stream_options":{"include_usage":true}}"#)
        #expect(
            Self.edit(#"{"stream": true, "stream_options": {}}"#, strip: [], usage: true)
                == #"{"stream": true, "stream_options": {"include_usage":true}}"#)
        #expect(
            Self.edit(#"{"stream":true,"stream_options":{ "x":1 }}"#, strip: [], usage: true)
                == #"{"stream":true,"stream_options":{"include_usage":true, "x":1 }}"#
        )
        let both = Self.edit(#"{"endpoint":"/v1/chat","stream":true}"#, usage: true)
        #expect(both == #"{"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(try Self.object(both)["stream"] as? Bool == true)
    }

    @Test(arguments: [
        #"{"stream":false}"#, #"{"model":"m"}"#, #"{"stream":"true"}"#, #"{"stream":true,"stream_options":{"include_usage":false}}"#,
        #"{"stream":true,"stream_options":{"include_usage":true}}"#, #"{"stream":true,"stream_options":null}"#,
        #"{"options":{"stream":true}}"#, #"{"stream" : true , "stream_options" : { "include_usage" : false } }"#,
    ])
    func otherBodiesAreLeftAsTheyAre(body: String) {
        let buffer = ByteBuffer(string: body)
        #expect(JSONBodyEdit.edit(buffer, strip: [], askStreamUsage: true) == buffer)
    }

    @Test func withoutTheProvidersWishAStreamIsLeftAlone() {
        let body = #"{"stream":true}"#
        #expect(Self.edit(body, strip: [], usage: false) == body)
    }
}
