import Foundation
import OpenAPIKit
import Yams

/// A construct the generator does not support, or a spec that breaks one of our rules.
/// It names the file, the JSON pointer and the reason, so the author knows what to change.
struct CodegenError: Error, CustomStringConvertible, Equatable {
    var file: String
    var pointer: String
    var reason: String

    var description: String { "\(file)#\(pointer): \(reason)" }
}

/// Reads an OpenAPI 3.1 document into an `APIModel`.
struct SpecReader {
    var file: String

    func read(yaml: String) throws -> APIModel {
        let document: OpenAPI.Document
        do {
            document = try YAMLDecoder().decode(OpenAPI.Document.self, from: yaml)
        } catch {
            throw CodegenError(file: file, pointer: "", reason: "not a valid OpenAPI 3.1 document: \(error)")
        }
        do {
            _ = try document.validate()
        } catch {
            throw CodegenError(file: file, pointer: "", reason: "the document does not validate: \(error)")
        }
        let schemas = try readSchemas(document.components.schemas)
        let enumNames = Set(
            schemas.compactMap { schema -> String? in
                if case .stringEnum(let model) = schema { return model.name }
                return nil
            })
        let operations = try readOperations(document, enumNames: enumNames)
        let schemaNames = Set(schemas.map(\.name))
        for operation in operations where schemaNames.contains(operation.typeName) {
            throw CodegenError(
                file: file, pointer: "/paths/" + Self.escape(operation.path) + "/" + operation.method.lowercased() + "/operationId",
                reason:
                    "operationId '\(operation.id)' makes Operations.\(operation.typeName), which would shadow the schema \(operation.typeName); rename one"
            )
        }
        return APIModel(title: document.info.title, version: document.info.version, schemas: schemas, operations: operations)
    }

    // MARK: Schemas

    private func readSchemas(_ schemas: OrderedDictionary<OpenAPI.ComponentKey, JSONSchema>) throws -> [SchemaModel] {
        var models: [SchemaModel] = []
        for (key, schema) in schemas {
            let pointer = "/components/schemas/\(Self.escape(key.rawValue))"
            let name = Naming.typeName(forSchema: key.rawValue)
            switch schema.value {
            case .object(let core, let object):
                if !object.properties.isEmpty || object.additionalProperties == nil || object.additionalProperties?.a == false {
                    if let extra = object.additionalProperties, extra.a != false {
                        throw CodegenError(
                            file: file, pointer: pointer, reason: "an object with both properties and additionalProperties is not supported"
                        )
                    }
                    models.append(.object(try readObject(name: name, doc: core.description, object: object, pointer: pointer)))
                } else if let valueSchema = object.additionalProperties?.b {
                    var unused: [EnumModel] = []
                    let value = try swiftType(
                        valueSchema, pointer: pointer + "/additionalProperties", owner: name, nestedName: nil, collected: &unused)
                    models.append(.map(name: name, doc: core.description, value: value))
                } else {
                    throw CodegenError(file: file, pointer: pointer, reason: "a free-form object needs an additionalProperties schema")
                }
            case .string(let core, _):
                guard let values = core.allowedValues else {
                    throw CodegenError(file: file, pointer: pointer, reason: "a top-level string schema must be an enum")
                }
                models.append(.stringEnum(try readEnum(name: name, doc: core.description, values: values, pointer: pointer)))
            case .all(let parts, let core):
                // An object plus constraints that add no fields (`anyOf` of `required` lists): the
                // type is the object; the handler enforces the constraints.
                let objects = parts.compactMap { part -> JSONSchema.ObjectContext? in
                    guard case .object(_, let object) = part.value, !Self.isConstraintOnly(part) else { return nil }
                    return object
                }
                guard objects.count == 1, let object = objects.first,
                    parts.allSatisfy({ Self.isConstraintOnly($0) || $0.objectContext == object })
                else {
                    throw CodegenError(
                        file: file, pointer: pointer, reason: "allOf is supported only as an object plus anyOf/oneOf of required lists")
                }
                models.append(
                    .object(
                        try readObject(
                            name: name, doc: core.description ?? parts.compactMap(\.description).first, object: object, pointer: pointer)))
            default:
                throw CodegenError(
                    file: file, pointer: pointer, reason: "only object, map and string-enum schemas are supported in components.schemas")
            }
        }
        return models.sorted { $0.name < $1.name }
    }

    private func readObject(name: String, doc: String?, object: JSONSchema.ObjectContext, pointer: String) throws -> ObjectModel {
        var properties: [PropertyModel] = []
        var nested: [EnumModel] = []
        var seen: Set<String> = []
        var aliases: [(alias: PropertyModel, target: String, pointer: String)] = []
        for (jsonName, schema) in object.properties {
            let propertyPointer = pointer + "/properties/" + Self.escape(jsonName)
            let swiftName = Naming.lowerCamel(jsonName)
            guard seen.insert(swiftName).inserted else {
                throw CodegenError(file: file, pointer: propertyPointer, reason: "two properties map to the Swift name '\(swiftName)'")
            }
            if let target = schema.vendorExtensions["x-alias-of"] {
                guard let target = target.value as? String, schema.deprecated, !object.requiredProperties.contains(jsonName) else {
                    throw CodegenError(
                        file: file, pointer: propertyPointer + "/x-alias-of",
                        reason: "x-alias-of names another property, on an optional property marked deprecated")
                }
                var unused: [EnumModel] = []
                let type = try swiftType(schema, pointer: propertyPointer, owner: name, nestedName: nil, collected: &unused)
                aliases.append(
                    (
                        PropertyModel(
                            jsonName: jsonName, swiftName: swiftName, type: type, required: false, nullable: false,
                            rules: try rules(schema, pointer: propertyPointer)), target, propertyPointer
                    )
                )
                continue
            }
            var collected: [EnumModel] = []
            let type = try swiftType(
                schema, pointer: propertyPointer, owner: name, nestedName: Naming.nestedTypeName(jsonName), collected: &collected)
            nested.append(contentsOf: collected)
            properties.append(
                PropertyModel(
                    jsonName: jsonName,
                    swiftName: swiftName,
                    type: type,
                    required: object.requiredProperties.contains(jsonName),
                    nullable: schema.nullable,
                    doc: schema.description,
                    rules: try rules(schema, pointer: propertyPointer)
                ))
        }
        var model = ObjectModel(name: name, doc: doc, properties: properties, nestedEnums: nested)
        for (alias, targetName, aliasPointer) in aliases {
            guard let target = properties.first(where: { $0.jsonName == targetName }), target.type == alias.type,
                target.rules == alias.rules, !target.nullable, model.alias(of: target) == nil
            else {
                throw CodegenError(
                    file: file, pointer: aliasPointer + "/x-alias-of",
                    reason: "'\(targetName)' must be another non-nullable property of the same type and constraints, with no other alias")
            }
            model.aliases.append(.init(jsonName: alias.jsonName, swiftName: alias.swiftName, target: target.swiftName))
        }
        return model
    }

    private func readEnum(name: String, doc: String?, values: [AnyCodable], pointer: String) throws -> EnumModel {
        var cases: [EnumCase] = []
        var seen: Set<String> = []
        for value in values {
            guard let raw = value.value as? String else {
                throw CodegenError(file: file, pointer: pointer + "/enum", reason: "only string enums are supported")
            }
            let swiftName = Naming.lowerCamel(raw)
            guard seen.insert(swiftName).inserted else {
                throw CodegenError(file: file, pointer: pointer + "/enum", reason: "two enum values map to the Swift case '\(swiftName)'")
            }
            cases.append(EnumCase(swiftName: swiftName, rawValue: raw))
        }
        return EnumModel(name: name, doc: doc, cases: cases)
    }

    /// The Swift type of a property, parameter or body schema. Inline string enums become nested
    /// enums named after the property; inline objects are refused (name them in components).
    private func swiftType(
        _ schema: JSONSchema,
        pointer: String,
        owner: String,
        nestedName: String?,
        collected: inout [EnumModel]
    ) throws -> SwiftType {
        switch schema.value {
        case .reference(let reference, _):
            guard let name = reference.name, reference.isInternal else {
                throw CodegenError(file: file, pointer: pointer, reason: "only local references to components.schemas are supported")
            }
            return .named(Naming.typeName(forSchema: name))
        case .string(let core, _):
            if let values = core.allowedValues {
                guard let nestedName else {
                    throw CodegenError(file: file, pointer: pointer, reason: "an inline enum is supported only as an object property")
                }
                collected.append(try readEnum(name: nestedName, doc: core.description, values: values, pointer: pointer))
                return .named(owner + "." + nestedName)
            }
            switch core.format {
            case .dateTime: return .date
            case .uuid: return .uuid
            // Formats that only annotate a string stay `String`.
            case .generic, .date, .email, .hostname, .ipv4, .ipv6, .password, .uri, .uriReference: return .string
            default:
                throw CodegenError(
                    file: file, pointer: pointer + "/format", reason: "string format '\(core.format.rawValue)' is not supported")
            }
        case .integer(let core, _):
            switch core.format {
            case .int32: return .int32
            case .generic, .int64: return .int64
            default:
                throw CodegenError(
                    file: file, pointer: pointer + "/format", reason: "integer format '\(core.format.rawValue)' is not supported")
            }
        case .number:
            return .double
        case .boolean:
            return .bool
        case .array(_, let array):
            guard let items = array.items else {
                throw CodegenError(file: file, pointer: pointer, reason: "an array needs an items schema")
            }
            return .array(try swiftType(items, pointer: pointer + "/items", owner: owner, nestedName: nestedName, collected: &collected))
        case .object(_, let object) where object.properties.isEmpty:
            guard let value = object.additionalProperties?.b else {
                throw CodegenError(file: file, pointer: pointer, reason: "a free-form object needs an additionalProperties schema")
            }
            return .dictionary(
                try swiftType(value, pointer: pointer + "/additionalProperties", owner: owner, nestedName: nil, collected: &collected))
        case .object:
            throw CodegenError(
                file: file, pointer: pointer, reason: "inline object schemas are not supported; name it in components.schemas and use $ref")
        case .one, .any, .all, .not:
            throw CodegenError(file: file, pointer: pointer, reason: "oneOf/anyOf/allOf/not are not supported yet")
        case .null, .fragment:
            throw CodegenError(file: file, pointer: pointer, reason: "a schema without a concrete type is not supported")
        }
    }

    // MARK: Validation keywords

    /// The validation keywords of a property or parameter schema that decoding does not check.
    /// A `$ref` carries none here: the referenced object validates itself. Keywords the server
    /// would not enforce are refused, so the spec never promises a check that does not happen.
    private func rules(_ schema: JSONSchema, pointer: String) throws -> ValueRules {
        var rules = ValueRules()
        switch schema.value {
        case .string(_, let string):
            rules.minLength = string.minLength
            rules.maxLength = string.maxLength
            if let source = string.pattern {
                do {
                    rules.pattern = (source, try PatternParser.parse(source))
                } catch {
                    throw CodegenError(file: file, pointer: pointer + "/pattern", reason: error.reason)
                }
            }
        case .integer(_, let integer):
            if integer.multipleOf != nil || integer.minimum?.exclusive == true || integer.maximum?.exclusive == true {
                throw CodegenError(
                    file: file, pointer: pointer, reason: "multipleOf and exclusive bounds are not supported; use minimum and maximum")
            }
            rules.minimum = integer.minimum.map { Int64($0.value) }
            rules.maximum = integer.maximum.map { Int64($0.value) }
        case .number(_, let number):
            if number.multipleOf != nil || number.minimum != nil || number.maximum != nil {
                throw CodegenError(file: file, pointer: pointer, reason: "bounds on a number are not supported; use an integer")
            }
        case .array(_, let array):
            if array.uniqueItems {
                throw CodegenError(file: file, pointer: pointer + "/uniqueItems", reason: "uniqueItems is not supported")
            }
            rules.minCount = array.minItems
            rules.maxCount = array.maxItems
            if let items = array.items {
                let element = try self.rules(items, pointer: pointer + "/items")
                if !element.isEmpty { rules.element = .init(element) }
            }
        case .object(_, let object):
            rules.minCount = object.minProperties
            rules.maxCount = object.maxProperties
            if let value = object.additionalProperties?.b {
                let element = try self.rules(value, pointer: pointer + "/additionalProperties")
                if !element.isEmpty { rules.element = .init(element) }
            }
        default:
            break
        }
        return rules
    }

    // MARK: Operations

    /// The operation's policy extensions; an unknown value is refused.
    private func policy(_ extensions: [String: AnyCodable], pointer: String) throws -> OperationModel.Policy {
        var policy = OperationModel.Policy()
        if let value = extensions["x-audit-action"] {
            guard let action = value.value as? String, (1...64).contains(action.utf8.count),
                action.utf8.allSatisfy({
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                })
            else {
                throw CodegenError(
                    file: file, pointer: pointer + "/x-audit-action", reason: "an audit action is 1 to 64 of a-z, '_' or '.'")
            }
            policy.auditAction = action
        }
        if let value = extensions["x-no-store"] {
            guard let noStore = value.value as? Bool else {
                throw CodegenError(file: file, pointer: pointer + "/x-no-store", reason: "x-no-store is true or false")
            }
            policy.noStore = noStore
        }
        if let value = extensions["x-rate-limit"] {
            guard let limit = value.value as? String, Self.rateLimitClasses.contains(limit) else {
                throw CodegenError(
                    file: file, pointer: pointer + "/x-rate-limit",
                    reason: "x-rate-limit is one of \(Self.rateLimitClasses.sorted().joined(separator: ", "))")
            }
            policy.rateLimit = limit
        }
        return policy
    }

    /// The rate-limit classes the runtime's `RateLimitClass` knows.
    static let rateLimitClasses: Set<String> = ["address", "auth"]

    private func readOperations(_ document: OpenAPI.Document, enumNames: Set<String>) throws -> [OperationModel] {
        var operations: [OperationModel] = []
        var seenIds: Set<String> = []
        let defaultSecurity = document.security
        for (path, item) in document.paths {
            let pathPointer = "/paths/" + Self.escape(path.rawValue)
            guard let pathItem = item.b else {
                throw CodegenError(file: file, pointer: pathPointer, reason: "path item references are not supported")
            }
            if !pathItem.parameters.isEmpty {
                throw CodegenError(
                    file: file, pointer: pathPointer + "/parameters", reason: "declare parameters on each operation, not on the path item")
            }
            for endpoint in pathItem.endpoints {
                let method = endpoint.method.rawValue.uppercased()
                let pointer = pathPointer + "/" + method.lowercased()
                let operation = endpoint.operation
                guard let id = operation.operationId else {
                    throw CodegenError(file: file, pointer: pointer, reason: "every operation needs an operationId")
                }
                guard seenIds.insert(id).inserted else {
                    throw CodegenError(file: file, pointer: pointer + "/operationId", reason: "operationId '\(id)' is used twice")
                }
                guard let tags = operation.tags, !tags.isEmpty else {
                    throw CodegenError(file: file, pointer: pointer + "/tags", reason: "every operation needs a tag")
                }
                let typeName = Naming.upperCamel(id)
                let rawBody = (operation.vendorExtensions["x-raw-body"]?.value as? Bool) == true
                let parameters = try readParameters(
                    operation.parameters, pointer: pointer, owner: "Operations.\(typeName).Input", enumNames: enumNames,
                    components: document.components)
                let body = rawBody ? nil : try readBody(operation.requestBody, pointer: pointer + "/requestBody")
                let responses = try readResponses(
                    operation.responses, pointer: pointer + "/responses", components: document.components, raw: rawBody)
                if parameters.dropLast().contains(where: \.catchAll) {
                    throw CodegenError(file: file, pointer: pointer + "/parameters", reason: "only the last parameter may be x-catch-all")
                }
                if (!parameters.isEmpty || body != nil || rawBody) && !responses.contains(where: { $0.status == 400 }) {
                    throw CodegenError(
                        file: file, pointer: pointer + "/responses", reason: "an operation with inputs must document 400 (invalid input)")
                }
                let requirements = operation.security ?? defaultSecurity
                if requirements.contains(where: { $0.count > 1 }) {
                    throw CodegenError(
                        file: file, pointer: pointer + "/security",
                        reason: "a requirement naming several schemes at once is not supported; list alternatives instead")
                }
                let security = requirements.flatMap { requirement in requirement.keys.compactMap(\.name) }
                let routerPath = try routerPath(path, parameters: parameters, pointer: pathPointer)
                operations.append(
                    OperationModel(
                        id: id,
                        typeName: typeName,
                        method: method,
                        path: path.rawValue,
                        routerPath: routerPath,
                        tags: tags,
                        summary: operation.summary,
                        security: security.sorted(),
                        parameters: parameters,
                        body: body,
                        responses: responses,
                        rawBody: rawBody,
                        passesUpstream: rawBody && operation.responses.contains { $0.key.value == .default },
                        policy: try policy(operation.vendorExtensions, pointer: pointer)
                    ))
            }
        }
        return operations.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    private func readParameters(
        _ parameters: OpenAPI.Parameter.Array, pointer: String, owner: String, enumNames: Set<String>, components: OpenAPI.Components
    ) throws -> [OperationModel.Parameter] {
        var models: [OperationModel.Parameter] = []
        var seen: Set<String> = ["body"]
        for (index, entry) in parameters.enumerated() {
            let (parameter, parameterPointer) = try resolve(
                entry, in: components.parameters, kind: "parameters", pointer: pointer + "/parameters/\(index)")
            let location: OperationModel.ParameterLocation
            switch parameter.location {
            case .path: location = .path
            case .query: location = .query
            case .header: location = .header
            default:
                throw CodegenError(
                    file: file, pointer: parameterPointer + "/in", reason: "only path, query and header parameters are supported")
            }
            guard let schemaOrReference = parameter.schemaOrContent.a?.schema else {
                throw CodegenError(file: file, pointer: parameterPointer, reason: "a parameter needs a schema")
            }
            var collected: [EnumModel] = []
            let type: SwiftType
            if let reference = schemaOrReference.a {
                guard let name = reference.jsonReference.name, reference.jsonReference.isInternal,
                    enumNames.contains(Naming.typeName(forSchema: name))
                else {
                    throw CodegenError(
                        file: file, pointer: parameterPointer + "/schema",
                        reason: "a parameter may only reference a string enum of components.schemas")
                }
                type = .named(Naming.typeName(forSchema: name))
            } else {
                type = try swiftType(
                    schemaOrReference.b!, pointer: parameterPointer + "/schema", owner: owner,
                    nestedName: Naming.nestedTypeName(parameter.name), collected: &collected)
            }
            guard type.isScalar else {
                throw CodegenError(
                    file: file, pointer: parameterPointer + "/schema",
                    reason: "parameters must be scalars (string, integer, number, boolean or string enum)")
            }
            if !collected.isEmpty {
                throw CodegenError(
                    file: file, pointer: parameterPointer + "/schema",
                    reason: "inline enums in parameters are not supported; name the enum in components.schemas")
            }
            let swiftName = Naming.lowerCamel(parameter.name)
            guard seen.insert(swiftName).inserted else {
                throw CodegenError(
                    file: file, pointer: parameterPointer,
                    reason: "parameter '\(parameter.name)' clashes with another input named '\(swiftName)'")
            }
            let catchAll = (parameter.vendorExtensions["x-catch-all"]?.value as? Bool) == true
            if catchAll && (location != .path || type != .string) {
                throw CodegenError(file: file, pointer: parameterPointer, reason: "x-catch-all is for a string path parameter")
            }
            models.append(
                .init(
                    name: parameter.name, swiftName: swiftName, location: location, type: type, required: parameter.required,
                    doc: parameter.description, catchAll: catchAll,
                    rules: try schemaOrReference.b.map { try rules($0, pointer: parameterPointer + "/schema") } ?? ValueRules()))
        }
        return models
    }

    private func readBody(_ body: Either<OpenAPI.Reference<OpenAPI.Request>, OpenAPI.Request>?, pointer: String) throws -> OperationModel
        .Body?
    {
        guard let body else { return nil }
        guard let request = body.b else {
            throw CodegenError(file: file, pointer: pointer, reason: "request body references are not supported")
        }
        guard request.content.count == 1, let schema = request.content[.json]?.b?.schema else {
            throw CodegenError(
                file: file, pointer: pointer + "/content", reason: "a request body must have exactly one application/json schema")
        }
        var unused: [EnumModel] = []
        let type = try swiftType(
            schema, pointer: pointer + "/content/application~1json/schema", owner: "", nestedName: nil, collected: &unused)
        guard case .named = type, unused.isEmpty else {
            throw CodegenError(
                file: file, pointer: pointer + "/content/application~1json/schema", reason: "a request body must $ref a components schema")
        }
        return .init(type: type, required: request.required)
    }

    private func readResponses(_ responses: OpenAPI.Response.Map, pointer: String, components: OpenAPI.Components, raw: Bool) throws
        -> [OperationModel.Response]
    {
        var models: [OperationModel.Response] = []
        for (code, entry) in responses {
            let statusPointer = pointer + "/" + Self.escape(code.rawValue)
            if raw, case .default = code.value { continue }  // the upstream's own statuses
            guard case .status(let status) = code.value else {
                throw CodegenError(
                    file: file, pointer: statusPointer, reason: "document each status explicitly; ranges and 'default' are not supported")
            }
            let (response, responsePointer) = try resolve(entry, in: components.responses, kind: "responses", pointer: statusPointer)
            var bodyType: SwiftType?
            if raw, response.content[.json]?.b?.schema?.reference == nil {
                // A passthrough answer (the provider's JSON, SSE or binary): not ours to decode.
                bodyType = nil
            } else if !response.content.isEmpty {
                // A raw operation may also answer other media types (CSV, say); its JSON is still typed.
                guard raw || response.content.count == 1, let schema = response.content[.json]?.b?.schema else {
                    throw CodegenError(
                        file: file, pointer: responsePointer + "/content",
                        reason: "a response must have exactly one application/json schema, or none")
                }
                var unused: [EnumModel] = []
                let type = try swiftType(
                    schema, pointer: responsePointer + "/content/application~1json/schema", owner: "", nestedName: nil, collected: &unused)
                guard case .named = type, unused.isEmpty else {
                    throw CodegenError(
                        file: file, pointer: responsePointer + "/content/application~1json/schema",
                        reason: "a response body must $ref a components schema")
                }
                bodyType = type
            }
            let headers = try readHeaders(response.headers ?? [:], pointer: responsePointer + "/headers", components: components)
            models.append(
                .init(
                    status: status, caseName: Naming.caseName(forStatus: status), body: bodyType,
                    headers: headers.filter { !$0.edge }.map(\.header),
                    edgeHeaders: headers.filter(\.edge).map(\.header),
                    untypedMediaTypes: bodyType == nil ? response.content.keys.map(\.rawValue).sorted() : []))
        }
        return models.sorted { $0.status < $1.status }
    }

    /// A response's headers, each with whether the edge sets it (`x-edge: true`).
    private func readHeaders(_ headers: OpenAPI.Header.Map, pointer: String, components: OpenAPI.Components) throws -> [(
        header: OperationModel.Header, edge: Bool
    )] {
        var models: [(header: OperationModel.Header, edge: Bool)] = []
        for (name, entry) in headers {
            let (header, headerPointer) = try resolve(
                entry, in: components.headers, kind: "headers", pointer: pointer + "/" + Self.escape(name))
            guard let schema = header.schemaOrContent.a?.schema.b else {
                throw CodegenError(file: file, pointer: headerPointer, reason: "a header needs an inline schema")
            }
            var collected: [EnumModel] = []
            let type = try swiftType(schema, pointer: headerPointer + "/schema", owner: "", nestedName: nil, collected: &collected)
            let isEnum: Bool
            if case .named = type { isEnum = true } else { isEnum = false }
            guard type.isScalar, !isEnum else {
                throw CodegenError(
                    file: file, pointer: headerPointer + "/schema", reason: "a header must be a string, integer, number or boolean")
            }
            let edge = (header.vendorExtensions["x-edge"]?.value as? Bool) == true
            models.append(
                (
                    .init(name: name, swiftName: Naming.lowerCamel(name), type: type, required: header.required, doc: header.description),
                    edge
                ))
        }
        return models.sorted { $0.header.name < $1.header.name }
    }

    /// `/users/{userId}` becomes Hummingbird's `/users/:userId`; every template variable must be a
    /// declared path parameter and the other way round.
    private func routerPath(_ path: OpenAPI.Path, parameters: [OperationModel.Parameter], pointer: String) throws -> String {
        var declared = Set(parameters.filter { $0.location == .path }.map(\.name))
        var segments: [String] = []
        for component in path.components {
            if component.hasPrefix("{") && component.hasSuffix("}") {
                let name = String(component.dropFirst().dropLast())
                guard declared.remove(name) != nil else {
                    throw CodegenError(file: file, pointer: pointer, reason: "path variable '\(name)' has no path parameter")
                }
                let catchAll = parameters.first { $0.name == name }?.catchAll == true
                segments.append(catchAll ? "**" : ":" + name)
            } else if component.contains("{") || component.contains("}") {
                throw CodegenError(file: file, pointer: pointer, reason: "a path variable must fill a whole segment")
            } else {
                segments.append(component)
            }
        }
        if let extra = declared.first {
            throw CodegenError(file: file, pointer: pointer, reason: "path parameter '\(extra)' is not in the path")
        }
        return "/" + segments.joined(separator: "/")
    }

    /// An inline value, or the one a local `$ref` names in `components.<kind>`, with the pointer
    /// where it is written (for errors).
    private func resolve<Value>(
        _ entry: Either<OpenAPI.Reference<Value>, Value>,
        in dictionary: OpenAPI.ComponentReferenceDictionary<Value>,
        kind: String,
        pointer: String
    ) throws -> (Value, String) {
        guard let reference = entry.a else { return (entry.b!, pointer) }
        guard let name = reference.jsonReference.name, reference.jsonReference.isInternal,
            let key = OpenAPI.ComponentKey(rawValue: name), let found = dictionary[key]?.b
        else {
            throw CodegenError(file: file, pointer: pointer, reason: "only references to components.\(kind) are supported")
        }
        return (found, "/components/\(kind)/" + Self.escape(name))
    }

    /// A schema that only constrains which properties are present (`required` lists combined with
    /// anyOf/oneOf/allOf), adding no property of its own.
    static func isConstraintOnly(_ schema: JSONSchema) -> Bool {
        switch schema.value {
        case .fragment: return true
        case .any(let members, _), .one(let members, _), .all(let members, _): return members.allSatisfy(isConstraintOnly)
        case .object(_, let object):
            return object.additionalProperties == nil
                && object.properties.values.allSatisfy { property in
                    if case .fragment = property.value { return true }
                    return false
                }
        default: return false
        }
    }

    /// JSON pointer escaping (RFC 6901).
    static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
