import Foundation
public import Generated
public import Logging

/// The `APIProtocol` conformance: thin, one file per tag (`BridgeAPI+System.swift`, …). Each
/// operation maps its `Input` to a service call and the result to an `Output`.
public struct BridgeAPI: APIProtocol {
    public typealias Context = AppRequestContext

    let database: any Database
    let auth: AuthService
    let apps: AppStore
    let users: UserStore
    let quotas: QuotaLedger
    let appCaps: AppCapLedger
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
    /// Where clients call the bridge, for the URL of a DPoP proof.
    /// The scheme and host clients call the bridge at.
    public let origin: RequestOrigin
    let logger: Logger
    /// What `/metrics` prints; the router's middleware count into it too.
    public let metrics: BridgeMetrics
    let sessions: AdminSessions

    /// Every part is built once, by the wiring, and handed in.
    public init(
        database: any Database, auth: AuthService, apps: AppStore, users: UserStore, quotas: QuotaLedger, appCaps: AppCapLedger,
        proxy: ProxyService,
        splitKeys: SplitKeyService,
        webhooks: WebhookService, ipRules: IPRuleSet, ipRuleStore: IPRuleStore, auditLog: AuditLog, analytics: AnalyticsStore,
        metrics: BridgeMetrics, sessions: AdminSessions, logger: Logger, origin: RequestOrigin = RequestOrigin(),
        readinessTimeout: Duration = .seconds(2)
    ) {
        self.origin = origin
        self.webhooks = webhooks
        self.ipRules = ipRules
        self.ipRuleStore = ipRuleStore
        self.auditLog = auditLog
        self.analytics = analytics
        self.proxy = proxy
        self.splitKeys = splitKeys
        self.database = database
        self.auth = auth
        self.apps = apps
        self.users = users
        self.quotas = quotas
        self.appCaps = appCaps
        self.startedAt = .now
        self.readinessTimeout = readinessTimeout
        self.logger = logger
        self.metrics = metrics
        self.sessions = sessions
    }
}
