import NIOCore
import Synchronization

/// An operation of OpenAI's API translated into another provider's: the call in the provider's
/// terms, and the translation of its answer back. One conforming type per API and operation
/// (`AnthropicMessages`, `GeminiContent`, `GeminiEmbeddings`); the proxy's stages do the rest
/// unchanged.
protocol GatewayTranslation {
    /// The call for the OpenAI request in `body` (its top-level `fields` already scanned), asking
    /// the provider for `model`.
    static func call(_ body: ByteBuffer, fields: [String], model: String) throws -> TranslatedCall
}

/// What a translation changes in a proxied call.
struct TranslatedCall {
    var endpoint: String
    var query: [(name: String, value: String)] = []
    var body: ByteBuffer
    var translation: any AnswerTranslation
}

/// One provider API's stream events, turned into OpenAI's chunks one event at a time, with what the
/// translation has seen so far.
protocol StreamEvents: Sendable {
    /// The chunks for one event's `data`.
    mutating func translate(_ data: [UInt8], into out: inout String)
    /// What the client gets when the provider's stream has ended.
    mutating func end(into out: inout String)
}

/// The frame of every stream translation: the provider's events read from its chunks as they come
/// (`EventStreamReader`), each handed to the API's `StreamEvents`. One task feeds it at a time; the
/// lock only makes that safe to say.
final class EventStreamTranslation<Events: StreamEvents>: StreamTranslator {
    private struct Frame {
        var reader = EventStreamReader()
        var events: Events
    }

    private let frame: Mutex<Frame>

    init(_ events: Events) {
        frame = Mutex(Frame(events: events))
    }

    func feed(_ chunk: ByteBuffer) -> ByteBuffer {
        frame.withLock { frame in
            var out = ""
            for event in frame.reader.feed(chunk) { frame.events.translate(event.data, into: &out) }
            return ByteBuffer(string: out)
        }
    }

    func finish() -> ByteBuffer {
        frame.withLock { frame in
            var out = ""
            if let event = frame.reader.finish() { frame.events.translate(event.data, into: &out) }
            frame.events.end(into: &out)
            return ByteBuffer(string: out)
        }
    }
}
