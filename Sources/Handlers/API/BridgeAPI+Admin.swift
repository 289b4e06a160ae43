import Foundation
public import Generated
import Hummingbird
import Logging

extension BridgeAPI {
    // MARK: Apps

    public func listApps(_ input: Operations.ListApps.Input, context: Context) async throws -> Operations.ListApps.Output {
        .ok(AppList(apps: try await apps.list().map(Self.app)))
    }

    public func createApp(_ input: Operations.CreateApp.Input, context: Context) async throws -> Operations.CreateApp.Output {
        let (record, secret) = try await auth.registerApp(
            name: input.body.name, description: input.body.description, appId: input.body.appId)
        audit(context, "app.create", target: record.appId, after: Self.app(record))
        return .created(AppCredentials(app: Self.app(record), appSecret: secret))
    }

    public func getApp(_ input: Operations.GetApp.Input, context: Context) async throws -> Operations.GetApp.Output {
        guard let app = try await apps.get(input.appId) else { throw AppError.notFound(what: "app") }
        return .ok(Self.app(app))
    }

    public func updateApp(_ input: Operations.UpdateApp.Input, context: Context) async throws -> Operations.UpdateApp.Output {
        AuditTrail.note(target: input.appId, before: try await apps.get(input.appId).map(Self.app))
        guard
            let app = try await apps.update(
                input.appId, name: input.body.name, description: input.body.description, active: input.body.active,
                requireDPoP: input.body.requireDPoP, now: Millis.now())
        else {
            throw AppError.notFound(what: "app")
        }
        audit(context, "app.update", target: app.appId, after: Self.app(app))
        return .ok(Self.app(app))
    }

    public func deleteApp(_ input: Operations.DeleteApp.Input, context: Context) async throws -> Operations.DeleteApp.Output {
        AuditTrail.note(target: input.appId, before: try await apps.get(input.appId).map(Self.app))
        switch try await apps.delete(input.appId) {
        case .deleted:
            audit(context, "app.delete", target: input.appId)
            return .noContent
        case .notFound: throw AppError.notFound(what: "app")
        case .hasUsers: throw AppError.appHasUsers
        }
    }

    public func rotateAppSecret(_ input: Operations.RotateAppSecret.Input, context: Context) async throws
        -> Operations.RotateAppSecret.Output
    {
        let secret = Credentials.newAppSecret()
        guard let app = try await apps.replaceSecret(input.appId, secretHash: Credentials.hash(secret), now: Millis.now()) else {
            throw AppError.notFound(what: "app")
        }
        audit(context, "app.rotate_secret", target: app.appId, after: Self.app(app))
        return .ok(AppCredentials(app: Self.app(app), appSecret: secret))
    }

    // MARK: Users

    public func listUsers(_ input: Operations.ListUsers.Input, context: Context) async throws -> Operations.ListUsers.Output {
        let limit = input.limit ?? 50
        let offset = input.offset ?? 0
        let page = try await users.list(appId: input.appId, search: input.search, limit: limit, offset: offset)
        return .ok(UserList(users: page.users.map(Self.user), total: page.total, limit: limit, offset: offset))
    }

    public func getUser(_ input: Operations.GetUser.Input, context: Context) async throws -> Operations.GetUser.Output {
        guard let user = try await users.get(input.userId) else { throw AppError.notFound(what: "user") }
        return .ok(Self.user(user))
    }

    public func updateUser(_ input: Operations.UpdateUser.Input, context: Context) async throws -> Operations.UpdateUser.Output {
        let budgets = input.body.budgets
        AuditTrail.note(target: input.userId, before: try await users.get(input.userId).map(Self.user))
        guard
            let user = try await auth.updateUser(
                input.userId, dailyQuota: input.body.dailyQuota, monthlyQuota: input.body.monthlyQuota, active: input.body.active,
                budgets: budgets)
        else {
            throw AppError.notFound(what: "user")
        }
        audit(context, "user.update", target: user.userId, after: Self.user(user))
        return .ok(Self.user(user))
    }

    public func deleteUser(_ input: Operations.DeleteUser.Input, context: Context) async throws -> Operations.DeleteUser.Output {
        // The keys first: if erasing them fails, the user is still there for a retry.
        try await splitKeys.deleteAll(of: input.userId)
        guard let deleted = try await auth.deleteUser(input.userId) else { throw AppError.notFound(what: "user") }
        audit(context, "user.delete", target: deleted.userId, before: Self.user(deleted))
        return .noContent
    }

    public func setAppIdentityProviders(_ input: Operations.SetAppIdentityProviders.Input, context: Context) async throws
        -> Operations.SetAppIdentityProviders.Output
    {
        return .ok(IdentityProviderList(providers: try await auth.setIdentityProviders(input.appId, input.body.providers)))
    }

    public func setAppCaps(_ input: Operations.SetAppCaps.Input, context: Context) async throws -> Operations.SetAppCaps.Output {
        let caps = try await auth.setCaps(input.appId, input.body)
        appCaps.set(input.appId, caps)
        return .ok(caps)
    }

    public func setAppGuests(_ input: Operations.SetAppGuests.Input, context: Context) async throws -> Operations.SetAppGuests.Output {
        return .ok(try await auth.setGuests(input.appId, input.body))
    }

    // MARK: Mapping

    static func app(_ record: AppRecord) -> App {
        App(
            appId: record.appId, name: record.name, description: record.description, active: record.active,
            createdAt: Millis.date(record.createdAtMs), updatedAt: Millis.date(record.updatedAtMs),
            secretRotatedAt: Millis.date(record.secretRotatedAtMs), identityProviders: record.identityProviders,
            guests: record.guests, caps: record.caps, requireDPoP: record.requireDpop
        )
    }

    static func user(_ record: UserRecord) -> User {
        User(
            userId: record.userId, appId: record.appId, active: record.active, dailyQuota: record.dailyQuota,
            monthlyQuota: record.monthlyQuota, budgets: record.budgets, createdAt: Millis.date(record.createdAtMs),
            updatedAt: Millis.date(record.updatedAtMs)
        )
    }

    /// Names the target and its states for the audit entry (`AuditMiddleware` writes it), and
    /// logs the mutation with who, what and where.
    func audit(_ context: Context, _ action: String, target: String, before: (any Encodable)? = nil, after: (any Encodable)? = nil) {
        AuditTrail.note(target: target, before: before, after: after)
        context.logger.notice(
            "admin mutation",
            metadata: [
                "audit.action": .string(action), "audit.target": .string(target),
                "admin.key": .string(context.adminKeyId ?? "unknown"), "client.ip": .string(context.clientIP),
            ])
    }
}

// MARK: IP rules

extension BridgeAPI {
    public func listIPRules(_ input: Operations.ListIPRules.Input, context: Context) async throws -> Operations.ListIPRules.Output {
        let now = Millis.now()
        return .ok(IPRuleList(rules: try await ipRuleStore.all().map { Self.ipRule($0, now: now) }))
    }

    public func createIPRule(_ input: Operations.CreateIPRule.Input, context: Context) async throws -> Operations.CreateIPRule.Output {
        let cidr = try Self.parseCIDR(input.body.cidr)
        let now = Millis.now()
        let record = IPRuleRecord(
            id: "ipr_" + Credentials.newId(), cidr: cidr.description, type: input.body.type.rawValue, reason: input.body.reason,
            expiresAtMs: input.body.expiresAt.map(Millis.from), createdBy: context.adminKeyId, createdAtMs: now, updatedAtMs: now
        )
        try await ipRuleStore.insert(record)
        try await ipRules.reload(from: ipRuleStore)
        audit(context, "ip_rule.create", target: record.id, after: Self.ipRule(record, now: now))
        return .created(Self.ipRule(record, now: now))
    }

    public func updateIPRule(_ input: Operations.UpdateIPRule.Input, context: Context) async throws -> Operations.UpdateIPRule.Output {
        let cidr = try input.body.cidr.map(Self.parseCIDR)
        let now = Millis.now()
        AuditTrail.note(
            target: input.ruleId, before: try await ipRuleStore.all().first { $0.id == input.ruleId }.map { Self.ipRule($0, now: now) })
        guard
            let record = try await ipRuleStore.update(
                id: input.ruleId, cidr: cidr?.description, type: input.body.type?.rawValue, reason: input.body.reason,
                expiresAtMs: input.body.expiresAt.map(Millis.from), now: now
            )
        else { throw AppError.notFound(what: "IP rule") }
        try await ipRules.reload(from: ipRuleStore)
        audit(context, "ip_rule.update", target: record.id, after: Self.ipRule(record, now: now))
        return .ok(Self.ipRule(record, now: now))
    }

    public func deleteIPRule(_ input: Operations.DeleteIPRule.Input, context: Context) async throws -> Operations.DeleteIPRule.Output {
        AuditTrail.note(
            target: input.ruleId,
            before: try await ipRuleStore.all().first { $0.id == input.ruleId }.map { Self.ipRule($0, now: Millis.now()) })
        guard try await ipRuleStore.delete(id: input.ruleId) else { throw AppError.notFound(what: "IP rule") }
        try await ipRules.reload(from: ipRuleStore)
        audit(context, "ip_rule.delete", target: input.ruleId)
        return .noContent
    }

    static func parseCIDR(_ text: String) throws(AppError) -> CIDR {
        guard let cidr = CIDR(text) else {
            throw .invalidInput(InputError(location: .body, name: "cidr", reason: "is not an IPv4 or IPv6 address or CIDR"))
        }
        return cidr
    }

    static func ipRule(_ record: IPRuleRecord, now: Int64) -> IPRule {
        IPRule(
            id: record.id, cidr: record.cidr, type: IPRule.TypeValue(rawValue: record.type) ?? .deny, reason: record.reason,
            expiresAt: record.expiresAtMs.map(Millis.date), active: (record.expiresAtMs ?? .max) > now, createdBy: record.createdBy,
            createdAt: Millis.date(record.createdAtMs), updatedAt: Millis.date(record.updatedAtMs)
        )
    }
}

// MARK: Audit log

extension BridgeAPI {
    public func listAuditLogs(_ input: Operations.ListAuditLogs.Input, context: Context) async throws -> Operations.ListAuditLogs.Output {
        let filter = AuditLog.Filter(
            action: input.action, actorId: input.actorId, target: input.target, success: input.success,
            fromMs: input.from.map(Millis.from), toMs: input.to.map(Millis.from)
        )
        let limit = input.limit ?? 50
        let offset = input.offset ?? 0
        let page = try await auditLog.list(filter, limit: limit, offset: offset)
        return .ok(AuditLogPage(logs: page.records.map(AuditLog.entry), total: page.total, limit: limit, offset: offset))
    }

    public func getAuditStats(_ input: Operations.GetAuditStats.Input, context: Context) async throws -> Operations.GetAuditStats.Output {
        let days = input.days ?? 7
        let since = Millis.now() - days * 86_400_000
        let stats = try await auditLog.stats(sinceMs: since)
        let rate = stats.total == 0 ? 100 : (Double(stats.successful) / Double(stats.total) * 10_000).rounded() / 100
        return .ok(
            AuditStats(
                days: days, from: Millis.date(since), total: stats.total, successful: stats.successful,
                failed: stats.total - stats.successful,
                successRate: rate, topActions: stats.top.map { AuditActionCount(action: $0.action, count: $0.count) }
            ))
    }

    public func listFailedAuditLogs(_ input: Operations.ListFailedAuditLogs.Input, context: Context) async throws
        -> Operations.ListFailedAuditLogs.Output
    {
        let page = try await auditLog.list(AuditLog.Filter(success: false), limit: input.limit ?? 20, offset: 0)
        return .ok(AuditLogList(logs: page.records.map(AuditLog.entry)))
    }

    public func verifyAuditLog(_ input: Operations.VerifyAuditLog.Input, context: Context) async throws -> Operations.VerifyAuditLog.Output
    {
        let result = try await auditLog.verify()
        if let broken = result.broken {
            context.logger.error(
                "security: the audit log's hash chain is broken",
                metadata: ["security.event": "audit_chain_broken", "audit.seq": .stringConvertible(broken.seq)])
            await webhooks.events.emit(
                .securityAlert, ["kind": "audit_chain_broken", "seq": String(broken.seq), "reason": broken.reason],
                onceFor: "audit|\(broken.seq)|\(broken.reason)")
        }
        return .ok(
            AuditVerification(
                valid: result.broken == nil, checked: result.checked, headHash: result.headHash,
                firstBroken: result.broken.map {
                    AuditBreak(seq: $0.seq, id: $0.id, reason: AuditBreak.Reason(rawValue: $0.reason) ?? .hashMismatch)
                }
            ))
    }
}
