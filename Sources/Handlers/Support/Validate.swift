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

    /// A user id: the identifier shape (users named by an app's backend at `POST /auth/token`), or
    /// `<namespace>:<subject>` (users signed in through an identity provider: a namespace of 1 to
    /// 32 of a-z, 0-9 and '-', then 1 to 255 printable ASCII characters, as OpenID's `sub`). The
    /// colon never occurs in the first shape, so the two kinds cannot collide.
    public static func userId(_ value: String, location: InputError.Location) throws(InputError) {
        if hasShape(value, length: 3...128, extra: "._@-") { return }
        let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, hasShape(String(parts[0]), length: 1...32, extra: "-"), parts[0] == parts[0].lowercased(),
            (1...255).contains(parts[1].utf8.count), parts[1].utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        else {
            throw InputError(
                location: location, name: "userId",
                reason: "must be 3 to 128 of letters, digits, '.', '_', '@' or '-', or '<namespace>:<subject>' of an identity provider")
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
