import Foundation

/// A provider ready for use: its definition, its base URL after environment overrides, and the
/// server's key for it (nil: not configured, unless it needs no key).
public struct Provider: Sendable {
    public let definition: ProviderDefinition
    public let baseURL: String
    /// The server's keys for it (nil: none).
    public let keys: KeyPool?

    public var id: String { definition.id }
    /// Whether the server can call it: it has a key, or needs none.
    public var isConfigured: Bool {
        if case .none = definition.auth { return true }
        return keys != nil
    }
    public var isMock: Bool { baseURL == ProviderDefinition.mockBaseURL }

    public init(definition: ProviderDefinition, baseURL: String, keys: [Secret<String>]) {
        self.definition = definition
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.keys = keys.isEmpty ? nil : KeyPool(keys: keys)
    }

}

/// Every provider by id, built once at start from the providers file and the environment.
public struct ProviderRegistry: KeyedProviders {
    public let providers: [Provider]
    /// The gateway's model aliases, each an ordered list of deployments.
    public let aliases: [String: [ProvidersFile.Deployment]]
    private let byId: [String: Provider]

    public init(providers: [Provider], aliases: [String: [ProvidersFile.Deployment]] = [:]) {
        self.providers = providers
        self.aliases = aliases
        self.byId = Dictionary(providers.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    public func provider(_ id: String) -> Provider? { byId[id.lowercased()] }

    /// The built-in mock takes a split key (and ignores it), so BYOK can be tried offline.
    public func takesKey(_ providerId: String) -> Bool? {
        provider(providerId).map { $0.isMock || $0.definition.auth != .none }
    }

    /// Resolves definitions: `env` answers environment variables (the server's config reader).
    /// `mockEnabled` false drops the built-in mock.
    public static func resolve(
        _ definitions: [ProviderDefinition], aliases: [String: [ProvidersFile.Deployment]] = [:], mockEnabled: Bool,
        env: (String) -> String?
    ) -> ProviderRegistry {
        let providers = definitions.compactMap { definition -> Provider? in
            let baseURL = definition.baseURLEnv.flatMap(env).flatMap { $0.isEmpty ? nil : $0 } ?? definition.baseURL
            if baseURL == ProviderDefinition.mockBaseURL && !mockEnabled { return nil }
            // `OPENAI_API_KEYS=k1,k2,…` and `OPENAI_API_KEY`: one pool, each key once.
            var keys: [String] = []
            for text in [definition.keyEnv.flatMap { env($0 + "S") }, definition.keyEnv.flatMap(env)] {
                for key in (text ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !key.isEmpty {
                    if !keys.contains(key) { keys.append(key) }
                }
            }
            return Provider(definition: definition, baseURL: baseURL, keys: keys.map { Secret($0) })
        }
        return ProviderRegistry(providers: providers, aliases: aliases)
    }
}
