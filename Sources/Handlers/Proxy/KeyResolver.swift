public import Generated

/// The key stage: which key calls the provider. The caller's split key when the call names one
/// (it must open: never a silent fall back to the server's key), else the server's.
public struct KeyResolver: Sendable {
    /// Nil: split keys are off (`byok_disabled`).
    let splitKeys: SplitKeyService?

    public init(splitKeys: SplitKeyService?) {
        self.splitKeys = splitKeys
    }

    /// The key of one call: the caller's split key (with its budgets), or the pool of the
    /// server's keys, from which each attempt takes one (`lease`).
    public struct Resolved: Sendable {
        public var key: Secret<String>?
        public var splitKey: (id: String, budgets: Budgets)?
        var pool: KeyPool?

        /// The key for one attempt, and the lease that holds it (nil for a split key, or a provider
        /// without keys). Throws when every server key has been taken out of the pool.
        func lease() throws -> (key: Secret<String>?, lease: KeyPool.Lease?) {
            guard let pool else { return (key, nil) }
            guard let lease = pool.take() else { throw AppError.providerNotConfigured }
            return (lease.key, lease)
        }
    }

    public func resolve(_ call: ProxyCall) async throws -> Resolved {
        guard let splitKey = call.splitKey else {
            guard call.provider.isConfigured else { throw AppError.providerNotConfigured }
            return Resolved(pool: call.provider.keys)
        }
        guard let splitKeys else { throw AppError.byokDisabled }
        let opened = try await splitKeys.keyForRequest(keyId: splitKey.id, part: splitKey.part, user: call.user, provider: call.provider.id)
        return Resolved(key: opened.key, splitKey: (splitKey.id, opened.budgets))
    }
}
