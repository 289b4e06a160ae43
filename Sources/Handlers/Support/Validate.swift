public import Generated

/// Checks of the spec's constraints that decoding does not enforce (patterns, lengths, ranges).
public enum Validate {
    /// `^[A-Za-z0-9._@-]{3,128}$`, the shape of user and app ids.
    public static func identifier(_ value: String, field: String, location: InputError.Location = .body) throws(AppError) {
        let valid = (3...128).contains(value.utf8.count) && value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "@"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
        if !valid {
            throw .invalidInput(InputError(location: location, name: field, reason: "must be 3 to 128 characters of letters, digits, '.', '_', '@' or '-'"))
        }
    }

    public static func length(_ value: String?, _ range: ClosedRange<Int>, field: String) throws(AppError) {
        guard let value else { return }
        if !range.contains(value.count) {
            throw .invalidInput(InputError(location: .body, name: field, reason: "must be \(range.lowerBound) to \(range.upperBound) characters"))
        }
    }

    public static func range(_ value: Int64?, _ range: ClosedRange<Int64>, field: String, location: InputError.Location = .body) throws(AppError) {
        guard let value else { return }
        if !range.contains(value) {
            throw .invalidInput(InputError(location: location, name: field, reason: "must be from \(range.lowerBound) to \(range.upperBound)"))
        }
    }

    /// `^[A-Za-z0-9-]{1,32}$`, the shape of provider ids.
    public static func providerId(_ value: String, location: InputError.Location) throws(AppError) {
        let valid = (1...32).contains(value.utf8.count) && value.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
        }
        if !valid { throw .invalidInput(InputError(location: location, name: "provider", reason: "must be 1 to 32 of letters, digits or '-'")) }
    }
}
