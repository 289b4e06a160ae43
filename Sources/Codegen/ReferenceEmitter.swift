import Foundation
import Yams

/// docs/api.md: the spec as a page to read, operations by tag with their parameters, bodies,
/// statuses and examples. Made from the same openapi.yaml as the Swift, and checked for drift
/// the same way; it reads the document as plain YAML, so it shows what the spec says, in the
/// spec's own order of tags and a fixed order of paths and methods.
struct ReferenceEmitter {
    let spec: [String: Any]

    init(yaml: String) throws {
        guard let spec = try Yams.load(yaml: yaml) as? [String: Any] else {
            throw CodegenError(file: "", pointer: "/", reason: "not a map")
        }
        self.spec = spec
    }

    static let methods = ["get", "post", "put", "patch", "delete"]

    func page() -> String {
        var out: [String] = []
        let info = spec["info"] as? [String: Any] ?? [:]
        out.append("# \(info["title"] as? String ?? "API") \(info["version"] as? String ?? "")")
        out.append("")
        out.append("<!-- Generated from openapi.yaml by `swift run codegen`: do not edit; change the spec and regenerate. -->")
        out.append("")
        if let description = info["description"] as? String { out.append(description.trimmingCharacters(in: .whitespacesAndNewlines)) }
        out.append("")
        let operations = self.operations()
        let tags = (spec["tags"] as? [[String: Any]] ?? []).compactMap { tag -> (String, String?)? in
            guard let name = tag["name"] as? String else { return nil }
            return (name, tag["description"] as? String)
        }
        for (tag, _) in tags {
            let count = operations.filter { $0.tag == tag }.count
            out.append("- [\(tag)](#\(tag.lowercased())) (\(count))")
        }
        for (tag, description) in tags {
            out.append("")
            out.append("## \(tag)")
            out.append("")
            if let description { out.append(description.trimmingCharacters(in: .whitespacesAndNewlines)) }
            for operation in operations where operation.tag == tag {
                out.append("")
                out.append(contentsOf: render(operation))
            }
        }
        return out.joined(separator: "\n").replacingOccurrences(of: "\n\n\n", with: "\n\n") + "\n"
    }

    struct Operation {
        var method: String
        var path: String
        var tag: String
        var body: [String: Any]
        var shared: [[String: Any]]
    }

    func operations() -> [Operation] {
        let paths = spec["paths"] as? [String: Any] ?? [:]
        var found: [Operation] = []
        for path in paths.keys.sorted() {
            let item = paths[path] as? [String: Any] ?? [:]
            for method in Self.methods {
                guard let operation = item[method] as? [String: Any] else { continue }
                let tag = (operation["tags"] as? [String])?.first ?? ""
                found.append(
                    Operation(
                        method: method, path: path, tag: tag, body: operation, shared: item["parameters"] as? [[String: Any]] ?? []))
            }
        }
        return found
    }

    func render(_ operation: Operation) -> [String] {
        let body = operation.body
        var out = ["### `\(operation.method.uppercased()) \(operation.path)`"]
        out.append("")
        var line = "`\(body["operationId"] as? String ?? "")`"
        if let summary = body["summary"] as? String { line += ": " + summary }
        let security = (body["security"] as? [[String: Any]])?.flatMap(\.keys).sorted() ?? []
        line += security.isEmpty ? ". No credentials." : ". Credentials: " + security.map { "`\($0)`" }.joined(separator: " or ") + "."
        if body["deprecated"] as? Bool == true { line += " **Deprecated.**" }
        out.append(line)
        if let description = body["description"] as? String {
            out.append("")
            out.append(description.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let parameters = (operation.shared + (body["parameters"] as? [[String: Any]] ?? [])).map(resolve)
        if !parameters.isEmpty {
            out.append("")
            out.append("| parameter | in | required | schema | description |")
            out.append("| --- | --- | --- | --- | --- |")
            for parameter in parameters {
                let name = (parameter["name"] as? String ?? "") + (parameter["deprecated"] as? Bool == true ? " (deprecated)" : "")
                out.append(
                    "| `\(name)` | \(parameter["in"] as? String ?? "") | \(parameter["required"] as? Bool == true ? "yes" : "no") | "
                        + "\(schemaText(parameter["schema"])) | \(cell(parameter["description"])) |")
            }
        }
        if let requestBody = body["requestBody"].map(resolve) {
            let content = requestBody["content"] as? [String: Any] ?? [:]
            for media in content.keys.sorted() {
                let entry = content[media] as? [String: Any] ?? [:]
                out.append("")
                out.append(
                    "Request body (`\(media)`\(requestBody["required"] as? Bool == true ? ", required" : "")): \(schemaText(entry["schema"]))."
                )
                if let example = entry["example"] { out.append(contentsOf: json(example)) }
            }
        }
        let responses = body["responses"] as? [String: Any] ?? [:]
        out.append("")
        out.append("| status | meaning | body |")
        out.append("| --- | --- | --- |")
        var examples: [String] = []
        for status in responses.keys.sorted() {
            let response = resolve(responses[status] as Any)
            let content = response["content"] as? [String: Any] ?? [:]
            let bodies = content.keys.sorted().map { media in
                "`\(media)` " + schemaText((content[media] as? [String: Any])?["schema"])
            }
            out.append("| \(status) | \(cell(response["description"])) | \(bodies.isEmpty ? "none" : bodies.joined(separator: "; ")) |")
            if status.hasPrefix("2"), let example = (content["application/json"] as? [String: Any])?["example"] {
                examples.append("Example \(status):")
                examples.append(contentsOf: json(example))
            }
        }
        if !examples.isEmpty {
            out.append("")
            out.append(contentsOf: examples)
        }
        return out
    }

    /// The object a `$ref` names, or the object itself.
    func resolve(_ value: Any) -> [String: Any] {
        guard let object = value as? [String: Any] else { return [:] }
        guard let reference = object["$ref"] as? String, reference.hasPrefix("#/") else { return object }
        var current: Any = spec
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = (current as? [String: Any])?[String(part).replacingOccurrences(of: "~1", with: "/")] else { return object }
            current = next
        }
        return current as? [String: Any] ?? object
    }

    func schemaText(_ value: Any?) -> String {
        guard let schema = value as? [String: Any] else { return "any" }
        if let reference = schema["$ref"] as? String { return "`\(reference.split(separator: "/").last ?? "")`" }
        if let items = schema["items"] { return "array of \(schemaText(items))" }
        if let values = schema["enum"] as? [Any] { return "one of " + values.map { "`\($0)`" }.joined(separator: ", ") }
        var text = (schema["type"] as? String).map { "`\($0)`" } ?? "any JSON"
        if let format = schema["format"] as? String { text += " (\(format))" }
        return text
    }

    func cell(_ value: Any?) -> String {
        guard let text = value as? String else { return "" }
        return text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ").replacingOccurrences(
            of: "|", with: "\\|")
    }

    func json(_ value: Any) -> [String] {
        let value = Self.plain(value)
        guard JSONSerialization.isValidJSONObject([value]),
            let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return ["", "    \(value)"] }
        return ["", "```json", String(decoding: data, as: UTF8.self), "```"]
    }

    /// What YAML read as a date (an unquoted timestamp) back as its RFC 3339 text, all the way down.
    static func plain(_ value: Any) -> Any {
        switch value {
        case let date as Date:
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.string(from: date)
        case let list as [Any]: return list.map(plain)
        case let map as [String: Any]: return map.mapValues(plain)
        default: return value
        }
    }
}
