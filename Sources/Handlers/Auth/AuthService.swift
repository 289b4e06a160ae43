import Foundation
public import Generated
public import Logging
import SQLKit

/// Issues, refreshes and revokes tokens. Token checks on the request path happen in memory
/// (`Authenticator`); these operations are the ones that write.
public struct AuthService: Sendable {
    let apps: AppStore
    let users: UserStore
    let tokens: TokenStore
    let tokenService: TokenService
    let identity: IdentityVerifier
    /// Checks DPoP proofs, at sign-in here and on the API in the authenticator.
    public let dpop: DPoPVerifier
    let revocations: RevocationList
    let settings: AuthSettings
    let logger: Logger

    let events: WebhookEvents
    let database: any Database

    public init(
        database: any Database, apps: AppStore, users: UserStore, tokens: TokenStore, events: WebhookEvents, tokenService: TokenService,
        identity: IdentityVerifier, dpop: DPoPVerifier, revocations: RevocationList, settings: AuthSettings, logger: Logger
    ) {
        self.dpop = dpop
        self.database = database
        self.apps = apps
        self.users = users
        self.tokens = tokens
        self.events = events
        self.tokenService = tokenService
        self.identity = identity
        self.revocations = revocations
        self.settings = settings
        self.logger = logger
    }

    /// `POST /auth/token`: an app's secret buys a token pair for one of its users.
    public func issueToken(_ request: TokenRequest, boundKey: String? = nil, clientIP: String) async throws -> TokenResponse {
        let now = Millis.now()
        var app = try await apps.get(request.appId)
        if let secret = request.appSecret {
            guard let found = app, found.active, Credentials.matches(secret, hash: found.secretHash) else {
                logger.warning(
                    "security: token request with bad app credentials",
                    metadata: [
                        "security.event": "invalid_app_credentials", "client.ip": .string(clientIP), "app.id": .string(request.appId),
                    ])
                throw AppError.invalidAppCredentials
            }
        } else {
            guard settings.allowAnonymousTokens else { throw AppError.invalidAppCredentials }
            if app == nil {
                // Development only: the old product's open tokens. The app gets a secret nobody sees.
                let record = AppRecord(
                    appId: request.appId, name: request.appId, description: "created by an anonymous token request",
                    secretHash: Credentials.hash(Credentials.newAppSecret()), active: true, createdAtMs: now, updatedAtMs: now,
                    secretRotatedAtMs: now)
                _ = try await apps.insert(record)
                app = try await apps.get(request.appId)
            }
            guard app?.active == true else { throw AppError.invalidAppCredentials }
        }
        guard let app else { throw AppError.invalidAppCredentials }
        try Self.requireKeyIfAppDoes(boundKey, app: app)
        let user = try await user(request.userId, of: app, now: now)
        return try await issuePair(for: user, familyId: Credentials.newId(), boundKey: boundKey, now: now)
    }

    /// An app with `requireDPoP` gets only tokens bound to a key.
    static func requireKeyIfAppDoes(_ boundKey: String?, app: AppRecord) throws(AppError) {
        if app.requireDpop && boundKey == nil {
            throw .invalidDPoPProofAtSignIn("this app requires a DPoP proof (RFC 9449) with every sign-in and refresh")
        }
    }

    /// The active user `userId` of `app`, created on first sight with its `user.created` event,
    /// within the app's cap on new users per hour.
    func user(_ userId: String, of app: AppRecord, now: Int64) async throws -> UserRecord {
        let (users, events, settings) = (self.users, self.events, self.settings)
        let appId = app.appId
        let (user, created) = try await newUser { sql in
            let found = try await users.findOrCreate(
                userId: userId, appId: appId,
                dailyQuota: settings.defaultDailyQuota, monthlyQuota: settings.defaultMonthlyQuota, now: now, on: sql
            )
            if found.created {
                try await NewUserLimits.take(NewUserLimits.cap(app, now: now), now: now, on: sql)
                try await events.queue(.userCreated, ["userId": found.user.userId, "appId": found.user.appId], on: sql)
            }
            return found
        }
        guard user.appId == appId else { throw AppError.userAppConflict }
        guard user.active else { throw AppError.userInactive }
        if created { logger.info("user created", metadata: ["user.id": .string(user.userId), "app.id": .string(user.appId)]) }
        return user
    }

    /// `POST /auth/exchange` (RFC 8693): an identity provider's token for one of an app's users
    /// buys that user's token pair. The app id is public; what proves the user is the subject
    /// token, checked against the providers the app trusts.
    public func exchange(
        grantType: String?, subjectToken: String?, subjectTokenType: String?, clientId: String?, installId: String? = nil,
        boundKey: String? = nil, clientIP: String
    ) async throws -> TokenResponse {
        guard let grantType else { throw ExchangeFailure.invalidRequest("'grant_type' is required.") }
        guard grantType == "urn:ietf:params:oauth:grant-type:token-exchange" else { throw ExchangeFailure.unsupportedGrantType }
        guard let subjectToken, !subjectToken.isEmpty, subjectToken.unicodeScalars.count <= 16_384 else {
            throw ExchangeFailure.invalidRequest("'subject_token' is required (at most 16384 characters).")
        }
        guard let subjectTokenType, Self.subjectTokenTypes.contains(subjectTokenType) else {
            throw ExchangeFailure.invalidRequest("'subject_token_type' must be \(Self.subjectTokenTypes.joined(separator: " or ")).")
        }
        guard let clientId, Validate.isIdentifier(clientId) else {
            throw ExchangeFailure.invalidRequest("'client_id' must be the app id.")
        }
        guard let app = try await apps.get(clientId), app.active, let providers = app.identityProviders, !providers.isEmpty else {
            logger.info(
                "security: token exchange for an unknown app",
                metadata: ["security.event": "invalid_client", "client.ip": .string(clientIP)])
            throw ExchangeFailure.invalidClient("No active app with this id accepts identity provider tokens.")
        }
        do {
            try Self.requireKeyIfAppDoes(boundKey, app: app)
        } catch {
            throw ExchangeFailure.invalidDPoPProof(error.message)
        }
        let userId: String
        do {
            userId = try await identity.userId(for: subjectToken, trusting: providers)
        } catch {
            logger.info(
                "security: subject token refused",
                metadata: ["security.event": "invalid_grant", "client.ip": .string(clientIP), "app.id": .string(app.appId)])
            throw error
        }
        if let installId, !Validate.hasShape(installId, length: 8...128, extra: "_-") {
            throw ExchangeFailure.invalidRequest("'install_id' must be 8 to 128 of letters, digits, '_' or '-'.")
        }
        let now = Millis.now()
        let user = try await user(userId, of: app, now: now)
        if let installId { try await carryOver(installId: installId, to: user, now: now) }
        return try await issuePair(for: user, familyId: Credentials.newId(), boundKey: boundKey, now: now)
    }

    /// `PUT /admin/apps/{appId}/identity-providers`: replaces the providers the app trusts.
    public func setIdentityProviders(_ appId: String, _ providers: [IdentityProvider]) async throws -> [IdentityProvider] {
        try await IdentityProviderRules.check(providers, allowInsecure: settings.identityAllowInsecure)
        let taken = try await apps.namespacesInUse(besides: appId)
        if let clash = providers.first(where: { taken.contains($0.namespace) }) {
            throw AppError.unprocessable(
                code: "identity_provider_conflict", message: "The namespace '\(clash.namespace)' names another app's users; choose another."
            )
        }
        guard try await apps.set(.identityProviders, providers.isEmpty ? nil : providers, of: appId, now: Millis.now()) else {
            throw AppError.notFound(what: "app")
        }
        return providers
    }

    /// `PUT /admin/apps/{appId}/guests`: turns guests on or off and sets their limits.
    public func setGuests(_ appId: String, _ settings: GuestSettings) async throws -> GuestSettings {
        let filled = settings.filled
        guard try await apps.set(.guests, filled, of: appId, now: Millis.now()) else { throw AppError.notFound(what: "app") }
        return filled
    }

    /// `POST /auth/install`: a token pair for the guest of one install of an app that takes guests.
    /// A new guest is counted against the app's limits in the transaction that creates it.
    public func install(_ request: InstallRequest, boundKey: String? = nil, clientIP: String) async throws -> TokenResponse {
        guard let app = try await apps.get(request.clientId), app.active, let guests = app.guests?.filled, guests.enabled else {
            throw AppError.guestsDisabled
        }
        try Self.requireKeyIfAppDoes(boundKey, app: app)
        let userId = Self.guestId(request.installId)
        let now = Millis.now()
        if let known = try await users.get(userId) {
            guard known.appId == app.appId else { throw AppError.userAppConflict }
            guard known.active else { throw AppError.userInactive }
            return try await issuePair(for: known, familyId: Credentials.newId(), boundKey: boundKey, now: now)
        }
        let (users, events) = (self.users, self.events)
        let limits = NewUserLimits.cap(app, now: now) + NewUserLimits.guests(app: app.appId, address: clientIP, settings: guests, now: now)
        let user = try await newUser(clientIP: clientIP) { sql in
            let found = try await users.findOrCreate(
                userId: userId, appId: app.appId, dailyQuota: guests.dailyQuota!, monthlyQuota: guests.monthlyQuota!, now: now, on: sql)
            // Only a guest that is new counts; a refusal rolls its creation back.
            if found.created {
                try await NewUserLimits.take(limits, now: now, on: sql)
                try await events.queue(.userCreated, ["userId": userId, "appId": app.appId, "guest": "true"], on: sql)
            }
            return found.user
        }
        guard user.appId == app.appId else { throw AppError.userAppConflict }
        guard user.active else { throw AppError.userInactive }
        return try await issuePair(for: user, familyId: Credentials.newId(), boundKey: boundKey, now: now)
    }

    /// Runs a transaction that may create a user, turning a refusal by a new-user limit into its
    /// 429: `app_cap_reached` for the app's cap, `guest_limit_reached` for the guests' limits.
    func newUser<Result: Sendable>(clientIP: String = "", _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        do {
            return try await database.transaction(body)
        } catch let refused as NewUserLimits.Refused {
            logger.info(
                "security: new user refused",
                metadata: ["security.event": "new_user_limit", "limit.scope": .string(refused.scope), "client.ip": .string(clientIP)])
            throw refused.scope == "cap"
                ? AppError.appCapReached(retryAfter: refused.retryAfter)
                : AppError.guestLimitReached(scope: refused.scope, retryAfter: refused.retryAfter)
        }
    }

    /// `PUT /admin/apps/{appId}/caps`: the app-wide caps.
    public func setCaps(_ appId: String, _ caps: AppCaps) async throws -> AppCaps {
        guard try await apps.set(.caps, caps, of: appId, now: Millis.now()) else { throw AppError.notFound(what: "app") }
        return caps
    }

    /// The guest of an install: `guest:` is a namespace no identity provider may take.
    static func guestId(_ installId: String) -> String { "guest:" + installId }

    /// At sign-in from an install: the guest's counts of the current day and month move to the
    /// signed-in user (one transaction), then the guest is closed (its tokens stop working within
    /// the revocation delay). Nothing happens if the install has no open guest of this app.
    func carryOver(installId: String, to user: UserRecord, now: Int64) async throws {
        let guestId = Self.guestId(installId)
        guard guestId != user.userId, let guest = try await users.get(guestId), guest.appId == user.appId, guest.active else { return }
        let date = Millis.date(now)
        let periods = [QuotaPeriodKey.day(date), QuotaPeriodKey.month(date)]
        try await users.moveCounters(from: guestId, to: user.userId, periods: periods)
        _ = try await updateUser(guestId, dailyQuota: nil, monthlyQuota: nil, active: false)
        logger.info("guest signed in", metadata: ["user.id": .string(user.userId), "guest.id": .string(guestId)])
    }

    static let subjectTokenTypes = ["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"]

    /// Registers an app (see `AppStore.register`).
    public func registerApp(name: String, description: String?, appId: String?) async throws -> (app: AppRecord, secret: String) {
        try await apps.register(name: name, description: description, appId: appId)
    }

    /// `POST /auth/refresh`: rotates a refresh token. See the spec for reuse and theft. A family
    /// bound to a key stays bound: it is refreshed only with a proof from that key (RFC 9449 §5);
    /// an unbound one is bound from the first refresh with a proof.
    public func refresh(_ presented: String, boundKey: String? = nil, clientIP: String) async throws -> TokenResponse {
        let hash = Credentials.hash(presented)
        let now = Millis.now()
        if let row = try await tokens.consumeRefreshToken(hash: hash, boundKey: boundKey, now: now) {
            guard let user = try await users.get(row.userId), user.appId == row.appId else { throw AppError.invalidRefreshToken }
            guard user.active else { throw AppError.userInactive }
            guard user.tokenGeneration == row.generation else { throw AppError.tokenRevoked }
            guard let app = try await apps.get(row.appId), app.active else { throw AppError.invalidAppCredentials }
            let key = row.boundKey ?? boundKey
            return try await issuePair(for: user, familyId: row.familyId, boundKey: key, now: now)
        }
        guard let row = try await tokens.refreshToken(hash: hash) else { throw AppError.invalidRefreshToken }
        // A live token the consume left alone lacked its key: left unspent, so a thief without the
        // key cannot burn the owner's token, and a client of an app that requires DPoP can retry.
        if row.usedAtMs == nil, row.revokedAtMs == nil, row.expiresAtMs > now {
            if let bound = row.boundKey, bound != boundKey {
                throw AppError.invalidDPoPProofAtSignIn(
                    boundKey == nil ? "this refresh token is bound to a key: send a DPoP proof from it" : "the proof is from another key")
            }
            if boundKey == nil, let app = try await apps.get(row.appId) { try Self.requireKeyIfAppDoes(nil, app: app) }
        }
        // Deactivation revokes the user's refresh tokens; say why rather than just "revoked".
        if let user = try await users.get(row.userId), !user.active { throw AppError.userInactive }
        if row.revokedAtMs != nil { throw AppError.refreshTokenRevoked }
        if let usedAt = row.usedAtMs {
            if now - usedAt <= settings.refreshReuseGrace.milliseconds { throw AppError.refreshTokenAlreadyUsed }
            try await revokeFamily(row.familyId, userId: row.userId, now: now)
            logger.warning(
                "security: rotated refresh token reused; family revoked",
                metadata: ["security.event": "refresh_token_reused", "client.ip": .string(clientIP), "user.id": .string(row.userId)])
            await events.emit(.securityAlert, ["kind": "refresh_token_reused", "userId": row.userId, "clientIp": clientIP])
            throw AppError.refreshTokenReused
        }
        if row.expiresAtMs <= now { throw AppError.refreshTokenExpired }
        throw AppError.invalidRefreshToken
    }

    /// `POST /auth/logout`: this token and its sign-in, or every token of the user.
    public func logout(_ user: AuthenticatedUser, all: Bool) async throws {
        let now = Millis.now()
        if all {
            try await revokeEverything(of: user.userId, now: now)
        } else {
            let revocation = RevocationRecord(
                kind: .token, value: user.tokenId, userId: user.userId,
                expiresAtMs: Int64(user.expiresAt.timeIntervalSince1970 * 1000) + 1000, createdAtMs: now)
            try await tokens.addRevocation(revocation)
            revocations.apply(revocation)
            try await revokeFamily(user.familyId, userId: user.userId, now: now)
        }
    }

    /// Applies an admin's change to a user. Deactivating stops every token of the user at once (a new
    /// generation, revoked refresh tokens, the inactive flag on this instance now and on the others
    /// within the sync interval); reactivating lets new sign-ins through.
    public func updateUser(_ userId: String, dailyQuota: Int64?, monthlyQuota: Int64?, active: Bool?, budgets: Budgets? = nil) async throws
        -> UserRecord?
    {
        let now = Millis.now()
        guard
            let user = try await users.update(
                userId, dailyQuota: dailyQuota, monthlyQuota: monthlyQuota, active: active, budgets: budgets, now: now)
        else { return nil }
        if let active {
            revocations.setInactive(user.userId, !active)
            if !active {
                try await recordGenerationRevocation(userId: user.userId, generation: user.tokenGeneration, now: now)
                try await tokens.revokeRefreshTokens(ofUser: user.userId, now: now)
            }
        }
        return user
    }

    /// Deletes a user; their tokens are refused from now on, and a user recreated with the same id
    /// starts above the revoked generation.
    public func deleteUser(_ userId: String) async throws -> UserRecord? {
        guard let deleted = try await users.delete(userId) else { return nil }
        try await tokens.deleteRefreshTokens(ofUser: deleted.userId)
        try await recordGenerationRevocation(userId: deleted.userId, generation: deleted.tokenGeneration + 1, now: Millis.now())
        return deleted
    }

    /// Every token of the user stops: a new generation, and every refresh token revoked.
    public func revokeEverything(of userId: String, now: Int64) async throws {
        guard let generation = try await users.bumpGeneration(userId, now: now) else { return }
        try await recordGenerationRevocation(userId: userId, generation: generation, now: now)
        try await tokens.revokeRefreshTokens(ofUser: userId, now: now)
    }

    /// Tokens of `userId` below `generation` are refused from now on, on every instance.
    func recordGenerationRevocation(userId: String, generation: Int64, now: Int64) async throws {
        let revocation = RevocationRecord(
            kind: .user, value: String(generation), userId: userId, expiresAtMs: now + settings.accessTokenTTL.milliseconds + 1000,
            createdAtMs: now)
        try await tokens.addRevocation(revocation)
        revocations.apply(revocation)
    }

    private func revokeFamily(_ familyId: String, userId: String, now: Int64) async throws {
        try await tokens.revokeFamily(familyId, now: now)
        let revocation = RevocationRecord(
            kind: .family, value: familyId, userId: userId, expiresAtMs: now + settings.accessTokenTTL.milliseconds + 1000, createdAtMs: now
        )
        try await tokens.addRevocation(revocation)
        revocations.apply(revocation)
    }

    private func issuePair(for user: UserRecord, familyId: String, boundKey: String?, now: Int64) async throws -> TokenResponse {
        let refreshToken = Credentials.newRefreshToken()
        try await tokens.insertRefreshToken(
            RefreshTokenRecord(
                tokenHash: Credentials.hash(refreshToken), familyId: familyId, userId: user.userId, appId: user.appId,
                generation: user.tokenGeneration, expiresAtMs: now + settings.refreshTokenTTL.milliseconds,
                usedAtMs: nil, revokedAtMs: nil, createdAtMs: now, boundKey: boundKey
            ))
        let (token, _) = try await tokenService.issue(
            userId: user.userId, appId: user.appId, generation: user.tokenGeneration, familyId: familyId, boundKey: boundKey,
            now: Millis.date(now))
        let date = Millis.date(now)
        let usage = try await tokens.requestCounts(userId: user.userId, day: QuotaPeriodKey.day(date), month: QuotaPeriodKey.month(date))
        return TokenResponse(
            token: token,
            tokenType: boundKey == nil ? .bearer : .dPoP,
            expiresIn: settings.accessTokenTTL.components.seconds,
            refreshToken: refreshToken,
            refreshExpiresIn: settings.refreshTokenTTL.components.seconds,
            user: UserSummary(
                userId: user.userId, appId: user.appId,
                quotas: Quotas(daily: user.dailyQuota, monthly: user.monthlyQuota),
                usage: QuotaUsage(today: usage.today, month: usage.month)
            )
        )
    }
}
