public import Generated

/// Checks of the spec's constraints that decoding does not enforce (patterns, lengths, ranges).
/// They throw the same `InputError` as decoding does, which the HTTP layer answers with 400.
public enum Validate {
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
    public static func identifier(_ value: String, field: String, location: InputError.Location = .body) throws(InputError) {
        if !hasShape(value, length: 3...128, extra: "._@-") {
            throw InputError(
                location: location, name: field, reason: "must be 3 to 128 characters of letters, digits, '.', '_', '@' or '-'")
        }
    }

    /// `^[A-Za-z0-9-]{1,32}$`, the shape of provider ids.
    public static func providerId(_ value: String, location: InputError.Location) throws(InputError) {
        if !hasShape(value, length: 1...32, extra: "-") {
            throw InputError(location: location, name: "provider", reason: "must be 1 to 32 of letters, digits or '-'")
        }
    }

    /// `^[A-Za-z0-9_-]{8,64}$`, the shape of split key ids.
    public static func keyId(_ value: String, location: InputError.Location) throws(InputError) {
        if !hasShape(value, length: 8...64, extra: "_-") {
            throw InputError(location: location, name: "keyId", reason: "must be 8 to 64 of letters, digits, '_' or '-'")
        }
    }

    public static func length(_ value: String?, _ range: ClosedRange<Int>, field: String, location: InputError.Location = .body)
        throws(InputError)
    {
        guard let value else { return }
        if !range.contains(value.count) {
            throw InputError(location: location, name: field, reason: "must be \(range.lowerBound) to \(range.upperBound) characters")
        }
    }

    public static func range(_ value: Int64?, _ range: ClosedRange<Int64>, field: String, location: InputError.Location = .body)
        throws(InputError)
    {
        guard let value else { return }
        if !range.contains(value) {
            throw InputError(location: location, name: field, reason: "must be from \(range.lowerBound) to \(range.upperBound)")
        }
    }
}
