import ArgumentParser
import Foundation

/// `swift run codegen` regenerates Sources/Generated from openapi.yaml;
/// `swift run codegen --check` exits non-zero and prints the diff when the committed output is stale.
@main
struct CodegenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codegen",
        abstract: "Generate Swift types, operations and the route table from openapi.yaml."
    )

    @Option(help: "The OpenAPI 3.1 document.")
    var spec = "openapi.yaml"

    @Option(help: "The folder the Swift files are written to.")
    var output = "Sources/Generated"

    @Option(help: "The readable API reference (Markdown) written beside the Swift.")
    var reference = "docs/api.md"

    @Flag(help: "Write nothing; fail with a diff when the folder or the reference differs from what the spec generates.")
    var check = false

    func run() throws {
        let yaml: String
        do {
            yaml = try String(contentsOfFile: spec, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read \(spec): \(error.localizedDescription)")
        }
        let files: [String: String]
        let page: String
        do {
            files = try Generator.generate(yaml: yaml, file: spec)
            page = try ReferenceEmitter(yaml: yaml).page()
        } catch let error as CodegenError {
            FileHandle.standardError.write(Data("codegen: error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let outputURL = URL(fileURLWithPath: output, isDirectory: true)
        if check {
            var problems = Generator.compare(files, with: outputURL)
            let committed = (try? String(contentsOfFile: reference, encoding: .utf8)) ?? ""
            if committed != page {
                problems.append(
                    TextDiff.unified(old: committed, new: page, oldName: "committed/\(reference)", newName: "generated/\(reference)"))
            }
            guard problems.isEmpty else {
                print(problems.joined(separator: "\n"))
                print("codegen: \(output) is stale: run `swift run codegen` and commit the result.")
                throw ExitCode(1)
            }
            print("codegen: \(output) and \(reference) are up to date with \(spec).")
        } else {
            try Generator.write(files, to: outputURL)
            try page.write(toFile: reference, atomically: true, encoding: .utf8)
            print("codegen: wrote \(files.count) files to \(output), and \(reference).")
        }
    }
}

/// The generator as functions, so tests can call it without the command line.
enum Generator {
    static func generate(yaml: String, file: String) throws -> [String: String] {
        let model = try SpecReader(file: file).read(yaml: yaml)
        return SwiftEmitter(model: model).files()
    }

    static func write(_ files: [String: String], to folder: URL) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        for stale in try existingSwiftFiles(in: folder) where files[stale] == nil {
            try manager.removeItem(at: folder.appendingPathComponent(stale))
        }
        for (name, contents) in files.sorted(by: { $0.key < $1.key }) {
            let url = folder.appendingPathComponent(name)
            if (try? String(contentsOf: url, encoding: .utf8)) != contents {
                try contents.write(to: url, atomically: true, encoding: .utf8)
            }
        }
    }

    /// A diff per file that differs, is missing or should not be there; empty when all match.
    static func compare(_ files: [String: String], with folder: URL) -> [String] {
        var problems: [String] = []
        let existing = (try? existingSwiftFiles(in: folder)) ?? []
        for stale in existing.sorted() where files[stale] == nil {
            problems.append("--- \(stale): not generated from the spec; remove it")
        }
        for (name, expected) in files.sorted(by: { $0.key < $1.key }) {
            let path = folder.appendingPathComponent(name)
            guard let actual = try? String(contentsOf: path, encoding: .utf8) else {
                problems.append("--- \(name): missing")
                continue
            }
            if actual != expected {
                problems.append(TextDiff.unified(old: actual, new: expected, oldName: "committed/\(name)", newName: "generated/\(name)"))
            }
        }
        return problems
    }

    private static func existingSwiftFiles(in folder: URL) throws -> [String] {
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
    }
}
