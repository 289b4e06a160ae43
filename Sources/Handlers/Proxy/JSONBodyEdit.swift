import NIOCore

/// The one edit of a proxied JSON body, in one pass over its bytes: no decoding into Foundation
/// objects and no re-encoding, so what it does not touch (key order, spacing, how numbers and
/// strings are spelled) goes upstream as the client sent it. It takes the old body form
/// `{"endpoint": …, …}` apart (the endpoint read, the fields that product stripped removed) and asks
/// an OpenAI-style stream for its usage (`stream_options.include_usage: true`, unless the request
/// says anything about it). A body that needs no edit is returned as the same buffer.
enum JSONBodyEdit {
    /// Fields the old product stripped from its body form; they never go upstream.
    static let strippedFields: Set<String> = ["endpoint", "apiKey", "token", "password"]

    enum Failure: Error, Equatable {
        /// The body is not one well-formed JSON object.
        case notAnObject
        /// The old body form without an `endpoint` string.
        case endpointMissing
    }

    /// The old body form's endpoint: the last top-level `endpoint` (duplicates are read as
    /// JavaScript's JSON.parse reads them), which must be a string. The body itself is edited when
    /// the upstream request is built (`edit`).
    static func endpoint(in body: ByteBuffer) throws(Failure) -> String {
        try body.withUnsafeReadableBytes { bytes in
            JSONScan.Object(bytes).map { endpoint(of: $0, in: bytes) } ?? .failure(.notAnObject)
        }.get()
    }

    /// `body` without the top-level members named in `strip`, asking for stream usage when
    /// `askStreamUsage` and the body streams; the same buffer when nothing changes or when the body
    /// is not a JSON object. A body without the bytes `"stream"` is not scanned for streaming (a name
    /// spelled with escapes is missed, which a client can have anyway by sending `include_usage`).
    static func edit(_ body: ByteBuffer, strip: Set<String>, askStreamUsage: Bool) -> ByteBuffer {
        body.withUnsafeReadableBytes { bytes in
            let mayStream = askStreamUsage && Bytes.firstIndex(of: streamName, in: bytes) != nil
            guard !strip.isEmpty || mayStream, let object = JSONScan.Object(bytes) else { return body }
            return edited(body, bytes, object, strip: strip, askStreamUsage: mayStream)
        }
    }

    /// `body`, already scanned as `object`, with every top-level `model` set to `model` (the
    /// gateway's `provider/model` becomes the provider's own name), and the stream's usage asked
    /// for when `askStreamUsage` and the body streams.
    static func renaming(_ body: ByteBuffer, _ object: JSONScan.Object, model: String, askStreamUsage: Bool) -> ByteBuffer {
        body.withUnsafeReadableBytes { bytes in
            let mayStream = askStreamUsage && Bytes.firstIndex(of: streamName, in: bytes) != nil
            return edited(body, bytes, object, strip: [], askStreamUsage: mayStream, model: model)
        }
    }

    static let streamName = Array(#""stream""#.utf8)

    static func endpoint(of object: JSONScan.Object, in bytes: UnsafeRawBufferPointer) -> Result<String, Failure> {
        guard let member = object.members.last(where: { $0.name == "endpoint" }), bytes[member.value.lowerBound] == UInt8(ascii: "\"")
        else {
            return .failure(.endpointMissing)
        }
        return .success(JSONScan.Object.string(bytes, member.value))
    }

    /// `body` without the top-level members named in `strip`, asking for stream usage when
    /// `askStreamUsage`; `body` itself when nothing changes. The new body is the opening brace, the
    /// kept members joined by commas (each with the spaces around it) and what follows the closing
    /// brace, with the `model` values replaced (the gateway's `provider/model` becomes the
    /// provider's own name) and at most one insertion: into `stream_options`, or a new member after
    /// the last.
    static func edited(
        _ body: ByteBuffer, _ bytes: UnsafeRawBufferPointer, _ object: JSONScan.Object, strip: Set<String>, askStreamUsage: Bool,
        model: String? = nil
    ) -> ByteBuffer {
        let kept = object.members.filter { !strip.contains($0.name) }
        // Each edit replaces a range of one member's bytes (an insertion replaces an empty one).
        var edits: [(range: Range<Int>, text: String)] = []
        if let model {
            let quoted = JSONText.quoted(model)
            for member in kept where member.name == "model" { edits.append((member.value, quoted)) }
        }
        var insertion: (at: Int, text: String)?
        if askStreamUsage, let stream = kept.last(where: { $0.name == "stream" }), bytes[stream.value].elementsEqual("true".utf8) {
            if let options = kept.last(where: { $0.name == "stream_options" }) {
                // Not an object (null, a number…): left for the provider to judge.
                if let inner = JSONScan.Object(bytes, options.value), !inner.members.contains(where: { $0.name == "include_usage" }) {
                    insertion = (inner.open + 1, inner.members.isEmpty ? #""include_usage":true"# : #""include_usage":true,"#)
                }
            } else {
                insertion = ((kept.last ?? stream).value.upperBound, #","stream_options":{"include_usage":true}"#)
            }
        }
        if let insertion { edits.append((insertion.at..<insertion.at, insertion.text)) }
        guard kept.count < object.members.count || !edits.isEmpty else { return body }
        edits.sort { $0.range.lowerBound < $1.range.lowerBound }
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + 48)
        func write(_ range: Range<Int>) { out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range])) }
        write(0..<object.open + 1)
        for (index, member) in kept.enumerated() {
            if index > 0 { out.writeInteger(UInt8(ascii: ",")) }
            var at = member.whole.lowerBound
            for edit in edits where (member.whole.lowerBound...member.whole.upperBound).contains(edit.range.lowerBound) {
                write(at..<edit.range.lowerBound)
                out.writeString(edit.text)
                at = edit.range.upperBound
            }
            write(at..<member.whole.upperBound)
        }
        write(object.close..<bytes.count)
        return out
    }
}
