/// Shape checks for values the spec's generated validation does not see: the token exchange's
/// form fields (RFC 8693 answers them in its own error body) and the client's `x-request-id`.
/// Everything the spec constrains is checked by the generated code (`Validation.swift`).
enum Validate {
    /// Whether `value` is `length` characters of letters, digits and `extra` (ASCII only).
    static func hasShape(_ value: String, length: ClosedRange<Int>, extra: String) -> Bool {
        let extras = Set(extra.utf8)
        return length.contains(value.utf8.count)
            && value.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || extras.contains(byte)
            }
    }

    /// `^[A-Za-z0-9._@-]{3,128}$`, the shape of user and app ids.
    static func isIdentifier(_ value: String) -> Bool { hasShape(value, length: 3...128, extra: "._@-") }
}
