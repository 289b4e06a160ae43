import Foundation
public import Generated
public import Logging

/// What split keys need to know of the providers (the proxy's registry answers it).
public protocol KeyedProviders: Sendable {
    /// nil: no such provider; false: it is called without a key, so there is nothing to split.
    func takesKey(_ providerId: String) -> Bool?
}

/// Splitting, listing, rotating, deleting and using BYOK keys. A key is found only among the
/// caller's own (ids are per user), used only for its own provider, and in clear only in memory.
public struct SplitKeyService: Sendable {
    let store: SplitKeyStore
    /// Nil: split keys are off (`byok_disabled`).
    let vault: KeyVault?
    let providers: any KeyedProviders
    let splitLimiter: RateLimiter
    let logger: Logger

    let events: WebhookEvents

    public init(
        store: SplitKeyStore, events: WebhookEvents, vault: KeyVault?, registry: any KeyedProviders, splitsPerMinute: Int, logger: Logger
    ) {
        self.store = store
        self.events = events
        self.vault = vault
        self.providers = registry
        self.splitLimiter = RateLimiter(limit: splitsPerMinute, window: .seconds(60))
        self.logger = logger
    }

    func requireVault() throws(AppError) -> KeyVault {
        guard let vault else { throw .byokDisabled }
        return vault
    }

    public func split(_ request: SplitKeyRequest, user: AuthenticatedUser) async throws -> SplitKeyCreated {
        let vault = try requireVault()
        let providerId = request.provider.lowercased()
        // The built-in mock takes a split key (and ignores it), so BYOK can be tried offline; any
        // other provider that takes no key has nothing for a split key to hold.
        guard let takesKey = providers.takesKey(providerId) else { throw AppError.providerNotFound }
        guard takesKey else {
            throw AppError.unprocessable(
                code: "provider_takes_no_key", message: "The provider '\(providerId)' is called without a key: there is nothing to split.")
        }
        let budgets = request.budgets ?? Budgets()
        let decision = splitLimiter.admit("split:" + user.userId)
        guard decision.allowed else {
            throw AppError.rateLimited(retryAfter: decision.standing.resetSeconds, limit: decision.standing.limit)
        }
        let keyId = request.keyId ?? "sk_" + Credentials.newId()
        let now = Millis.now()
        let (sealed, clientPart) = try vault.seal(
            request.apiKey, binding: SplitKeyBinding(keyId: keyId, owner: user.userId, provider: providerId, version: 1))
        let record = SplitKeyRecord(
            userId: user.userId, keyId: keyId, provider: providerId, version: 1,
            ciphertext: Hex.encode(sealed.ciphertext), nonce: Hex.encode(sealed.nonce), tag: Hex.encode(sealed.tag),
            description: request.description, useCount: 0, lastUsedAtMs: nil, createdAtMs: now, updatedAtMs: now, revokedAtMs: nil,
            dailyTokenBudget: budgets.dailyTokens, monthlyTokenBudget: budgets.monthlyTokens,
            dailyCostBudgetMicros: budgets.dailyCostMicros, monthlyCostBudgetMicros: budgets.monthlyCostMicros
        )
        // The key and its `key.split` event are written together, or not at all.
        let (store, events) = (self.store, self.events)
        let inserted = try await store.database.transaction { sql in
            guard try await store.insert(record, on: sql) else { return false }
            try await events.queue(.keySplit, ["userId": user.userId, "keyId": keyId, "provider": providerId], on: sql)
            return true
        }
        guard inserted else { throw AppError.splitKeyExists }
        AuditTrail.note(target: keyId, after: Self.metadata(record))
        logger.notice(
            "split key created",
            metadata: ["user.id": .string(user.userId), "split_key.id": .string(keyId), "provider": .string(providerId)])
        return SplitKeyCreated(
            keyId: keyId, clientPart: ClientPart.encode(clientPart), provider: providerId, version: 1, createdAt: Millis.date(now))
    }

    public func list(user: AuthenticatedUser) async throws -> [SplitKey] {
        try await store.list(userId: user.userId, provider: nil).map(Self.metadata)
    }

    public func adminList(userId: String?, provider: String?) async throws -> [SplitKey] {
        try await store.list(userId: userId, provider: provider).map(Self.metadata)
    }

    public func get(_ keyId: String, user: AuthenticatedUser) async throws -> SplitKey {
        guard let record = try await store.get(userId: user.userId, keyId: keyId) else { throw AppError.splitKeyNotFound }
        return Self.metadata(record)
    }

    /// The owner changes the description or the budgets (all four at once).
    public func update(_ keyId: String, description: String?, budgets: Budgets?, user: AuthenticatedUser) async throws -> SplitKey {
        AuditTrail.note(target: keyId, before: try await store.get(userId: user.userId, keyId: keyId).map(Self.metadata))
        guard
            let record = try await store.update(
                userId: user.userId, keyId: keyId, description: description, budgets: budgets, now: Millis.now())
        else {
            throw AppError.splitKeyNotFound
        }
        AuditTrail.note(after: Self.metadata(record))
        return Self.metadata(record)
    }

    public func delete(_ keyId: String, owner: String) async throws {
        AuditTrail.note(target: keyId, before: try await store.get(userId: owner, keyId: keyId).map(Self.metadata))
        let (store, events) = (self.store, self.events)
        let revoked = try await store.database.transaction { sql in
            guard try await store.revoke(userId: owner, keyId: keyId, now: Millis.now(), on: sql) else { return false }
            try await events.queue(.keyRevoked, ["userId": owner, "keyId": keyId], on: sql)
            return true
        }
        guard revoked else { throw AppError.splitKeyNotFound }
        logger.notice("split key deleted", metadata: ["user.id": .string(owner), "split_key.id": .string(keyId)])
    }

    /// Erases every key of a user who is being deleted, each with its `key.revoked` event: a user
    /// made again with the same id does not find them.
    public func deleteAll(of userId: String) async throws {
        let (store, events) = (self.store, self.events)
        for key in try await store.list(userId: userId, provider: nil) where key.revokedAtMs == nil {
            try await store.database.transaction { sql in
                guard try await store.revoke(userId: userId, keyId: key.keyId, now: Millis.now(), on: sql) else { return }
                try await events.queue(.keyRevoked, ["userId": userId, "keyId": key.keyId], on: sql)
            }
        }
    }

    /// Re-encrypts under a new client part; the old part stops working.
    public func rotate(_ keyId: String, currentPart: String, user: AuthenticatedUser) async throws -> SplitKeyRotated {
        AuditTrail.note(target: keyId)
        let vault = try requireVault()
        guard let record = try await store.get(userId: user.userId, keyId: keyId) else { throw AppError.splitKeyNotFound }
        let apiKey = try open(record, clientPart: currentPart, vault: vault)
        let (sealed, clientPart) = try vault.seal(
            apiKey.value, binding: SplitKeyBinding(keyId: keyId, owner: user.userId, provider: record.provider, version: record.version + 1)
        )
        let (store, events, version) = (self.store, self.events, record.version)
        let resealed = try await store.database.transaction { sql in
            guard try await store.reseal(userId: user.userId, keyId: keyId, version: version, sealed: sealed, now: Millis.now(), on: sql)
            else { return false }
            try await events.queue(.keyRotated, ["userId": user.userId, "keyId": keyId, "version": String(version + 1)], on: sql)
            return true
        }
        guard resealed else {
            throw AppError.splitKeyInvalid  // rotated or deleted meanwhile
        }
        logger.notice("split key rotated", metadata: ["user.id": .string(user.userId), "split_key.id": .string(keyId)])
        return SplitKeyRotated(keyId: keyId, clientPart: ClientPart.encode(clientPart), version: record.version + 1)
    }

    /// Whether the key opens: every failure is the same `split_key_invalid`.
    public func validate(keyId: String, part: String, user: AuthenticatedUser) async throws -> SplitKeyValidation {
        AuditTrail.note(target: keyId)
        let vault = try requireVault()
        do {
            guard let record = try await store.get(userId: user.userId, keyId: keyId) else { throw AppError.splitKeyInvalid }
            _ = try open(record, clientPart: part, vault: vault)
            return SplitKeyValidation(valid: true, keyId: keyId, provider: record.provider)
        } catch is AppError {
            logger.info(
                "security: split key validation failed", metadata: ["security.event": "split_key_invalid", "user.id": .string(user.userId)])
            throw AppError.splitKeyInvalid
        }
    }

    /// The provider of the caller's split key `keyId` (the gateway pins a call to it): another
    /// user's id is not found.
    public func provider(ofKey keyId: String, user: AuthenticatedUser) async throws -> String {
        _ = try requireVault()
        guard let record = try await store.get(userId: user.userId, keyId: keyId) else { throw AppError.splitKeyNotFound }
        return record.provider
    }

    /// The caller's key for one upstream request to `provider`: another user's id is not found,
    /// another provider's key is refused, a deleted key is revoked, a wrong part does not open.
    public func keyForRequest(keyId: String, part: String, user: AuthenticatedUser, provider: String) async throws -> (
        key: Secret<String>, budgets: Budgets
    ) {
        let vault = try requireVault()
        guard let record = try await store.get(userId: user.userId, keyId: keyId) else {
            logger.info(
                "security: unknown split key", metadata: ["security.event": "split_key_not_found", "user.id": .string(user.userId)])
            throw AppError.splitKeyNotFound
        }
        guard record.provider == provider else {
            logger.info(
                "security: split key used for another provider",
                metadata: ["security.event": "split_key_wrong_provider", "user.id": .string(user.userId)])
            throw AppError.splitKeyWrongProvider
        }
        do {
            return (try open(record, clientPart: part, vault: vault), record.budgets)
        } catch {
            logger.info(
                "security: split key did not open", metadata: ["security.event": .string(error.code), "user.id": .string(user.userId)])
            throw error
        }
    }

    private func open(_ record: SplitKeyRecord, clientPart: String, vault: KeyVault) throws(AppError) -> Secret<String> {
        guard record.revokedAtMs == nil else { throw .splitKeyRevoked }
        guard let sealed = record.sealed, let part = ClientPart.decode(clientPart) else { throw .splitKeyInvalid }
        do {
            return try vault.open(
                sealed, clientPart: part,
                binding: SplitKeyBinding(keyId: record.keyId, owner: record.userId, provider: record.provider, version: record.version))
        } catch {
            throw .splitKeyInvalid
        }
    }

    static func metadata(_ record: SplitKeyRecord) -> SplitKey {
        SplitKey(
            keyId: record.keyId, userId: record.userId, provider: record.provider, version: record.version, description: record.description,
            budgets: record.budgets,
            active: record.revokedAtMs == nil, useCount: record.useCount, lastUsedAt: record.lastUsedAtMs.map(Millis.date),
            createdAt: Millis.date(record.createdAtMs), updatedAt: Millis.date(record.updatedAtMs)
        )
    }
}
