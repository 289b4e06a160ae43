import NIOCore

/// The one edit of a proxied JSON body, in one pass over its bytes: no decoding into Foundation
/// objects and no re-encoding, so what it does not touch (key order, spacing, how numbers are
/// spelled) goes upstream as the client sent it. It removes top-level members (the old body
/// form's `endpoint` and the fields that product stripped) and asks an OpenAI-style stream for its
/// usage (`stream_options.include_usage: true`, unless the request says anything about it).
enum JSONBodyEdit {
    /// Fields the old product stripped from its body form; they never go upstream.
    static let strippedFields: Set<String> = ["endpoint", "apiKey", "token", "password"]

    enum Failure: Error, Equatable {
        /// The body is not one well-formed JSON object.
        case notAnObject
        /// The old body form without an `endpoint` string.
        case endpointMissing
    }

    /// The old body form's endpoint: the last top-level `endpoint` member (duplicates are read as
    /// JavaScript's JSON.parse reads them), which must be a string.
    static func endpoint(in body: ByteBuffer) throws(Failure) -> String {
        let bytes = Array(body.readableBytesView)
        guard let object = JSONObjectScan(bytes) else { throw .notAnObject }
        guard let member = object.members.last(where: { $0.name == "endpoint" }), let value = JSONObjectScan.string(bytes[member.value])
        else {
            throw .endpointMissing
        }
        return value
    }

    /// `body` without the top-level members named in `strip`, asking for stream usage when
    /// `askStreamUsage` and the body streams. The same buffer when there is nothing to change, or
    /// when the body is not a JSON object (the provider judges that).
    static func edit(_ body: ByteBuffer, strip: Set<String>, askStreamUsage: Bool) -> ByteBuffer {
        let mayStream = askStreamUsage && body.withUnsafeReadableBytes { Bytes.firstIndex(of: streamKey, in: $0) != nil }
        guard !strip.isEmpty || mayStream else { return body }
        let bytes = Array(body.readableBytesView)
        guard let object = JSONObjectScan(bytes) else { return body }
        let kept = object.members.filter { !strip.contains($0.name) }
        var addition = ""
        var optionsInsert: (member: Int, at: Int, text: String)?
        if mayStream, let stream = kept.last(where: { $0.name == "stream" }), bytes[stream.value].elementsEqual("true".utf8) {
            if let index = kept.lastIndex(where: { $0.name == "stream_options" }) {
                let value = kept[index].value
                if let options = JSONObjectScan(Array(bytes[value])), !options.members.contains(where: { $0.name == "include_usage" }) {
                    let text = options.members.isEmpty ? #""include_usage":true"# : #""include_usage":true,"#
                    optionsInsert = (index, value.lowerBound + options.open + 1, text)
                }
            } else {
                addition = (kept.isEmpty ? "" : ",") + #""stream_options":{"include_usage":true}"#
            }
        }
        guard kept.count < object.members.count || !addition.isEmpty || optionsInsert != nil else { return body }
        // The opening brace, the kept members (each with the space before it) joined by commas,
        // the addition, and what followed the last member (its space, the closing brace).
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + addition.utf8.count + 24)
        out.writeBytes(bytes[...object.open])
        for (index, member) in kept.enumerated() {
            if index > 0 { out.writeInteger(UInt8(ascii: ",")) }
            if let insert = optionsInsert, insert.member == index {
                out.writeBytes(bytes[member.whole.lowerBound..<insert.at])
                out.writeString(insert.text)
                out.writeBytes(bytes[insert.at..<member.whole.upperBound])
            } else {
                out.writeBytes(bytes[member.whole])
            }
        }
        out.writeString(addition)
        out.writeBytes(bytes[(object.members.last?.whole.upperBound ?? object.open + 1)...])
        return out
    }

    static let streamKey = Array("\"stream\"".utf8)
}

/// The top-level members of a JSON object, found by one validating pass over its bytes (RFC 8259;
/// nesting deeper than 512 levels is refused). Nil when the bytes are not one well-formed object.
struct JSONObjectScan {
    struct Member {
        /// The member's name, unescaped.
        var name: String
        /// From just after the `{` or `,` before it (so with its leading space) to the end of its value.
        var whole: Range<Int>
        var value: Range<Int>
    }

    /// Where the object's `{` is.
    let open: Int
    let members: [Member]

    static let maximumDepth = 512

    init?(_ bytes: [UInt8]) {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        guard reader.peek == UInt8(ascii: "{") else { return nil }
        let open = reader.index
        reader.index += 1
        var members: [Member] = []
        reader.skipSpace()
        if reader.peek == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            var start = open + 1
            while true {
                reader.skipSpace()
                let nameStart = reader.index
                guard reader.skipString() else { return nil }
                guard let name = Self.string(bytes[nameStart..<reader.index]) else { return nil }
                reader.skipSpace()
                guard reader.take(UInt8(ascii: ":")) else { return nil }
                reader.skipSpace()
                let valueStart = reader.index
                guard reader.skipValue(depth: 1) else { return nil }
                members.append(Member(name: name, whole: start..<reader.index, value: valueStart..<reader.index))
                reader.skipSpace()
                if reader.take(UInt8(ascii: ",")) {
                    start = reader.index
                    continue
                }
                guard reader.take(UInt8(ascii: "}")) else { return nil }
                break
            }
        }
        reader.skipSpace()
        guard reader.index == bytes.count else { return nil }
        self.open = open
        self.members = members
    }

    /// The text of a JSON string token (quotes included), its escapes undone; nil if malformed.
    static func string(_ token: ArraySlice<UInt8>) -> String? {
        guard token.count >= 2, token.first == UInt8(ascii: "\""), token.last == UInt8(ascii: "\"") else { return nil }
        let inner = token.dropFirst().dropLast()
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var index = inner.startIndex
        func flush() {
            scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            utf8.removeAll()
        }
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= inner.endIndex else { return nil }
            return UInt32(String(decoding: inner[at..<at + 4], as: UTF8.self), radix: 16)
        }
        while index < inner.endIndex {
            let byte = inner[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            guard index + 1 < inner.endIndex else { return nil }
            let escaped = inner[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4(index) else { return nil }
                index += 4
                // A surrogate pair spells one scalar; a lone surrogate becomes U+FFFD.
                if (0xD800..<0xDC00).contains(code), inner[index...].starts(with: "\\u".utf8), let low = hex4(index + 2),
                    (0xDC00..<0xE000).contains(low)
                {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                flush()
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: return nil
            }
        }
        flush()
        return String(scalars)
    }

    /// A cursor over the bytes that skips whole JSON values, checking them as it goes.
    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        mutating func skipValue(depth: Int) -> Bool {
            guard depth <= JSONObjectScan.maximumDepth, let byte = peek else { return false }
            switch byte {
            case UInt8(ascii: "\""): return skipString()
            case UInt8(ascii: "{"): return skipContainer(close: UInt8(ascii: "}"), depth: depth, keyed: true)
            case UInt8(ascii: "["): return skipContainer(close: UInt8(ascii: "]"), depth: depth, keyed: false)
            case UInt8(ascii: "t"): return skipLiteral("true")
            case UInt8(ascii: "f"): return skipLiteral("false")
            case UInt8(ascii: "n"): return skipLiteral("null")
            default: return skipNumber()
            }
        }

        mutating func skipContainer(close: UInt8, depth: Int, keyed: Bool) -> Bool {
            index += 1
            skipSpace()
            if take(close) { return true }
            while true {
                skipSpace()
                if keyed {
                    guard skipString() else { return false }
                    skipSpace()
                    guard take(UInt8(ascii: ":")) else { return false }
                    skipSpace()
                }
                guard skipValue(depth: depth + 1) else { return false }
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                return take(close)
            }
        }

        mutating func skipString() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return true
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { return false }
                    index += 1
                    if escaped == UInt8(ascii: "u") {
                        for _ in 0..<4 {
                            guard let digit = peek, Self.isHex(digit) else { return false }
                            index += 1
                        }
                    } else if !"\"\\/bfnrt".utf8.contains(escaped) {
                        return false
                    }
                case ..<0x20:
                    return false
                default:
                    continue
                }
            }
            return false
        }

        mutating func skipLiteral(_ literal: String) -> Bool {
            guard bytes[index...].starts(with: literal.utf8) else { return false }
            index += literal.utf8.count
            return true
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func skipNumber() -> Bool {
            _ = take(UInt8(ascii: "-"))
            if !take(UInt8(ascii: "0")) {
                guard let first = peek, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else { return false }
                skipDigits()
            }
            if take(UInt8(ascii: ".")) {
                guard skipDigits() else { return false }
            }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
                guard skipDigits() else { return false }
            }
            return true
        }

        /// Skips one or more digits; false if there was none.
        @discardableResult
        mutating func skipDigits() -> Bool {
            let start = index
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index > start
        }

        static func isHex(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
        }
    }
}
