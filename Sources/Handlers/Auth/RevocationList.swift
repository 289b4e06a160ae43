import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Revoked tokens, held in memory so that checking one costs no database round trip. The database
/// is the shared truth (`token_revocations`, inactive users); every instance reloads it whole every
/// `revocationSyncInterval` (1 s by default), so a revocation made on one instance holds on every
/// other within that interval, and on the instance that made it at once. The list stays small: an
/// entry lives only as long as the access tokens it concerns (15 minutes by default).
public final class RevocationList: Sendable {
    struct Snapshot: Sendable {
        var tokens: Set<String> = []
        var families: Set<String> = []
        /// Tokens of a user issued under a lower generation are revoked.
        var minimumGeneration: [String: Int64] = [:]
        var inactiveUsers: Set<String> = []
    }

    private let snapshot = Mutex(Snapshot())
    /// This instance's own changes of the last few seconds: a reload whose query ran before one of
    /// them was written must not wipe it, so each reload re-applies them.
    private let recent = Mutex<[(at: ContinuousClock.Instant, change: Change)]>([])
    static let recentWindow: Duration = .seconds(10)

    enum Change {
        case revocation(RevocationRecord)
        case inactive(String, Bool)
    }

    public init() {}

    /// Throws when the user is inactive (403) or the token was revoked (401).
    public func check(_ user: AuthenticatedUser) throws(AppError) {
        let verdict: AppError? = snapshot.withLock { current in
            if current.inactiveUsers.contains(user.userId) { return .userInactive }
            if current.tokens.contains(user.tokenId) || current.families.contains(user.familyId) { return .tokenRevoked }
            if let minimum = current.minimumGeneration[user.userId], user.generation < minimum { return .tokenRevoked }
            return nil
        }
        if let verdict { throw verdict }
    }

    /// Applies a revocation made on this instance at once, before the next reload.
    public func apply(_ revocation: RevocationRecord) {
        remember(.revocation(revocation))
        snapshot.withLock { Self.apply(.revocation(revocation), to: &$0) }
    }

    public func setInactive(_ userId: String, _ inactive: Bool) {
        remember(.inactive(userId, inactive))
        snapshot.withLock { Self.apply(.inactive(userId, inactive), to: &$0) }
    }

    private func remember(_ change: Change) {
        let now = ContinuousClock.now
        recent.withLock { recent in
            recent.removeAll { now - $0.at > Self.recentWindow }
            recent.append((now, change))
        }
    }

    /// Replaces the whole list with what the database holds now.
    public func reload(from tokens: TokenStore, users: UserStore) async throws {
        let revocations = try await tokens.liveRevocations(now: Millis.now())
        let inactive = try await users.inactiveUserIds()
        var fresh = Snapshot()
        for revocation in revocations { Self.add(revocation, to: &fresh) }
        fresh.inactiveUsers = Set(inactive)
        // The read may predate this instance's latest changes: lay them over it, in order.
        let now = ContinuousClock.now
        let ownChanges = recent.withLock { recent in recent.filter { now - $0.at <= Self.recentWindow }.map(\.change) }
        for change in ownChanges { Self.apply(change, to: &fresh) }
        snapshot.withLock { $0 = fresh }
    }

    private static func apply(_ change: Change, to snapshot: inout Snapshot) {
        switch change {
        case .revocation(let revocation): add(revocation, to: &snapshot)
        case .inactive(let userId, true): snapshot.inactiveUsers.insert(userId)
        case .inactive(let userId, false): snapshot.inactiveUsers.remove(userId)
        }
    }

    private static func add(_ revocation: RevocationRecord, to snapshot: inout Snapshot) {
        switch revocation.kind {
        case .token: snapshot.tokens.insert(revocation.value)
        case .family: snapshot.families.insert(revocation.value)
        case .user:
            let generation = Int64(revocation.value) ?? 0
            snapshot.minimumGeneration[revocation.userId] = max(snapshot.minimumGeneration[revocation.userId] ?? 0, generation)
        }
    }
}

/// Keeps every instance's `RevocationList` in step with the database, and purges entries that no
/// longer matter once a minute. The first load happens before the server accepts requests
/// (after the migrations); this service reloads every interval after that.
public struct RevocationSync: Service {
    let list: RevocationList
    let tokens: TokenStore
    let users: UserStore
    let interval: Duration
    let logger: Logger

    public init(list: RevocationList, tokens: TokenStore, users: UserStore, interval: Duration, logger: Logger) {
        self.list = list
        self.tokens = tokens
        self.users = users
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let (list, tokens, users) = (self.list, self.tokens, self.users)
        // About once a minute, whatever the interval.
        let purgeEvery = max(1, Int(Duration.seconds(60) / interval))
        await repeatEvery(interval, logger: logger, failure: "revocation list reload failed; keeping the previous one") { round in
            try await list.reload(from: tokens, users: users)
            if round % purgeEvery == 0 { try await tokens.purgeExpired(now: Millis.now()) }
        }
    }
}
