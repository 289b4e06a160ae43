import Foundation
import Testing

/// The dependency rule of DESIGN.md and docs/architecture.md, checked on the sources rather than
/// only written down: a folder of `Sources/Handlers` uses types of the folders below it in
/// `layers` only. A use is a type name declared at the top level of another folder's file,
/// spelled in code (comments and string literals do not count; interpolations do).
@Suite("Architecture: the parts of Handlers depend downwards only")
struct ArchitectureTests {
    /// Top to bottom. HTTP concerns live in the first two; `Support` is the shared kernel (errors,
    /// validation, time, bytes) and `Storage` only the database and its migrations.
    static let layers = ["API", "HTTP", "Gateway", "Proxy", "Keys", "Limits", "Auth", "Events", "Storage", "Support"]

    struct Source {
        var folder: String
        var file: String
        var code: String
    }

    static let handlers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Sources/Handlers")

    static func sources() throws -> [Source] {
        let files = FileManager.default.enumerator(at: handlers, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return try files.filter { $0.pathExtension == "swift" }.map { url in
            let relative = url.path.dropFirst(handlers.path.count + 1)
            return Source(
                folder: String(relative.prefix { $0 != "/" }), file: String(relative), code: try String(contentsOf: url, encoding: .utf8))
        }
    }

    /// The type names a file declares at its top level.
    static func declarations(_ code: String) -> [String] {
        let pattern =
            #"(?m)^(?:@\w+\s+)*(?:(?:public|package|internal|fileprivate|private|final|indirect|nonisolated)\s+)*(?:struct|class|enum|protocol|actor|typealias)\s+([A-Z]\w*)"#
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: code, range: NSRange(code.startIndex..., in: code)).map { String(code[Range($0.range(at: 1), in: code)!]) }
    }

    /// The capitalised identifiers a file spells in code.
    static func identifiers(_ code: String) -> Set<String> {
        var names = Set<String>()
        var word = ""
        for character in SwiftCode.codeOnly(code) {
            if character.isLetter || character.isNumber || character == "_" {
                word.append(character)
            } else {
                if let first = word.first, first.isUppercase { names.insert(word) }
                word = ""
            }
        }
        return names
    }

    /// Every use of a folder at the same level or above, as "Folder/File.swift uses Type (Folder)".
    static func violations(_ sources: [Source]) -> [String] {
        var owner: [String: String] = [:]
        for source in sources {
            for name in declarations(source.code) { owner[name] = source.folder }
        }
        var found: [String] = []
        for source in sources {
            guard let level = layers.firstIndex(of: source.folder) else { continue }
            for name in identifiers(source.code).sorted() {
                guard let folder = owner[name], folder != source.folder, let other = layers.firstIndex(of: folder) else { continue }
                if other <= level { found.append("\(source.file) uses \(name) (\(folder))") }
            }
        }
        return found
    }

    @Test func noFolderUsesAFolderAboveItOrBesideIt() throws {
        let violations = Self.violations(try Self.sources())
        #expect(violations.isEmpty, "upward or sideways uses:\n\(violations.joined(separator: "\n"))")
    }

    @Test func everyFolderIsALayerAndEveryTypeHasOneHome() throws {
        let sources = try Self.sources()
        let folders = Set(sources.map(\.folder))
        #expect(folders.subtracting(Self.layers).isEmpty, "folders outside the layers: \(folders.subtracting(Self.layers).sorted())")
        var homes: [String: Set<String>] = [:]
        for source in sources {
            for name in Self.declarations(source.code) { homes[name, default: []].insert(source.folder) }
        }
        let twice = homes.filter { $0.value.count > 1 }.keys.sorted()
        #expect(twice.isEmpty, "types declared in two folders: \(twice)")
    }

    /// The check itself can fail: the real sources plus one upward use, one in a comment, one in a
    /// string, one in an interpolation.
    @Test func theCheckSeesAnUpwardUseInCodeOnly() throws {
        var sources = try Self.sources()
        sources.append(
            Source(
                folder: "Storage", file: "Storage/Planted.swift",
                code: """
                    // ProxyService in a comment, /* BridgeAPI */ in a block comment
                    let text = "ProxyService in a string"
                    let raw = #"Admission in a "raw" string"#
                    let told = "\\(KeyResolver.self)"
                    func planted(_ limits: QuotaLedger) {}
                    """))
        let found = Self.violations(sources).filter { $0.hasPrefix("Storage/Planted.swift") }
        #expect(found == ["Storage/Planted.swift uses KeyResolver (Proxy)", "Storage/Planted.swift uses QuotaLedger (Limits)"])
    }
}

/// Swift source with comments and the text of string literals blanked out, so only code remains
/// (string interpolations are code).
enum SwiftCode {
    static func codeOnly(_ source: String) -> String {
        let text = Array(source)
        var output: [Character] = []
        output.reserveCapacity(text.count)
        /// Open string literals, innermost last: their closing delimiter, whether raw (`#"…"#`), and
        /// how deep the parentheses of an interpolation inside it are (nil: in the text).
        var strings: [(close: [Character], hashes: Int, interpolation: Int?)] = []
        var index = 0
        func starts(_ token: [Character], at position: Int) -> Bool {
            position + token.count <= text.count && Array(text[position..<position + token.count]) == token
        }
        while index < text.count {
            let character = text[index]
            if var top = strings.last, top.interpolation == nil {
                // Inside a string's text.
                let escape: [Character] = ["\\"] + Array(repeating: "#", count: top.hashes)
                if starts(escape + ["("], at: index) {
                    top.interpolation = 0
                    strings[strings.count - 1] = top
                    index += escape.count + 1
                    output.append(" ")
                } else if starts(escape, at: index) {
                    index += escape.count + 1
                } else if starts(top.close, at: index) {
                    strings.removeLast()
                    index += top.close.count
                } else {
                    index += 1
                }
                continue
            }
            if starts(["/", "/"], at: index) {
                while index < text.count, text[index] != "\n" { index += 1 }
                continue
            }
            if starts(["/", "*"], at: index) {
                var depth = 0
                repeat {
                    if starts(["/", "*"], at: index) {
                        depth += 1
                        index += 2
                    } else if starts(["*", "/"], at: index) {
                        depth -= 1
                        index += 2
                    } else {
                        index += 1
                    }
                } while depth > 0 && index < text.count
                output.append(" ")
                continue
            }
            var hashes = 0
            while starts(["#"], at: index + hashes) { hashes += 1 }
            if starts(["\""], at: index + hashes) {
                let quotes: [Character] = starts(["\"", "\"", "\""], at: index + hashes) ? ["\"", "\"", "\""] : ["\""]
                strings.append((close: quotes + Array(repeating: "#", count: hashes), hashes: hashes, interpolation: nil))
                index += hashes + quotes.count
                output.append(" ")
                continue
            }
            if var top = strings.last, let depth = top.interpolation {
                if character == "(" { top.interpolation = depth + 1 }
                if character == ")" { top.interpolation = depth == 0 ? nil : depth - 1 }
                strings[strings.count - 1] = top
                if top.interpolation == nil {
                    index += 1
                    continue
                }
            }
            output.append(character)
            index += 1
        }
        return String(output)
    }
}
