import Foundation
public import Generated
public import Logging

/// The `APIProtocol` conformance: thin, one file per tag (`BridgeAPI+System.swift`, …). Each
/// operation maps its `Input` to a service call and the result to an `Output`.
public struct BridgeAPI: APIProtocol {
    public typealias Context = AppRequestContext

    /// The version reported by `GET /`.
    public static let version = "2.0.0"

    let database: any Database
    let auth: AuthService
    let apps: AppStore
    let users: UserStore
    let quotas: QuotaLedger
    let ipRules: IPRuleSet
    let ipRuleStore: IPRuleStore
    let auditLog: AuditLog
    let analytics: AnalyticsStore
    let webhooks: WebhookService
    /// The audit log, for the middleware that writes it.
    public var audit: AuditLog { auditLog }
    let proxy: ProxyService
    let splitKeys: SplitKeyService
    let startedAt: ContinuousClock.Instant
    let readinessTimeout: Duration
    let logger: Logger

    public init(database: any Database, auth: AuthService, proxy: ProxyService, splitKeys: SplitKeyService, webhooks: WebhookService, ipRules: IPRuleSet = IPRuleSet(), logger: Logger, readinessTimeout: Duration = .seconds(2)) {
        self.webhooks = webhooks
        self.ipRules = ipRules
        self.ipRuleStore = IPRuleStore(database: database)
        self.auditLog = AuditLog(database: database)
        self.analytics = AnalyticsStore(database: database)
        self.proxy = proxy
        self.splitKeys = splitKeys
        self.database = database
        self.auth = auth
        self.apps = AppStore(database: database)
        self.users = UserStore(database: database)
        self.quotas = QuotaLedger(database: database)
        self.startedAt = .now
        self.readinessTimeout = readinessTimeout
        self.logger = logger
    }
}
