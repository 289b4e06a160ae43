/// One validating pass over a JSON text's bytes (RFC 8259; UTF-8 not checked), without decoding
/// what is not asked for: the proxy edits request bodies (`JSONBodyEdit`) and reads usage from
/// answers (`UsageMeter`) with it, never through Foundation's JSON objects.
enum JSONScan {
    /// The elements of `bytes`, one array with whitespace around it; nil if they are not one.
    static func elements(ofArray bytes: UnsafeRawBufferPointer) -> [Range<Int>]? {
        var reader = Reader(bytes: bytes, index: 0, end: bytes.count)
        reader.skipSpace()
        guard reader.take(UInt8(ascii: "[")) else { return nil }
        var elements: [Range<Int>] = []
        reader.skipSpace()
        if !reader.take(UInt8(ascii: "]")) {
            repeat {
                reader.skipSpace()
                let start = reader.index
                guard reader.skipValue(depth: 1) else { return nil }
                elements.append(start..<reader.index)
                reader.skipSpace()
            } while reader.take(UInt8(ascii: ","))
            guard reader.take(UInt8(ascii: "]")) else { return nil }
        }
        reader.skipSpace()
        return reader.index == reader.end ? elements : nil
    }

    /// The text of a value already checked by a scan, if it is a string.
    static func string(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) -> String? {
        bytes[value.lowerBound] == UInt8(ascii: "\"") ? Object.string(bytes, value) : nil
    }

    /// A value already checked by a scan, if it is a number: a whole number that fits in 64 bits as
    /// it is, any other below 10^15 by its whole part (`12.0` and `12.7` are 12).
    static func wholeNumber(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) -> Int64? {
        let first = bytes[value.lowerBound]
        guard first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return nil }
        let token = UnsafeRawBufferPointer(rebasing: bytes[value])
        if !token.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }) {
            if let whole = Int64(String(decoding: token, as: UTF8.self)) { return whole }
        }
        guard let number = Double(String(decoding: token, as: UTF8.self)), number.isFinite, abs(number) < 1e15 else { return nil }
        return Int64(number)
    }

    /// The members of objects scanned in `bytes` by name (the last of duplicates), as the type
    /// asked for; nil when absent or of another type.
    struct Fields {
        let bytes: UnsafeRawBufferPointer

        func value(_ name: String, in object: Object) -> Range<Int>? { object.members.last { $0.name == name }?.value }
        func string(_ name: String, in object: Object) -> String? { value(name, in: object).flatMap { JSONScan.string(bytes, $0) } }
        func number(_ name: String, in object: Object) -> Int64? { value(name, in: object).flatMap { JSONScan.wholeNumber(bytes, $0) } }
        func object(_ name: String, in object: Object) -> Object? {
            value(name, in: object).flatMap { bytes[$0.lowerBound] == UInt8(ascii: "{") ? Object(bytes, $0) : nil }
        }
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
