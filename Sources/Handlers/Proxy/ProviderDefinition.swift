public import Foundation

/// One provider as the providers file describes it. Policy is data: adding an OpenAI-compatible
/// provider is a file edit, not code.
public struct ProviderDefinition: Codable, Sendable, Equatable {
    /// The base URL of the built-in mock provider, served in process (`MockUpstream`).
    public static let mockBaseURL = "internal:mock"

    public enum AuthStyle: Codable, Sendable, Equatable {
        /// `Authorization: Bearer <key>`
        case bearer
        /// `<name>: <prefix><key>`, e.g. `x-api-key`, or `Authorization: Token <key>`.
        case header(name: String, prefix: String)
        /// `?<name>=<key>`. Only for providers that accept nothing else; the URL never reaches a log.
        case query(name: String)
        /// No key at all (public APIs).
        case none
    }

    public enum UsageFormat: String, Codable, Sendable, Equatable {
        case openai, anthropic, gemini, none
    }

    public struct Endpoint: Codable, Sendable, Equatable {
        /// `/chat/completions`, `/models/{model}`, `/models/{model}:generateContent`
        public var path: String {
            didSet { pattern = try? EndpointPattern(path) }
        }
        public var methods: [String]
        /// `path`, parsed once (nil when it is not a valid pattern: such an endpoint allows nothing).
        private(set) var pattern: EndpointPattern?

        public init(path: String, methods: [String]) {
            self.path = path
            self.methods = methods
            self.pattern = try? EndpointPattern(path)
        }

        enum CodingKeys: String, CodingKey {
            case path, methods
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                path: try container.decode(String.self, forKey: .path), methods: try container.decode([String].self, forKey: .methods))
        }
    }

    /// Micro-dollars per million tokens: integers, so accounting never rounds a float.
    public struct Price: Codable, Sendable, Equatable {
        public var inputMicrosPerMillion: Int64
        public var outputMicrosPerMillion: Int64
        public var cachedInputMicrosPerMillion: Int64?
    }

    public var id: String
    public var name: String
    public var baseURL: String
    /// Environment variable that overrides `baseURL` (`OPENAI_BASE_URL`).
    public var baseURLEnv: String?
    /// Environment variable holding the server's key (`OPENAI_API_KEY`); absent for `auth: none`.
    public var keyEnv: String?
    public var auth: AuthStyle
    /// Headers sent on every upstream request (`anthropic-version: 2023-06-01`).
    public var headers: [String: String]
    /// Client request headers allowed through, lowercase (`anthropic-beta`, `openai-organization`).
    public var passHeaders: [String]
    public var endpoints: [Endpoint]
    /// Path prefixes an official SDK adds after its base URL (`/v1` for Anthropic), removed on `/proxy/...`.
    public var sdkPrefixes: [String]
    public var usage: UsageFormat
    /// OpenAI-style streams report usage only when asked (`stream_options.include_usage`).
    public var requestStreamUsage: Bool
    public var prices: [String: Price]

    private enum CodingKeys: String, CodingKey {
        case id, name, baseURL, baseURLEnv, keyEnv, auth, headers, passHeaders, endpoints, sdkPrefixes, usage, requestStreamUsage, prices
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? id
        baseURL = try c.decode(String.self, forKey: .baseURL)
        baseURLEnv = try c.decodeIfPresent(String.self, forKey: .baseURLEnv)
        keyEnv = try c.decodeIfPresent(String.self, forKey: .keyEnv)
        auth = try c.decodeIfPresent(AuthStyle.self, forKey: .auth) ?? .bearer
        headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        passHeaders = (try c.decodeIfPresent([String].self, forKey: .passHeaders) ?? []).map { $0.lowercased() }
        endpoints = try c.decode([Endpoint].self, forKey: .endpoints)
        sdkPrefixes = try c.decodeIfPresent([String].self, forKey: .sdkPrefixes) ?? []
        usage = try c.decodeIfPresent(UsageFormat.self, forKey: .usage) ?? .none
        requestStreamUsage = try c.decodeIfPresent(Bool.self, forKey: .requestStreamUsage) ?? false
        prices = try c.decodeIfPresent([String: Price].self, forKey: .prices) ?? [:]
    }
}

extension ProviderDefinition.AuthStyle {
    private enum CodingKeys: String, CodingKey { case style, name, prefix }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .style) {
        case "bearer": self = .bearer
        case "header":
            self = .header(
                name: try c.decode(String.self, forKey: .name), prefix: try c.decodeIfPresent(String.self, forKey: .prefix) ?? "")
        case "query": self = .query(name: try c.decode(String.self, forKey: .name))
        case "none": self = .none
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .style, in: c, debugDescription: "auth style '\(other)' is not bearer, header, query or none")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .bearer: try c.encode("bearer", forKey: .style)
        case .header(let name, let prefix):
            try c.encode("header", forKey: .style)
            try c.encode(name, forKey: .name)
            try c.encode(prefix, forKey: .prefix)
        case .query(let name):
            try c.encode("query", forKey: .style)
            try c.encode(name, forKey: .name)
        case .none: try c.encode("none", forKey: .style)
        }
    }
}

/// The providers file: `{"providers": [...], "replace": false}`.
public struct ProvidersFile: Codable, Sendable {
    public var providers: [ProviderDefinition]
    /// true: this file is the whole list; false (default): it adds to and overrides the defaults by id.
    public var replace: Bool?
    /// Model names of the gateway (`/v1`) that stand for an ordered list of deployments: the first
    /// call spread over them by weight, fallbacks in the listed order (docs/gateway.md).
    public var aliases: [String: [Deployment]]?

    /// One place an alias's calls can go.
    public struct Deployment: Codable, Sendable, Equatable {
        /// `provider/model`, as `/v1` takes it.
        public var model: String
        /// The share of first attempts this deployment takes, relative to the others (default 1).
        public var weight: Int?
        /// What a call here costs, when it differs from the provider's price for the model.
        public var price: ProviderDefinition.Price?
    }

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func decode(_ data: Data, source: String) throws -> ProvidersFile {
        do {
            let file = try JSONDecoder().decode(ProvidersFile.self, from: data)
            try file.validate(source: source)
            return file
        } catch let error as LoadError {
            throw error
        } catch let DecodingError.keyNotFound(key, context) {
            throw LoadError(description: "\(source): \((context.codingPath + [key]).map(\.stringValue).joined(separator: ".")) is required")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw LoadError(
                description: "\(source): \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
        } catch {
            throw LoadError(description: "\(source): \(error)")
        }
    }

    /// The built-in providers, shipped as a resource.
    public static func defaults() throws -> ProvidersFile {
        guard let url = Bundle.module.url(forResource: "providers", withExtension: "json") else {
            throw LoadError(description: "the built-in providers.json resource is missing")
        }
        return try decode(try Data(contentsOf: url), source: "built-in providers.json")
    }

    /// The aliases of the defaults with a user's file's applied: replaced whole, or merged by name.
    public static func mergedAliases(defaults: ProvidersFile, user: ProvidersFile?) -> [String: [Deployment]] {
        guard let user else { return defaults.aliases ?? [:] }
        if user.replace == true { return user.aliases ?? [:] }
        return (defaults.aliases ?? [:]).merging(user.aliases ?? [:]) { _, user in user }
    }

    /// The defaults with a user's file applied: replaced whole, or merged by id.
    public static func merged(defaults: ProvidersFile, user: ProvidersFile?) -> [ProviderDefinition] {
        guard let user else { return defaults.providers }
        if user.replace == true { return user.providers }
        var result = defaults.providers
        for provider in user.providers {
            if let index = result.firstIndex(where: { $0.id == provider.id }) {
                result[index] = provider
            } else {
                result.append(provider)
            }
        }
        return result
    }

    func validate(source: String) throws {
        for (name, deployments) in aliases ?? [:] {
            guard name.range(of: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", options: .regularExpression) != nil else {
                throw LoadError(description: "\(source): alias '\(name)' must be 1 to 64 of A-Z a-z 0-9 . _ : - (no /)")
            }
            guard !deployments.isEmpty else { throw LoadError(description: "\(source): alias '\(name)' lists no deployment") }
            for deployment in deployments {
                let parts = deployment.model.split(separator: "/", maxSplits: 1)
                guard parts.count == 2 else {
                    throw LoadError(description: "\(source): alias '\(name)': '\(deployment.model)' is not provider/model")
                }
                guard (deployment.weight ?? 1) >= 1 else {
                    throw LoadError(description: "\(source): alias '\(name)': a weight is at least 1")
                }
            }
        }
        var seen: Set<String> = []
        for provider in providers {
            guard provider.id.range(of: "^[a-z0-9][a-z0-9-]{0,31}$", options: .regularExpression) != nil else {
                throw LoadError(description: "\(source): provider id '\(provider.id)' must be 1 to 32 of a-z 0-9 -")
            }
            guard seen.insert(provider.id).inserted else {
                throw LoadError(description: "\(source): provider '\(provider.id)' is listed twice")
            }
            if provider.baseURL != ProviderDefinition.mockBaseURL {
                guard let url = URL(string: provider.baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                    url.query == nil, url.fragment == nil
                else {
                    throw LoadError(
                        description: "\(source): provider '\(provider.id)': baseURL must be an http(s) URL without query or fragment")
                }
            }
            for endpoint in provider.endpoints {
                do {
                    _ = try EndpointPattern(endpoint.path)
                } catch {
                    throw LoadError(description: "\(source): provider '\(provider.id)': endpoint '\(endpoint.path)': \(error)")
                }
                for method in endpoint.methods where !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) {
                    throw LoadError(
                        description: "\(source): provider '\(provider.id)': method '\(method)' is not GET, POST, PUT, PATCH or DELETE")
                }
            }
        }
    }
}
