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
            Object(bytes).map { endpoint(of: $0, in: bytes) } ?? .failure(.notAnObject)
        }.get()
    }

    /// `body` without the top-level members named in `strip`, asking for stream usage when
    /// `askStreamUsage` and the body streams; the same buffer when nothing changes or when the body
    /// is not a JSON object. A body without the bytes `"stream"` is not scanned for streaming (a name
    /// spelled with escapes is missed, which a client can have anyway by sending `include_usage`).
    static func edit(_ body: ByteBuffer, strip: Set<String>, askStreamUsage: Bool) -> ByteBuffer {
        body.withUnsafeReadableBytes { bytes in
            let mayStream = askStreamUsage && Bytes.firstIndex(of: streamName, in: bytes) != nil
            guard !strip.isEmpty || mayStream, let object = Object(bytes) else { return body }
            return edited(body, bytes, object, strip: strip, askStreamUsage: mayStream)
        }
    }

    static let streamName = Array(#""stream""#.utf8)

    static func endpoint(of object: Object, in bytes: UnsafeRawBufferPointer) -> Result<String, Failure> {
        guard let member = object.members.last(where: { $0.name == "endpoint" }), bytes[member.value.lowerBound] == UInt8(ascii: "\"")
        else {
            return .failure(.endpointMissing)
        }
        return .success(Object.string(bytes, member.value))
    }

    /// `body` without the top-level members named in `strip`, asking for stream usage when
    /// `askStreamUsage`; `body` itself when nothing changes. The new body is the opening brace, the
    /// kept members joined by commas (each with the spaces around it) and what follows the closing
    /// brace, with at most one insertion: into `stream_options`, or a new member after the last.
    static func edited(_ body: ByteBuffer, _ bytes: UnsafeRawBufferPointer, _ object: Object, strip: Set<String>, askStreamUsage: Bool)
        -> ByteBuffer
    {
        let kept = object.members.filter { !strip.contains($0.name) }
        var insertion: (at: Int, text: String)?
        if askStreamUsage, let stream = kept.last(where: { $0.name == "stream" }), bytes[stream.value].elementsEqual("true".utf8) {
            if let options = kept.last(where: { $0.name == "stream_options" }) {
                // Not an object (null, a number…): left for the provider to judge.
                if let inner = Object(bytes, options.value), !inner.members.contains(where: { $0.name == "include_usage" }) {
                    insertion = (inner.open + 1, inner.members.isEmpty ? #""include_usage":true"# : #""include_usage":true,"#)
                }
            } else {
                insertion = ((kept.last ?? stream).value.upperBound, #","stream_options":{"include_usage":true}"#)
            }
        }
        guard kept.count < object.members.count || insertion != nil else { return body }
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + 48)
        func write(_ range: Range<Int>) { out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range])) }
        write(0..<object.open + 1)
        for (index, member) in kept.enumerated() {
            if index > 0 { out.writeInteger(UInt8(ascii: ",")) }
            if let insertion, (member.whole.lowerBound...member.whole.upperBound).contains(insertion.at) {
                write(member.whole.lowerBound..<insertion.at)
                out.writeString(insertion.text)
                write(insertion.at..<member.whole.upperBound)
            } else {
                write(member.whole)
            }
        }
        write(object.close..<bytes.count)
        return out
    }

    /// A JSON object found by one validating pass over its bytes (RFC 8259, UTF-8 not checked;
    /// nesting deeper than `maximumDepth` is refused): where its braces are and its members.
    struct Object {
        struct Member {
            /// The name, its escapes undone.
            var name: String
            /// From just after the `{` or `,` before it to the `,` or `}` after it: with its spaces.
            var whole: Range<Int>
            var value: Range<Int>
        }

        static let maximumDepth = 512
        var open = 0
        var close = 0
        var members: [Member] = []

        /// Nil unless `bytes[range]` (all of them by default) is one object, whitespace around it.
        init?(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>? = nil) {
            var reader = Reader(bytes: bytes, index: range?.lowerBound ?? 0, end: range?.upperBound ?? bytes.count)
            reader.skipSpace()
            open = reader.index
            guard reader.take(UInt8(ascii: "{")) else { return nil }
            reader.skipSpace()
            if !reader.take(UInt8(ascii: "}")) {
                repeat {
                    let start = members.isEmpty ? open + 1 : reader.index
                    guard let name = reader.skipName() else { return nil }
                    reader.skipSpace()
                    let valueStart = reader.index
                    guard reader.skipValue(depth: 1) else { return nil }
                    let value = valueStart..<reader.index
                    reader.skipSpace()
                    members.append(Member(name: Self.string(bytes, name), whole: start..<reader.index, value: value))
                } while reader.take(UInt8(ascii: ","))
                guard reader.take(UInt8(ascii: "}")) else { return nil }
            }
            close = reader.index - 1
            reader.skipSpace()
            guard reader.index == reader.end else { return nil }
        }

        /// The text of a string token (quotes included) already checked by `Reader.skipString`, its
        /// escapes undone. A surrogate pair spells one scalar; a lone surrogate becomes U+FFFD.
        static func string(_ bytes: UnsafeRawBufferPointer, _ token: Range<Int>) -> String {
            let inner = UnsafeRawBufferPointer(rebasing: bytes[token.lowerBound + 1..<token.upperBound - 1])
            guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
            func hex(_ at: Int) -> UInt32 { inner[at..<at + 4].reduce(0) { $0 << 4 | (Reader.hexValue($1) ?? 0) } }
            var utf8: [UInt8] = []
            var index = 0
            while index < inner.count {
                let byte = inner[index]
                index += 1
                guard byte == UInt8(ascii: "\\") else {
                    utf8.append(byte)
                    continue
                }
                let escaped = inner[index]
                index += 1
                guard escaped == UInt8(ascii: "u") else {
                    utf8.append(Self.escapes[escaped] ?? escaped)  // \" \\ \/ stand for themselves
                    continue
                }
                var code = hex(index)
                index += 4
                if (0xD800..<0xDC00).contains(code), index + 6 <= inner.count, inner[index] == UInt8(ascii: "\\"),
                    inner[index + 1] == UInt8(ascii: "u"), case let low = hex(index + 2), (0xDC00..<0xE000).contains(low)
                {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                UTF8.encode(Unicode.Scalar(code) ?? "\u{FFFD}") { utf8.append($0) }
            }
            return String(decoding: utf8, as: UTF8.self)
        }

        static let escapes: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
        ]
    }

    /// A cursor over `bytes[..<end]` that skips whole JSON values, checking them as it goes.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index: Int
        let end: Int

        var peek: UInt8? { index < end ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        /// One value inside `depth` levels of nesting. Iterative, with the closing brackets of the
        /// containers it is inside on a stack: a deep body cannot exhaust the thread's stack.
        mutating func skipValue(depth: Int) -> Bool {
            var closers: [UInt8] = []
            while true {
                skipSpace()
                guard let byte = peek else { return false }
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard depth + closers.count < Object.maximumDepth else { return false }
                    let closer = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    index += 1
                    skipSpace()
                    if take(closer) { break }
                    closers.append(closer)
                    guard closer == UInt8(ascii: "]") || skipName() != nil else { return false }
                    continue
                case UInt8(ascii: "\""): guard skipString() else { return false }
                case UInt8(ascii: "t"): guard skipLiteral("true") else { return false }
                case UInt8(ascii: "f"): guard skipLiteral("false") else { return false }
                case UInt8(ascii: "n"): guard skipLiteral("null") else { return false }
                default: guard skipNumber() else { return false }
                }
                // A value has ended: close the containers it ends, or go on to the next element.
                while let closer = closers.last {
                    skipSpace()
                    if take(UInt8(ascii: ",")) {
                        guard closer == UInt8(ascii: "]") || skipName() != nil else { return false }
                        break
                    }
                    guard take(closer) else { return false }
                    closers.removeLast()
                }
                if closers.isEmpty { return true }
            }
        }

        /// A member's name and its colon; the name's token.
        mutating func skipName() -> Range<Int>? {
            skipSpace()
            let start = index
            guard skipString() else { return nil }
            let name = start..<index
            skipSpace()
            return take(UInt8(ascii: ":")) ? name : nil
        }

        mutating func skipString() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            while let byte = peek {
                index += 1
                if byte == UInt8(ascii: "\"") { return true }
                if byte < 0x20 { return false }
                guard byte == UInt8(ascii: "\\") else { continue }
                guard let escaped = peek else { return false }
                index += 1
                if escaped == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let digit = peek, Self.hexValue(digit) != nil else { return false }
                        index += 1
                    }
                } else if !#""\/bfnrt"#.utf8.contains(escaped) {
                    return false
                }
            }
            return false
        }

        mutating func skipLiteral(_ word: String) -> Bool {
            guard bytes[index..<min(index + word.utf8.count, end)].elementsEqual(word.utf8) else { return false }
            index += word.utf8.count
            return true
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func skipNumber() -> Bool {
            _ = take(UInt8(ascii: "-"))
            guard take(UInt8(ascii: "0")) || skipDigits() else { return false }
            if take(UInt8(ascii: ".")) {
                guard skipDigits() else { return false }
            }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
                guard skipDigits() else { return false }
            }
            return true
        }

        /// One or more digits; false if there is none.
        mutating func skipDigits() -> Bool {
            let start = index
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index > start
        }

        static func hexValue(_ byte: UInt8) -> UInt32? {
            byte < 0x80 ? Character(Unicode.Scalar(byte)).hexDigitValue.map(UInt32.init) : nil
        }
    }
}
