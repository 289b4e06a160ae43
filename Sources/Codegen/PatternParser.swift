/// A `pattern` of the spec, parsed into the tree the generated code matches with (`SpecPattern`
/// in the runtime). The subset is what our patterns need and what every generator and validator
/// reads the same way: anchors, printable-ASCII literals and escapes, positive character classes,
/// groups, alternation and greedy quantifiers. Anything else (`.`, `\w`, negated classes,
/// look-around, back-references, lazy quantifiers, non-ASCII) is refused, so a pattern never
/// means one thing to a client's validator and another to the server.
indirect enum PatternNode: Equatable {
    case start, end
    /// One character among these byte ranges.
    case set([ClosedRange<UInt8>])
    case sequence([PatternNode])
    case either([PatternNode])
    /// `max == nil`: unbounded.
    case repeated(PatternNode, min: Int, max: Int?)

    /// The node as a Swift expression of the runtime's `SpecPattern.Node`.
    var swiftExpression: String {
        switch self {
        case .start: ".start"
        case .end: ".end"
        case .set(let ranges): ".set([\(ranges.map { "\($0.lowerBound)...\($0.upperBound)" }.joined(separator: ", "))])"
        case .sequence(let nodes): ".sequence([\(nodes.map(\.swiftExpression).joined(separator: ", "))])"
        case .either(let nodes): ".either([\(nodes.map(\.swiftExpression).joined(separator: ", "))])"
        case .repeated(let node, let min, let max):
            ".repeated(\(node.swiftExpression), min: \(min), max: \(max.map(String.init) ?? "Int.max"))"
        }
    }
}

struct PatternParser {
    struct Failure: Error {
        var reason: String
    }

    private let bytes: [UInt8]
    private var index = 0

    static func parse(_ pattern: String) throws(Failure) -> PatternNode {
        guard pattern.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw Failure(reason: "pattern: only printable ASCII is supported")
        }
        var parser = PatternParser(bytes: Array(pattern.utf8))
        let node = try parser.alternation()
        guard parser.index == parser.bytes.count else {
            throw Failure(reason: "pattern: unbalanced ')' at offset \(parser.index)")
        }
        return node
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func alternation() throws(Failure) -> PatternNode {
        var branches = [try sequence()]
        while current == UInt8(ascii: "|") {
            index += 1
            branches.append(try sequence())
        }
        return branches.count == 1 ? branches[0] : .either(branches)
    }

    private mutating func sequence() throws(Failure) -> PatternNode {
        var nodes: [PatternNode] = []
        while let byte = current, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
            let atom = try atom()
            nodes.append(try quantified(atom))
        }
        return nodes.count == 1 ? nodes[0] : .sequence(nodes)
    }

    private mutating func atom() throws(Failure) -> PatternNode {
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "^"): return .start
        case UInt8(ascii: "$"): return .end
        case UInt8(ascii: "("):
            if current == UInt8(ascii: "?") {
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: ":") else {
                    throw Failure(reason: "pattern: only '(' and '(?:' groups are supported")
                }
                index += 2
            }
            let inner = try alternation()
            guard current == UInt8(ascii: ")") else { throw Failure(reason: "pattern: a group is not closed") }
            index += 1
            return inner
        case UInt8(ascii: "["): return .set(try characterClass())
        case UInt8(ascii: "\\"): return .set(try escape())
        case UInt8(ascii: "."), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"), UInt8(ascii: "}"),
            UInt8(ascii: "]"):
            throw Failure(reason: "pattern: '\(Character(Unicode.Scalar(byte)))' at offset \(index - 1) is not supported here")
        default: return .set([byte...byte])
        }
    }

    private mutating func quantified(_ atom: PatternNode) throws(Failure) -> PatternNode {
        guard let byte = current else { return atom }
        let bounds: (Int, Int?)
        switch byte {
        case UInt8(ascii: "*"): bounds = (0, nil)
        case UInt8(ascii: "+"): bounds = (1, nil)
        case UInt8(ascii: "?"): bounds = (0, 1)
        case UInt8(ascii: "{"): bounds = try braces()
        default: return atom
        }
        if case .start = atom { throw Failure(reason: "pattern: an anchor cannot be repeated") }
        if case .end = atom { throw Failure(reason: "pattern: an anchor cannot be repeated") }
        if byte != UInt8(ascii: "{") { index += 1 }
        if let next = current,
            next == UInt8(ascii: "?") || next == UInt8(ascii: "+") || next == UInt8(ascii: "*") || next == UInt8(ascii: "{")
        {
            throw Failure(reason: "pattern: lazy, possessive or stacked quantifiers are not supported")
        }
        return .repeated(atom, min: bounds.0, max: bounds.1)
    }

    /// `{n}`, `{n,}` or `{n,m}`.
    private mutating func braces() throws(Failure) -> (Int, Int?) {
        index += 1
        let minimum = number()
        var maximum = minimum
        if current == UInt8(ascii: ",") {
            index += 1
            maximum = current == UInt8(ascii: "}") ? nil : number()
        }
        guard current == UInt8(ascii: "}"), let low = minimum, maximum.map({ $0 >= low }) ?? true else {
            throw Failure(reason: "pattern: a '{n,m}' quantifier is malformed")
        }
        index += 1
        return (low, maximum)
    }

    private mutating func number() -> Int? {
        var value: Int?
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), (value ?? 0) < 100_000 {
            value = (value ?? 0) * 10 + Int(byte - UInt8(ascii: "0"))
            index += 1
        }
        return value
    }

    /// The inside of `[...]`, after the `[`: characters, ranges and escapes.
    private mutating func characterClass() throws(Failure) -> [ClosedRange<UInt8>] {
        if current == UInt8(ascii: "^") { throw Failure(reason: "pattern: negated character classes are not supported") }
        var ranges: [ClosedRange<UInt8>] = []
        while let byte = current, byte != UInt8(ascii: "]") {
            index += 1
            let low: [ClosedRange<UInt8>] = byte == UInt8(ascii: "\\") ? try escape() : [byte...byte]
            if low.count == 1, low[0].count == 1, current == UInt8(ascii: "-"), index + 1 < bytes.count,
                bytes[index + 1] != UInt8(ascii: "]")
            {
                index += 1
                let end = bytes[index]
                index += 1
                let high: [ClosedRange<UInt8>] = end == UInt8(ascii: "\\") ? try escape() : [end...end]
                guard high.count == 1, high[0].count == 1, low[0].lowerBound <= high[0].lowerBound else {
                    throw Failure(reason: "pattern: a character range is malformed")
                }
                ranges.append(low[0].lowerBound...high[0].lowerBound)
            } else {
                ranges.append(contentsOf: low)
            }
        }
        guard current == UInt8(ascii: "]"), !ranges.isEmpty else { throw Failure(reason: "pattern: a character class is not closed") }
        index += 1
        return ranges
    }

    /// After a `\`: an escaped punctuation character, or `\d`.
    private mutating func escape() throws(Failure) -> [ClosedRange<UInt8>] {
        guard let byte = current else { throw Failure(reason: "pattern: a trailing '\\'") }
        index += 1
        if byte == UInt8(ascii: "d") { return [UInt8(ascii: "0")...UInt8(ascii: "9")] }
        let punctuation = Array(#"\^$.|?*+()[]{}/-"#.utf8)
        guard punctuation.contains(byte) else {
            throw Failure(reason: "pattern: the escape '\\\(Character(Unicode.Scalar(byte)))' is not supported")
        }
        return [byte...byte]
    }
}
