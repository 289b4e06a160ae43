/// Writes `Validation.swift`: the checks of the spec's validation keywords on every input (the
/// request bodies' objects, reachable from an operation, and the parameters), run by the generated
/// routes after decoding and before the handler. A violation throws an `InputError` of kind
/// `.constraint`, answered 400 `validation_failed` naming the field.
struct ValidationEmitter {
    let model: APIModel
    /// The objects reachable from a request body that have a constraint somewhere inside.
    let validating: Set<String>

    init(model: APIModel) {
        self.model = model
        self.validating = Self.validatingObjects(model)
    }

    func file() -> String {
        var w = CodeWriter()
        w.raw(SwiftEmitter.header)
        let patterns = patternSources()
        w.line("/// The spec's patterns, parsed once by the generator.")
        w.block("enum SpecPatterns") { w in
            for (index, source) in patterns.enumerated() {
                w.line("/// `\(source)`")
                let node = try! PatternParser.parse(source)  // the reader parsed it already
                w.line("static let p\(index) = SpecPattern(\(literal(source)), \(node.swiftExpression))")
            }
        }
        for object in model.schemas.compactMap(\.object) where validating.contains(object.name) {
            w.blank()
            w.block("extension \(object.name): InputValidatable") { w in
                w.line("/// Checks the spec's constraints; `path` prefixes the names in errors (`providers[0].`).")
                w.block("public func validate(at path: String) throws(InputError)") { w in
                    for property in object.properties {
                        check(
                            "self.\(property.swiftName)", type: property.type, rules: property.rules, optional: property.isOptional,
                            field: "path + \(literal(property.jsonName))", location: ".body",
                            patterns: patterns, depth: 0, into: &w)
                    }
                }
            }
        }
        for operation in model.operations where needsValidation(operation) {
            w.blank()
            w.block("extension Operations.\(operation.typeName).Input") { w in
                w.line("/// Checks the spec's constraints on the parameters and the body.")
                w.block("public func validate() throws(InputError)") { w in
                    for parameter in operation.parameters {
                        check(
                            "self.\(parameter.swiftName)", type: parameter.type, rules: parameter.rules, optional: !parameter.required,
                            field: literal(parameter.name), location: ".\(parameter.location.rawValue)",
                            patterns: patterns, depth: 0, into: &w)
                    }
                    if let body = operation.body {
                        check(
                            "self.body", type: body.type, rules: ValueRules(), optional: !body.required, field: "\"\"",
                            location: ".body", patterns: patterns, depth: 0, into: &w)
                    }
                }
            }
        }
        return w.text
    }

    /// Whether the generated route calls `input.validate()`.
    func needsValidation(_ operation: OperationModel) -> Bool {
        operation.parameters.contains { !$0.rules.isEmpty } || operation.body.map { Self.references($0.type, validating) } == true
    }

    private static func validatingObjects(_ model: APIModel) -> Set<String> {
        let objects = Dictionary(uniqueKeysWithValues: model.schemas.compactMap(\.object).map { ($0.name, $0) })
        var reachable: Set<String> = []
        var pending = model.operations.compactMap { $0.body.flatMap { Self.objectName($0.type) } }
        while let name = pending.popLast() {
            guard let object = objects[name], reachable.insert(name).inserted else { continue }
            pending.append(contentsOf: object.properties.compactMap { Self.objectName($0.type) })
        }
        var validating: Set<String> = []
        var changed = true
        while changed {
            changed = false
            for name in reachable.sorted() where !validating.contains(name) {
                let object = objects[name]!
                if object.properties.contains(where: { !$0.rules.isEmpty || Self.references($0.type, validating) }) {
                    validating.insert(name)
                    changed = true
                }
            }
        }
        return validating
    }

    /// Every pattern used by an input, sorted, each once.
    func patternSources() -> [String] {
        func collect(_ rules: ValueRules, into sources: inout Set<String>) {
            if let pattern = rules.pattern { sources.insert(pattern.source) }
            if let element = rules.element { collect(element.rules, into: &sources) }
        }
        var sources: Set<String> = []
        for object in model.schemas.compactMap(\.object) where validating.contains(object.name) {
            for property in object.properties { collect(property.rules, into: &sources) }
        }
        for operation in model.operations {
            for parameter in operation.parameters { collect(parameter.rules, into: &sources) }
        }
        return sources.sorted()
    }

    /// The object a type names, directly or as the element of an array or map.
    static func objectName(_ type: SwiftType) -> String? {
        switch type {
        case .named(let name) where !name.contains("."): name
        case .array(let element), .dictionary(let element): objectName(element)
        default: nil
        }
    }

    private static func references(_ type: SwiftType, _ validating: Set<String>) -> Bool {
        Self.objectName(type).map(validating.contains) ?? false
    }

    /// The checks of one value: its own keywords, then its items or fields.
    private func check(
        _ value: String, type: SwiftType, rules: ValueRules, optional: Bool, field: String, location: String,
        patterns: [String], depth: Int, into w: inout CodeWriter
    ) {
        let at = location == ".body" ? "" : ", location: \(location)"
        switch type {
        case .string:
            guard !rules.isEmpty else { return }
            var arguments = ["\(value)", field]
            if rules.minLength > 0 { arguments.append("minLength: \(rules.minLength)") }
            if let max = rules.maxLength { arguments.append("maxLength: \(max)") }
            if let pattern = rules.pattern { arguments.append("pattern: SpecPatterns.p\(patterns.firstIndex(of: pattern.source)!)") }
            w.line("try InputRules.string(\(arguments.joined(separator: ", "))\(at))")
        case .int32, .int64:
            guard !rules.isEmpty else { return }
            var arguments = ["\(value)", field]
            if let min = rules.minimum { arguments.append("minimum: \(min)") }
            if let max = rules.maximum { arguments.append("maximum: \(max)") }
            w.line("try InputRules.integer(\(arguments.joined(separator: ", "))\(at))")
        case .array(let element), .dictionary(let element):
            let isArray: Bool
            if case .array = type { isArray = true } else { isArray = false }
            if rules.minCount > 0 || rules.maxCount != nil {
                var arguments = ["\(value)\(optional ? "?" : "").count", field, isArray ? "noun: \"items\"" : "noun: \"properties\""]
                if rules.minCount > 0 { arguments.append("min: \(rules.minCount)") }
                if let max = rules.maxCount { arguments.append("max: \(max)") }
                w.line("try InputRules.count(\(arguments.joined(separator: ", "))\(at))")
            }
            let elementRules = rules.element?.rules ?? ValueRules()
            guard !elementRules.isEmpty || Self.references(element, validating) else { return }
            let item = depth == 0 ? "item" : "item\(depth)"
            let index = depth == 0 ? "index" : "index\(depth)"
            let collection = optional ? "\(value) ?? \(isArray ? "[]" : "[:]")" : value
            // A map's key is the client's text: errors name the map, never the key.
            let loop = isArray ? "for (\(index), \(item)) in (\(collection)).enumerated()" : "for \(item) in (\(collection)).values"
            let itemField = isArray ? "\(field) + \"[\\(\(index))]\"" : field
            w.block(loop) { w in
                check(
                    item, type: element, rules: elementRules, optional: false, field: itemField, location: location,
                    patterns: patterns, depth: depth + 1, into: &w)
            }
        case .named(let name) where validating.contains(name):
            let prefix = field == "\"\"" ? "\"\"" : "\(field) + \".\""
            w.line("try \(value)\(optional ? "?" : "").validate(at: \(prefix))")
        default:
            return
        }
    }

    private func literal(_ string: String) -> String { SwiftEmitter.literal(string) }
}

extension SchemaModel {
    var object: ObjectModel? {
        if case .object(let object) = self { return object }
        return nil
    }
}
