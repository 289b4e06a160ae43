import Foundation
import Testing

@testable import Codegen

/// The repository root and the fixtures, found from this file so tests run from any folder.
enum Paths {
    static let unitTests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = unitTests.appendingPathComponent("Fixtures")
    static let root = unitTests.deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ url: URL) throws -> String {
        try String(contentsOf: url, encoding: .utf8)
    }
}

@Suite("Codegen: fixture specs in, expected Swift out")
struct CodegenFixtureTests {
    @Test func petstoreFixtureGeneratesTheExpectedSwift() throws {
        let yaml = try Paths.read(Paths.fixtures.appendingPathComponent("petstore.yaml"))
        let files = try Generator.generate(yaml: yaml, file: "petstore.yaml")
        #expect(Set(files.keys) == ["Types.swift", "Operations.swift", "Routes.swift", "Runtime.swift", "Validation.swift"])
        for name in ["Types.swift", "Operations.swift", "Routes.swift", "Validation.swift"] {
            let expected = try Paths.read(Paths.fixtures.appendingPathComponent("petstore").appendingPathComponent(name))
            let actual = try #require(files[name])
            #expect(
                actual == expected,
                "\(name) differs:\n\(TextDiff.unified(old: expected, new: actual, oldName: "expected", newName: "generated"))")
        }
    }

    @Test func outputIsDeterministic() throws {
        let yaml = try Paths.read(Paths.root.appendingPathComponent("openapi.yaml"))
        let first = try Generator.generate(yaml: yaml, file: "openapi.yaml")
        let second = try Generator.generate(yaml: yaml, file: "openapi.yaml")
        #expect(first == second)
    }

    /// docs/api.md is the spec as a page: regenerated with the Swift, never edited by hand.
    @Test func committedReferenceMatchesTheSpec() throws {
        let yaml = try Paths.read(Paths.root.appendingPathComponent("openapi.yaml"))
        let page = try ReferenceEmitter(yaml: yaml).page()
        let committed = try Paths.read(Paths.root.appendingPathComponent("docs/api.md"))
        #expect(
            committed == page,
            "run `swift run codegen`:\n\(TextDiff.unified(old: committed, new: page, oldName: "committed", newName: "generated"))")
        // Every operation is on the page, under the tag it names.
        let emitter = try ReferenceEmitter(yaml: yaml)
        for operation in emitter.operations() {
            let id = operation.body["operationId"] as? String ?? ""
            #expect(page.contains("`\(id)`"), "\(id) is not in docs/api.md")
            #expect(page.contains("## \(operation.tag)\n"), "\(id)'s tag \(operation.tag) has no section")
        }
    }

    /// The same check CI runs with `swift run codegen --check`: the committed output matches the spec.
    @Test func committedGeneratedFolderMatchesTheSpec() throws {
        let yaml = try Paths.read(Paths.root.appendingPathComponent("openapi.yaml"))
        let files = try Generator.generate(yaml: yaml, file: "openapi.yaml")
        let problems = Generator.compare(files, with: Paths.root.appendingPathComponent("Sources/Generated"))
        #expect(problems.isEmpty, "run `swift run codegen`:\n\(problems.joined(separator: "\n"))")
    }

    @Test func requiredNullablePropertiesAreWrittenAsNull() throws {
        let yaml = try Paths.read(Paths.fixtures.appendingPathComponent("petstore.yaml"))
        let types = try #require(try Generator.generate(yaml: yaml, file: "petstore.yaml")["Types.swift"])
        #expect(types.contains("try container.encode(ownerId, forKey: .ownerId)"))
        #expect(types.contains("try container.encodeIfPresent(size, forKey: .size)"))
    }
}

@Suite("Codegen --check")
struct CodegenCheckTests {
    private func folder(with files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("codegen-check-\(UUID().uuidString)")
        try Generator.write(files, to: url)
        return url
    }

    @Test func upToDateFolderHasNoProblems() throws {
        let files = ["A.swift": "let a = 1\n", "B.swift": "let b = 2\n"]
        let url = try folder(with: files)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(Generator.compare(files, with: url).isEmpty)
    }

    @Test func handEditedFileIsReportedWithADiff() throws {
        let files = ["A.swift": "line 1\nline 2\nline 3\nline 4\n"]
        let url = try folder(with: files)
        defer { try? FileManager.default.removeItem(at: url) }
        try "line 1\nline 2 edited by hand\nline 3\nline 4\n".write(
            to: url.appendingPathComponent("A.swift"), atomically: true, encoding: .utf8)
        let problems = Generator.compare(files, with: url)
        #expect(problems.count == 1)
        let diff = try #require(problems.first)
        #expect(diff.contains("-line 2 edited by hand\n+line 2\n"))
        #expect(diff.contains(" line 1"))
    }

    @Test func extraAndMissingFilesAreReported() throws {
        let url = try folder(with: ["A.swift": "a\n", "Stray.swift": "s\n"])
        defer { try? FileManager.default.removeItem(at: url) }
        let problems = Generator.compare(["A.swift": "a\n", "B.swift": "b\n"], with: url)
        #expect(problems.contains { $0.contains("Stray.swift") && $0.contains("not generated") })
        #expect(problems.contains { $0.contains("B.swift") && $0.contains("missing") })
    }

    @Test func writeRemovesStaleSwiftFiles() throws {
        let url = try folder(with: ["Old.swift": "old\n"])
        defer { try? FileManager.default.removeItem(at: url) }
        try Generator.write(["New.swift": "new\n"], to: url)
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        #expect(names == ["New.swift"])
    }

    @Test func diffOfIdenticalTextHasOnlyHeaders() {
        #expect(TextDiff.unified(old: "a\nb\n", new: "a\nb\n", oldName: "x", newName: "y") == "--- x\n+++ y")
    }
}

@Suite("Codegen refuses what it does not support, naming file, pointer and reason")
struct CodegenErrorTests {
    /// A minimal valid spec with one operation; each case swaps in a fragment.
    static func spec(schemas: String = "", operation: String? = nil) -> String {
        let defaultOperation = """
                  operationId: getThing
                  tags: [T]
                  responses:
                    '200':
                      description: ok
            """
        return """
            openapi: 3.1.0
            info: {title: t, version: '1'}
            components:
              schemas:
                Error:
                  type: object
                  properties:
                    error: {type: string}
            \(schemas)
            paths:
              /things/{id}:
                get:
            \(operation ?? defaultOperation)
            """
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let yaml: String
        let pointer: String
        let reason: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "inline object property",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            inner:
                              type: object
                              properties:
                                x: {type: string}
                    """),
            pointer: "/components/schemas/Thing/properties/inner",
            reason: "inline object schemas are not supported"
        ),
        Case(
            name: "oneOf",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v:
                              oneOf:
                                - {type: string}
                                - {type: integer}
                    """),
            pointer: "/components/schemas/Thing/properties/v",
            reason: "oneOf/anyOf/allOf/not are not supported yet"
        ),
        Case(
            name: "unsupported string format",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            blob: {type: string, format: binary}
                    """),
            pointer: "/components/schemas/Thing/properties/blob/format",
            reason: "string format 'binary' is not supported"
        ),
        Case(
            name: "missing operationId",
            yaml: spec(
                operation: """
                          tags: [T]
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                          responses:
                            '200': {description: ok}
                    """),
            pointer: "/paths/~1things~1{id}/get",
            reason: "every operation needs an operationId"
        ),
        Case(
            name: "missing tag",
            yaml: spec(
                operation: """
                          operationId: getThing
                          responses:
                            '200': {description: ok}
                    """),
            pointer: "/paths/~1things~1{id}/get/tags",
            reason: "every operation needs a tag"
        ),
        Case(
            name: "inputs without a documented 400",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                          responses:
                            '200': {description: ok}
                    """),
            pointer: "/paths/~1things~1{id}/get/responses",
            reason: "an operation with inputs must document 400"
        ),
        Case(
            name: "path variable without a parameter",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          responses:
                            '200': {description: ok}
                    """),
            pointer: "/paths/~1things~1{id}",
            reason: "path variable 'id' has no path parameter"
        ),
        Case(
            name: "status range",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                          responses:
                            '400': {description: bad}
                            '2XX': {description: ok}
                    """),
            pointer: "/paths/~1things~1{id}/get/responses/2XX",
            reason: "document each status explicitly"
        ),
        Case(
            name: "cookie parameter",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                            - {name: session, in: cookie, schema: {type: string}}
                          responses:
                            '200': {description: ok}
                            '400': {description: bad}
                    """),
            pointer: "/paths/~1things~1{id}/get/parameters/1/in",
            reason: "only path, query and header parameters are supported"
        ),
        Case(
            name: "a header that is not a scalar",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                          responses:
                            '400': {description: bad}
                            '200':
                              description: ok
                              headers:
                                X-Thing: {schema: {type: array, items: {type: string}}}
                    """),
            pointer: "/paths/~1things~1{id}/get/responses/200/headers/X-Thing/schema",
            reason: "a header must be a string, integer, number or boolean"
        ),
        Case(
            name: "a pattern with '.'",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string, pattern: '^a.b$'}
                    """),
            pointer: "/components/schemas/Thing/properties/v/pattern",
            reason: "is not supported here"
        ),
        Case(
            name: "a negated class",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string, pattern: '^[^a]+$'}
                    """),
            pointer: "/components/schemas/Thing/properties/v/pattern",
            reason: "negated character classes are not supported"
        ),
        Case(
            name: "a lazy quantifier",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string, pattern: '^a+?$'}
                    """),
            pointer: "/components/schemas/Thing/properties/v/pattern",
            reason: "lazy, possessive or stacked quantifiers"
        ),
        Case(
            name: "a word escape",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string, pattern: '^\\w+$'}
                    """),
            pointer: "/components/schemas/Thing/properties/v/pattern",
            reason: "the escape"
        ),
        Case(
            name: "uniqueItems",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: array, uniqueItems: true, items: {type: string}}
                    """),
            pointer: "/components/schemas/Thing/properties/v/uniqueItems",
            reason: "uniqueItems is not supported"
        ),
        Case(
            name: "an exclusive bound",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: integer, exclusiveMinimum: 0}
                    """),
            pointer: "/components/schemas/Thing/properties/v",
            reason: "exclusive bounds are not supported"
        ),
        Case(
            name: "bounds on a number",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: number, maximum: 1}
                    """),
            pointer: "/components/schemas/Thing/properties/v",
            reason: "bounds on a number are not supported"
        ),
        Case(
            name: "an alias of a property that is not there",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string}
                            old: {type: string, deprecated: true, x-alias-of: w}
                    """),
            pointer: "/components/schemas/Thing/properties/old/x-alias-of",
            reason: "must be another non-nullable property of the same type and constraints"
        ),
        Case(
            name: "an alias of another type",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string}
                            old: {type: integer, deprecated: true, x-alias-of: v}
                    """),
            pointer: "/components/schemas/Thing/properties/old/x-alias-of",
            reason: "must be another non-nullable property of the same type and constraints"
        ),
        Case(
            name: "an alias that is not deprecated",
            yaml: spec(
                schemas: """
                        Thing:
                          type: object
                          properties:
                            v: {type: string}
                            old: {type: string, x-alias-of: v}
                    """),
            pointer: "/components/schemas/Thing/properties/old/x-alias-of",
            reason: "on an optional property marked deprecated"
        ),
        Case(
            name: "an unknown rate-limit class",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          x-rate-limit: user
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                          responses:
                            '200': {description: ok}
                            '400': {description: bad}
                    """),
            pointer: "/paths/~1things~1{id}/get/x-rate-limit",
            reason: "x-rate-limit is one of address"
        ),
        Case(
            name: "an audit action of the wrong shape",
            yaml: spec(
                operation: """
                          operationId: getThing
                          tags: [T]
                          x-audit-action: Thing Read
                          parameters:
                            - {name: id, in: path, required: true, schema: {type: string}}
                          responses:
                            '200': {description: ok}
                            '400': {description: bad}
                    """),
            pointer: "/paths/~1things~1{id}/get/x-audit-action",
            reason: "an audit action is 1 to 64 of a-z"
        ),
    ]

    @Test(arguments: cases)
    func failsLoudly(_ testCase: Case) {
        do {
            _ = try Generator.generate(yaml: testCase.yaml, file: "spec.yaml")
            Issue.record("\(testCase.name): generated without error")
        } catch let error as CodegenError {
            #expect(error.file == "spec.yaml")
            #expect(error.pointer == testCase.pointer, "\(error)")
            #expect(error.reason.contains(testCase.reason), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func allOfAnObjectAndRequiredAlternativesIsTheObject() throws {
        let accepted = Self.spec(
            schemas: """
                    Pick:
                      allOf:
                        - type: object
                          properties:
                            a: {type: string}
                            b: {type: string}
                        - anyOf:
                            - required: [a]
                            - required: [b]
                """,
            operation: """
                      operationId: getThing
                      tags: [T]
                      parameters:
                        - {name: id, in: path, required: true, schema: {type: string}}
                      responses:
                        '200': {description: ok}
                        '400': {description: bad}
                """)
        let types = try #require(try Generator.generate(yaml: accepted, file: "spec.yaml")["Types.swift"])
        #expect(types.contains("public struct Pick: Codable, Sendable, Equatable"))
        #expect(types.contains("public var a: String?"))
        let refused = Self.spec(
            schemas: """
                    Pick:
                      allOf:
                        - type: object
                          properties:
                            a: {type: string}
                        - type: object
                          properties:
                            b: {type: integer}
                """,
            operation: """
                      operationId: getThing
                      tags: [T]
                      parameters:
                        - {name: id, in: path, required: true, schema: {type: string}}
                      responses:
                        '200': {description: ok}
                        '400': {description: bad}
                """)
        let error = #expect(throws: CodegenError.self) { _ = try Generator.generate(yaml: refused, file: "spec.yaml") }
        #expect(error?.pointer == "/components/schemas/Pick")
    }

    @Test func anOperationNamedLikeASchemaIsRefused() {
        let yaml = Self.spec(
            schemas: """
                    Thing:
                      type: object
                      properties:
                        x: {type: string}
                """,
            operation: """
                      operationId: thing
                      tags: [T]
                      parameters:
                        - {name: id, in: path, required: true, schema: {type: string}}
                      responses:
                        '200': {description: ok}
                        '400': {description: bad}
                """)
        let error = #expect(throws: CodegenError.self) { _ = try Generator.generate(yaml: yaml, file: "spec.yaml") }
        #expect(error?.reason.contains("would shadow the schema Thing") == true)
    }

    @Test func invalidYAMLIsReported() {
        #expect(throws: CodegenError.self) {
            _ = try Generator.generate(yaml: "openapi: [this is not", file: "spec.yaml")
        }
    }

    /// The valid base spec really generates, so the failures above come from the fragment.
    @Test func baseSpecGenerates() throws {
        let yaml = Self.spec(
            operation: """
                      operationId: getThing
                      tags: [T]
                      parameters:
                        - {name: id, in: path, required: true, schema: {type: string}}
                      responses:
                        '200': {description: ok}
                        '400': {description: bad}
                """)
        let files = try Generator.generate(yaml: yaml, file: "spec.yaml")
        #expect(files["Routes.swift"]?.contains("router.on(\"/things/:id\", method: .get)") == true)
    }
}

@Suite("Naming")
struct NamingTests {
    @Test func camelCase() {
        #expect(Naming.lowerCamel("owner_id") == "ownerId")
        #expect(Naming.lowerCamel("X-Partial-Key-Id") == "xPartialKeyId")
        #expect(Naming.lowerCamel("requestId") == "requestId")
        #expect(Naming.upperCamel("getHealth") == "GetHealth")
        #expect(Naming.upperCamel("sea-lion") == "SeaLion")
        #expect(Naming.nestedTypeName("type") == "TypeValue")
        #expect(Naming.nestedTypeName("kind") == "Kind")
        #expect(Naming.lowerCamel("2fa") == "_2fa")
    }

    @Test func shadowingAndKeywords() {
        #expect(Naming.typeName(forSchema: "Error") == "APIError")
        #expect(Naming.typeName(forSchema: "Pet") == "Pet")
        #expect(Naming.identifier("default") == "`default`")
        #expect(Naming.identifier("name") == "name")
    }

    @Test func statusCases() {
        #expect(Naming.caseName(forStatus: 429) == "tooManyRequests")
        #expect(Naming.caseName(forStatus: 418) == "status418")
    }
}
