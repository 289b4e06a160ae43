/// JSON strings written by hand, where an encoder would cost more than the text: log lines and
/// the proxy's edits of a body's bytes.
enum JSONText {
    static func appendQuoted(_ string: String, to line: inout String) {
        // Most values need no escaping: copy them whole.
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            line += "\""
            line += string
            line += "\""
        } else {
            line += quote(string)
        }
    }

    static func quoted(_ string: String) -> String {
        var line = ""
        appendQuoted(string, to: &line)
        return line
    }

    static func quote(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
