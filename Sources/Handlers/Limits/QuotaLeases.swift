import Foundation
import SQLKit
import Synchronization

/// Quota leases: the blocks of a user's request quota this instance holds (DESIGN.md, "Quotas
/// and budgets"; docs/limits.md). A block is counted in the database when it is taken, in the
/// same atomic statement as the requests that took it (`AdmissionBatch`), and handed out here
/// from memory, one request at a time, with no statement. What a block did not hand out goes
/// back to the database when it expires (`lifetime` after it was taken), when this instance
/// stops, or at once when it is used up; until then the counter row's `leased` says that units
/// may come back, so a refusal elsewhere waits for them (`QuotaLedger`).
///
/// A block is sized by the user's pace (the calls of about one lifetime), and taken only while
/// at least `nearLimit` requests are left in both windows, never more than an eighth of them: a
/// quiet user and a user near a limit take none, and are counted one statement per call, as
/// without leases. A user with a token or cost budget takes none either: those are charged
/// after each response, and a block would let calls through after the budget was spent.
final class QuotaLeases: Sendable {
    struct Rules: Sendable {
        /// How long a block may be held before what is left goes back; zero: no leases.
        var lifetime: Duration
        /// The largest block.
        var maxBlock: Int64 = 256
        /// With fewer requests than this left in a window, no block is taken.
        var nearLimit: Int64 = 64

        static let standard = Rules(lifetime: .milliseconds(100))
        static let none = Rules(lifetime: .zero)
    }

    /// A block: the positions (counts) it covers in the day and the month, from `next`.
    struct Block {
        var day: QuotaWindow
        var month: QuotaWindow
        var dayNext: Int64
        var dayLimit: Int64
        var monthNext: Int64
        var monthLimit: Int64
        var left: Int64
        var granted: Int64
        var expires: ContinuousClock.Instant
    }

    /// A block going back: its unused requests leave both counters, its grant leaves `leased`.
    struct Settlement: Sendable {
        var userId: String
        var dayKey: String
        var monthKey: String
        var unused: Int64
        var granted: Int64
    }

    /// What this instance knows of a user: its block, what its last statement said, its pace.
    private struct Account {
        var block: Block?
        /// How many blocks this account has taken (`consistent` notices a new one).
        var blocksTaken = 0
        var dayLeft: Int64 = 0
        var monthLeft: Int64 = 0
        var leasable = false
        var calls: Int64 = 0
        var previousCalls: Int64 = 0
        var intervalStart: ContinuousClock.Instant
        /// Set while a block's unused requests are going back: the user's calls wait for the
        /// give-back (here), so none is counted above requests about to leave the count.
        var returning: [CheckedContinuation<Void, Never>]?
    }

    /// What `take` found.
    enum Taken {
        /// A request of the block: its count in each window, and the limit.
        case handed(day: AdmissionBatch.Counted, month: AdmissionBatch.Counted)
        /// No block: the call is counted by a statement.
        case none
        /// A block is going back: wait for it (`returned`), then take again.
        case returning
    }

    private struct State: ~Copyable {
        var accounts: [String: Account] = [:]
        var pending: [Settlement] = []
        var sweeping = false
        var closed = false
    }

    let rules: Rules
    private let database: any Database
    private let state = Mutex(State())
    /// Held while blocks are taken out of memory and given back, and while a reader compares the
    /// database's count with what memory holds (`consistent`): so no block is ever in neither.
    private let turns = Turns()

    init(database: any Database, rules: Rules) {
        self.database = database
        self.rules = rules
    }

    var enabled: Bool { rules.lifetime > .zero }

    /// One request of `userId`: counts it towards the user's pace and, when a block of the same
    /// day and month has a request left, hands that out. A block past its lifetime still hands
    /// out until the sweep takes it back.
    func take(userId: String, day: QuotaWindow, month: QuotaWindow, isNewCall: Bool = true) -> Taken {
        guard enabled else { return .none }
        let now = ContinuousClock.now
        return state.withLock { state in
            var account = state.accounts[userId] ?? Account(intervalStart: now)
            if isNewCall { pace(&account, now: now) }
            defer { state.accounts[userId] = account }
            guard account.returning == nil else { return .returning }
            guard var block = account.block, block.left > 0, block.day == day, block.month == month else { return .none }
            let handed = Taken.handed(
                day: AdmissionBatch.Counted(used: block.dayNext, limit: block.dayLimit),
                month: AdmissionBatch.Counted(used: block.monthNext, limit: block.monthLimit)
            )
            block.dayNext += 1
            block.monthNext += 1
            block.left -= 1
            if block.left == 0 {
                // Used up: its grant leaves `leased` with the next sweep (or a refusal's flush).
                state.pending.append(Settlement(userId: userId, dayKey: day.key, monthKey: month.key, unused: 0, granted: block.granted))
                account.block = nil
            } else {
                account.block = block
            }
            return handed
        }
    }

    /// Counts a call in the user's current interval (one lifetime long).
    private func pace(_ account: inout Account, now: ContinuousClock.Instant) {
        let elapsed = now - account.intervalStart
        if elapsed >= rules.lifetime {
            account.previousCalls = elapsed < rules.lifetime * 2 ? account.calls : 0
            account.calls = 0
            account.intervalStart = now
        }
        account.calls += 1
    }

    /// How many requests beyond those waiting the next statement for `userId` should take as a
    /// block (0: none).
    func blockSize(userId: String) -> Int64 {
        guard enabled else { return 0 }
        return state.withLock { state in
            guard !state.closed, let account = state.accounts[userId], account.leasable, account.block == nil, account.returning == nil,
                account.dayLeft >= rules.nearLimit, account.monthLeft >= rules.nearLimit
            else { return 0 }
            let size = min(account.calls + account.previousCalls, rules.maxBlock, account.dayLeft / 8, account.monthLeft / 8)
            return size >= 2 ? size : 0
        }
    }

    /// What a statement counted for `userId`: the counts after it (which end with a block of
    /// `block` requests, when one was taken) and whether the user may lease.
    func record(
        userId: String, day: QuotaWindow, month: QuotaWindow, dayCount: AdmissionBatch.Counted, monthCount: AdmissionBatch.Counted,
        leasable: Bool, block: Int64
    ) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let sweep = state.withLock { state in
            var account = state.accounts[userId] ?? Account(intervalStart: now)
            account.dayLeft = dayCount.limit - dayCount.used
            account.monthLeft = monthCount.limit - monthCount.used
            account.leasable = leasable
            // `blockSize` asks for none while the user holds one, so this never replaces a block.
            if block > 0 {
                account.blocksTaken += 1
                account.block = Block(
                    day: day, month: month, dayNext: dayCount.used - block + 1, dayLimit: dayCount.limit,
                    monthNext: monthCount.used - block + 1, monthLimit: monthCount.limit, left: block, granted: block,
                    expires: now + rules.lifetime)
            }
            state.accounts[userId] = account
            guard !state.sweeping else { return false }
            state.sweeping = true
            return true
        }
        if sweep { Task { await self.sweep() } }
    }

    /// Until when (wall clock) a block taken now may be held, as the database records it: one
    /// lifetime, and another for the sweep that gives it back.
    func heldUntilMs() -> Int64 { Millis.now() + rules.lifetime.milliseconds * 2 }

    /// Every half lifetime: gives back the expired blocks and settles the used-up ones, and
    /// forgets the users idle for two lifetimes. Ends when no user is left.
    private func sweep() async {
        while true {
            try? await Task.sleep(for: rules.lifetime / 2)
            let goOn = await turns.run { await sweepOnce() }
            guard goOn else { return }
        }
    }

    /// Settles what is due; whether to go on sweeping.
    private func sweepOnce() async -> Bool {
        let now = ContinuousClock.now
        let (due, goOn) = state.withLock { state in
            var due = state.pending
            state.pending.removeAll()
            for (userId, account) in state.accounts {
                if let block = account.block, block.expires <= now {
                    due.append(Self.takeBack(userId, from: &state))
                } else if account.block == nil, account.returning == nil, now - account.intervalStart >= rules.lifetime * 2 {
                    state.accounts[userId] = nil
                }
            }
            if state.accounts.isEmpty && state.pending.isEmpty { state.sweeping = false }
            return (due, state.sweeping)
        }
        await settle(due)
        return goOn
    }

    /// The refusal path's: settles at once what this instance holds of `userId` that is used up
    /// or expired, so that its own blocks never make a refusal wait.
    func flush(userId: String) async {
        await turns.run {
            let now = ContinuousClock.now
            let due = state.withLock { state in
                var due = state.pending.filter { $0.userId == userId }
                state.pending.removeAll { $0.userId == userId }
                if let block = state.accounts[userId]?.block, block.expires <= now { due.append(Self.takeBack(userId, from: &state)) }
                return due
            }
            await settle(due)
        }
    }

    /// Gives back every block and takes no more (the instance is stopping).
    func returnAll() async {
        await turns.run {
            let due = state.withLock { state in
                state.closed = true
                var due = state.pending
                state.pending.removeAll()
                for (userId, account) in state.accounts where account.block != nil {
                    due.append(Self.takeBack(userId, from: &state))
                }
                return due
            }
            await settle(due)
        }
    }

    /// Runs `read` (of the database's counts) and returns it with what `userId`'s block holds
    /// unused in `window`, with no block given back or taken between them (read again if one
    /// was taken): the count minus the unused is then what was handed out, on this instance
    /// exactly. Across instances the others' unused blocks are counted as used until they come
    /// back.
    func consistent<T>(userId: String, window: QuotaWindow, _ read: () async throws -> T) async rethrows -> (T, unused: Int64) {
        try await turns.run {
            var attempts = 0
            while true {
                let before = state.withLock { $0.accounts[userId]?.blocksTaken ?? 0 }
                let result = try await read()
                let (after, unused) = state.withLock { state in
                    let account = state.accounts[userId]
                    guard let block = account?.block, block.day == window else { return (account?.blocksTaken ?? 0, Int64(0)) }
                    return (account?.blocksTaken ?? 0, block.left)
                }
                attempts += 1
                if before == after || attempts == 5 { return (result, unused) }
            }
        }
    }

    /// Takes `userId`'s block out of memory; the user's calls wait until it is settled.
    private static func takeBack(_ userId: String, from state: inout State) -> Settlement {
        guard let block = state.accounts[userId]?.block else { preconditionFailure("no block to take back") }
        state.accounts[userId]?.block = nil
        state.accounts[userId]?.returning = []
        return Settlement(userId: userId, dayKey: block.day.key, monthKey: block.month.key, unused: block.left, granted: block.granted)
    }

    /// Waits until `userId`'s block has gone back (`take` said `.returning`).
    func returned(userId: String) async {
        await withCheckedContinuation { continuation in
            let waiting = state.withLock { state in
                guard state.accounts[userId]?.returning != nil else { return false }
                state.accounts[userId]?.returning?.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    /// One statement per block, for its day and month rows; then the users' calls go on. A
    /// give-back that fails leaves its requests counted: the user loses them for the period, as
    /// after a crash; nothing is ever admitted over a limit.
    private func settle(_ settlements: [Settlement]) async {
        guard !settlements.isEmpty else { return }
        defer {
            let waiting = state.withLock { state in
                var waiting: [CheckedContinuation<Void, Never>] = []
                for settlement in settlements {
                    waiting += state.accounts[settlement.userId]?.returning ?? []
                    state.accounts[settlement.userId]?.returning = nil
                }
                return waiting
            }
            for continuation in waiting { continuation.resume() }
        }
        try? await database.withSQL { sql in
            for settlement in settlements {
                try await sql.raw(
                    """
                    UPDATE quota_counters SET requests = requests - \(bind: settlement.unused),
                        leased = CASE WHEN leased > \(bind: settlement.granted) THEN leased - \(bind: settlement.granted) ELSE 0 END
                    WHERE user_id = \(bind: settlement.userId) AND period IN (\(bind: settlement.dayKey), \(bind: settlement.monthKey))
                    """
                ).run()
            }
        }
    }

    /// Whether another holder's block may still give back requests in `window`: the refusal
    /// path's question, after `flush`.
    func othersMayGiveBack(userId: String, window: QuotaWindow) async throws -> Bool {
        guard enabled else { return false }
        return try await database.withSQL { sql in
            try await sql.raw(
                """
                SELECT 1 AS held FROM quota_counters
                WHERE user_id = \(bind: userId) AND period = \(bind: window.key) AND leased > 0 AND lease_until_ms > \(bind: Millis.now())
                """
            ).first() != nil
        }
    }
}
