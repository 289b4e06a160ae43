/// Small text and byte helpers for the request path, where Foundation's general ones showed in
/// profiles.
extension BinaryInteger {
    /// The decimal digits, left-padded with zeros to `width`.
    func zeroPadded(_ width: Int) -> String {
        let text = String(self)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

enum Bytes {
    /// Where `needle` first occurs in `bytes` at or after `start` (a plain scan).
    static func firstIndex(of needle: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard let first = needle.first, bytes.count >= needle.count else { return needle.isEmpty ? start : nil }
        var index = start
        let last = bytes.count - needle.count
        while index <= last {
            if bytes[index] == first {
                var matched = 1
                while matched < needle.count && bytes[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }
}
