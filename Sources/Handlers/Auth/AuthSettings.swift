/// The auth part of the configuration, as `AppConfig` reads it.
public struct AuthSettings: Sendable {
    public var jwtSecret: Secret<String>
    public var accessTokenTTL: Duration
    public var refreshTokenTTL: Duration
    public var issuer: String
    public var audience: String
    /// A rotated refresh token presented again within this time is a parallel duplicate, not theft.
    public var refreshReuseGrace: Duration
    /// The old product's credential-less tokens, for local development only.
    public var allowAnonymousTokens: Bool
    public var defaultDailyQuota: Int64
    public var defaultMonthlyQuota: Int64
    /// Nil: admin routes answer 503 `admin_disabled`.
    public var adminAPIKey: Secret<String>?
    /// How often every instance reloads the revocation list from the database.
    public var revocationSyncInterval: Duration
    /// Identity providers' keys may come over plain http and from private addresses (tests only).
    public var identityAllowInsecure: Bool
    /// An unknown `kid` refetches an issuer's keys at most this often.
    public var identityKeysRefetchInterval: Duration

    public init(
        jwtSecret: Secret<String>,
        accessTokenTTL: Duration = .seconds(900),
        refreshTokenTTL: Duration = .seconds(30 * 86_400),
        issuer: String = "safeapi-bridge",
        audience: String = "safeapi-bridge-clients",
        refreshReuseGrace: Duration = .seconds(5),
        allowAnonymousTokens: Bool = false,
        defaultDailyQuota: Int64 = 100,
        defaultMonthlyQuota: Int64 = 3000,
        adminAPIKey: Secret<String>? = nil,
        revocationSyncInterval: Duration = .seconds(1),
        identityAllowInsecure: Bool = false,
        identityKeysRefetchInterval: Duration = .seconds(30)
    ) {
        self.jwtSecret = jwtSecret
        self.accessTokenTTL = accessTokenTTL
        self.refreshTokenTTL = refreshTokenTTL
        self.issuer = issuer
        self.audience = audience
        self.refreshReuseGrace = refreshReuseGrace
        self.allowAnonymousTokens = allowAnonymousTokens
        self.defaultDailyQuota = defaultDailyQuota
        self.defaultMonthlyQuota = defaultMonthlyQuota
        self.adminAPIKey = adminAPIKey
        self.revocationSyncInterval = revocationSyncInterval
        self.identityAllowInsecure = identityAllowInsecure
        self.identityKeysRefetchInterval = identityKeysRefetchInterval
    }
}
