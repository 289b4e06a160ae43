import Foundation
import Testing
import Yams

@testable import Codegen
@testable import Generated

/// The spec's patterns as the generator parses them and the runtime matches them, checked against
/// a regex engine (ICU, through `NSRegularExpression`) on many strings: the two must agree on
/// every one, or a client's validator and the server would disagree about the same value.
@Suite("Spec patterns: parsed by the generator, matched by the runtime, as a regex engine does")
struct SpecPatternTests {
    /// The runtime's tree for the generator's parse (the generator writes the same as Swift text).
    static func runtime(_ node: PatternNode) -> SpecPattern.Node {
        switch node {
        case .start: .start
        case .end: .end
        case .set(let ranges): .set(ranges)
        case .sequence(let nodes): .sequence(nodes.map(runtime))
        case .either(let nodes): .either(nodes.map(runtime))
        case .repeated(let node, let min, let max): .repeated(runtime(node), min: min, max: max ?? .max)
        }
    }

    static func pattern(_ source: String) throws -> SpecPattern {
        SpecPattern(source, runtime(try PatternParser.parse(source)))
    }

    /// Every `pattern` of openapi.yaml, and a few that need backtracking or are unanchored.
    static let sources: [String] = {
        func collect(_ node: Any, into found: inout Set<String>) {
            if let map = node as? [String: Any] {
                for (key, value) in map {
                    if key == "pattern", let text = value as? String { found.insert(text) } else { collect(value, into: &found) }
                }
            } else if let list = node as? [Any] {
                for value in list { collect(value, into: &found) }
            }
        }
        var found: Set<String> = []
        let yaml = (try? Paths.read(Paths.root.appendingPathComponent("openapi.yaml"))) ?? ""
        if let document = try? Yams.load(yaml: yaml) { collect(document as Any, into: &found) }
        return found.sorted() + ["^(a|ab)(c|bcd)(d*)$", "[0-9]+\\.[0-9]+", "^a(b|cd)*e?$", "x{2,3}", "^(?:[a-c]{1,2}-)+[0-9]\\d?$"]
    }()

    @Test func theSpecHasPatternsToCheck() {
        #expect(Self.sources.count >= 12)
    }

    /// Strings made of the characters the patterns care about, and of examples that match, cut and
    /// altered, so both answers come up often. Seeded: a failure is the same on every run.
    static func samples() -> [String] {
        var generator = SplitMix64(seed: 0x5AFE_A91)
        let alphabet = Array("aAzZb cdex09125.:_@-/~é'")
        let examples = [
            "10.0.0.1", "192.168.1.0/24", "255.255.255.255", "256.1.1.1", "::1", "2001:db8::/32", "fe80::1:2:3:4", "::ffff:10.0.0.1",
            "1:2:3:4:5:6:7:8", "user.name@x", "firebase:abc DEF", "eyJ.eyJ.sig", "sk_12345678", "openai", "app.create", "abcde", "x9-1",
            "abd", "abcd", "ab-c-3", "12.5", "xxx",
        ]
        var strings = examples
        for example in examples {
            for _ in 0..<40 {
                var characters = Array(example)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where !characters.isEmpty: characters.remove(at: Int.random(in: 0..<characters.count, using: &generator))
                case 1:
                    characters.insert(
                        alphabet.randomElement(using: &generator)!, at: Int.random(in: 0...characters.count, using: &generator))
                default:
                    if !characters.isEmpty {
                        characters[Int.random(in: 0..<characters.count, using: &generator)] = alphabet.randomElement(using: &generator)!
                    }
                }
                strings.append(String(characters))
            }
        }
        for _ in 0..<1500 {
            let length = Int.random(in: 0...40, using: &generator)
            strings.append(String((0..<length).map { _ in alphabet.randomElement(using: &generator)! }))
        }
        return strings + [String(repeating: "a", count: 129), String(repeating: "a", count: 128), ""]
    }

    @Test(arguments: sources)
    func matchesAsARegexEngineDoes(_ source: String) throws {
        let ours = try Self.pattern(source)
        let engine = try NSRegularExpression(pattern: source)
        var matched = 0
        for text in Self.samples() {
            let expected = engine.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            #expect(ours.isFound(in: text) == expected, "\(source) on \(text.debugDescription)")
            if expected { matched += 1 }
        }
        #expect(matched > 0, "no sample matched \(source): the comparison would prove nothing")
    }

    /// ECMA-262, which JSON Schema follows: `$` is the end of the text, not a line end before it.
    @Test func dollarIsTheEndOfTheText() throws {
        #expect(try !Self.pattern("^[a-z]+$").isFound(in: "abc\n"))
        #expect(try Self.pattern("^[a-z]+$").isFound(in: "abc"))
    }

    /// A repeated class is scanned in a loop: a megabyte long value costs no stack.
    @Test func aLongValueIsMatchedWithoutDeepRecursion() throws {
        let token = String(repeating: "a", count: 1_000_000)
        let jwt = try Self.pattern("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$")
        #expect(jwt.isFound(in: token + "." + token + "." + token))
        #expect(!jwt.isFound(in: token + "." + token))
    }
}

@Suite("Generated runtime: the spec's constraints on input values")
struct InputRulesTests {
    private func failure(_ check: () throws -> Void) -> InputError? {
        do {
            try check()
            return nil
        } catch {
            return error as? InputError
        }
    }

    @Test func lengthsCountUnicodeScalarsAndNameTheField() {
        #expect(failure { try InputRules.string("ééé", "name", minLength: 1, maxLength: 3) } == nil)
        let tooLong = failure { try InputRules.string("éééé", "name", minLength: 1, maxLength: 3) }
        #expect(tooLong == InputError(location: .body, name: "name", reason: "must be 1 to 3 characters", kind: .constraint))
        #expect(
            failure { try InputRules.string("", "q", minLength: 1, location: .query) }?.description
                == "Query parameter 'q': must be at least 1 characters.")
        #expect(failure { try InputRules.string(nil, "absent", minLength: 1) } == nil)
    }

    @Test func aPatternFailureQuotesThePatternNotTheValue() throws {
        let pattern = try SpecPatternTests.pattern("^[a-z]{1,3}$")
        let error = try #require(failure { try InputRules.string("SECRET-VALUE", "providers[0].namespace", pattern: pattern) })
        #expect(error.kind == .constraint)
        #expect(error.description == "Request body field 'providers[0].namespace': must match ^[a-z]{1,3}$.")
        #expect(!error.description.contains("SECRET"))
    }

    @Test func rangesAndCounts() {
        #expect(
            failure { try InputRules.integer(Int64(0), "limit", minimum: 1, maximum: 200, location: .query) }?.reason
                == "must be from 1 to 200")
        #expect(failure { try InputRules.integer(Int32(-1), "age", minimum: 0) }?.reason == "must be at least 0")
        #expect(failure { try InputRules.integer(Int64(200), "limit", minimum: 1, maximum: 200) } == nil)
        #expect(failure { try InputRules.count(12, "events", noun: "items", min: 1, max: 11) }?.reason == "must have 1 to 11 items")
        #expect(
            failure { try InputRules.count(21, "requiredClaims", noun: "properties", max: 20) }?.reason == "must have at most 20 properties"
        )
        #expect(failure { try InputRules.count(nil, "absent", noun: "items", min: 1) } == nil)
    }

    /// A text that does not decode is a constraint failure for an enum or a format, and a
    /// malformed input for a number.
    @Test func parameterFailuresAreOfTheirKind() {
        #expect(UUID.failure == .constraint)
        #expect(Date.failure == .constraint)
        #expect(Int64.failure == .malformed)
        #expect(Bool.failure == .malformed)
    }

    @Test func bodyDecodingFailuresAreOfTheirKind() throws {
        func error(_ json: String) -> InputError? {
            do {
                _ = try APICoding.decoder.decode(SampleBody.self, from: Data(json.utf8))
                return nil
            } catch {
                return (error as? DecodingError).map(InputError.init(decoding:))
            }
        }
        #expect(error(#"{"kind":"c","count":1}"#)?.kind == .constraint)
        #expect(error(#"{"kind":"a","count":"one"}"#)?.kind == .malformed)
        #expect(error(#"{"kind":"a"}"#)?.kind == .malformed)
        #expect(error("not json")?.kind == .malformed)
    }
}

private struct SampleBody: Decodable {
    enum Kind: String, Decodable { case a, b }
    var kind: Kind
    var count: Int64
}

@Suite("Generated types: deprecated names (x-alias-of) are read, never written")
struct AliasDecodingTests {
    private func decode(_ json: String) throws -> SplitKeyRequest {
        try APICoding.decoder.decode(SplitKeyRequest.self, from: Data(json.utf8))
    }

    @Test func theOldNamesAloneStillDecode() throws {
        let request = try decode(#"{"originalKey":"sk-old","apiProvider":"openai"}"#)
        #expect(request.apiKey == "sk-old")
        #expect(request.provider == "openai")
    }

    @Test func theCurrentNameWinsWhenBothAreSent() throws {
        let request = try decode(#"{"apiKey":"sk-new","originalKey":"sk-old","provider":"openai"}"#)
        #expect(request.apiKey == "sk-new")
    }

    @Test func neitherNameIsTheCurrentOneMissing() throws {
        do {
            _ = try decode(#"{"provider":"openai"}"#)
            Issue.record("decoded without a key")
        } catch let error as DecodingError {
            #expect(InputError(decoding: error).description == "Request body field 'apiKey': is required.")
        }
    }

    @Test func onlyTheCurrentNamesAreWritten() throws {
        let json = String(decoding: try APICoding.encoder.encode(SplitKeyRequest(apiKey: "k", provider: "p")), as: UTF8.self)
        #expect(json == #"{"apiKey":"k","provider":"p"}"#)
    }
}

/// A seeded generator (SplitMix64), so the samples are the same on every run.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
