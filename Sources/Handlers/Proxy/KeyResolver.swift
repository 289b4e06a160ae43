public import Generated

/// The key stage: which key calls the provider. The caller's split key when the call names one
/// (it must open: never a silent fall back to the server's key), else the server's.
public struct KeyResolver: Sendable {
    /// Nil: split keys are off (`byok_disabled`).
    let splitKeys: SplitKeyService?

    public init(splitKeys: SplitKeyService?) {
        self.splitKeys = splitKeys
    }

    /// The key of one call, and the split key's budgets when it is one.
    public struct Resolved: Sendable {
        public var key: Secret<String>?
        public var splitKey: (id: String, budgets: Budgets)?
    }

    public func resolve(_ call: ProxyCall) async throws -> Resolved {
        guard let splitKey = call.splitKey else {
            guard call.provider.isConfigured else { throw AppError.providerNotConfigured }
            return Resolved(key: call.provider.key)
        }
        guard let splitKeys else { throw AppError.byokDisabled }
        let opened = try await splitKeys.keyForRequest(keyId: splitKey.id, part: splitKey.part, user: call.user, provider: call.provider.id)
        return Resolved(key: opened.key, splitKey: (splitKey.id, opened.budgets))
    }
}
