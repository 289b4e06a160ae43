import Foundation
import SQLKit
import Synchronization

/// Quota leases: the blocks of a user's request quota this instance holds (DESIGN.md, "Quotas
/// and budgets"; docs/limits.md). A block is counted in the database when it is taken, in the
/// same atomic statement as the requests that took it (`AdmissionBatch`), and handed out here
/// from memory, one request at a time, with no statement. A block used up costs nothing more.
/// What a block did not hand out goes back to the database when the user has been idle for a
/// `lifetime`, when the block has been held for three, and when this instance stops. The counter
/// row's `lease_until_ms` says until when a block taken may still come back, so a refusal waits
/// that long at most for other holders' blocks (`QuotaLedger`).
///
/// A block is sized by the user's pace (the calls of about two lifetimes), and taken only while
/// at least `nearLimit` requests are left in both windows, never more than an eighth of them: a
/// quiet user and a user near a limit take none, and are counted one statement per call, as
/// without leases. A user with a token or cost budget takes none either: those are charged
/// after each response, and a block would let calls through after the budget was spent.
final class QuotaLeases: Sendable {
    struct Rules: Sendable {
        /// A block whose user has been idle this long goes back; zero: no leases.
        var lifetime: Duration
        /// The largest block.
        var maxBlock: Int64 = 256
        /// With fewer requests than this left in a window, no block is taken.
        var nearLimit: Int64 = 64

        /// No block is held longer than this.
        var maximumHold: Duration { lifetime * 3 }
        /// How long after it is taken the database says a block may still come back: the
        /// longest hold, and the sweep that gives it back.
        var recordedHold: Duration { lifetime * 4 }
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
        var taken: ContinuousClock.Instant
        var lastUsed: ContinuousClock.Instant
    }

    /// A block going back: its unused requests leave both counters.
    struct Settlement: Sendable {
        var userId: String
        var dayKey: String
        var monthKey: String
        var unused: Int64
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
        var sweeping = false
        var closed = false
    }

    let rules: Rules
    private let database: any Database
    private let state = Mutex(State())
    /// Held while blocks are taken out of memory and given back, and while a reader compares the
    /// database's count with what memory holds (`consistent`): so no block is ever in neither.
    private let turns = Permits()

    init(database: any Database, rules: Rules) {
        self.database = database
        self.rules = rules
    }

    var enabled: Bool { rules.lifetime > .zero }

    /// The users this instance keeps a pace or a block for (bounded by those active lately).
    var knownUsers: Int { state.withLock { $0.accounts.count } }

    /// One request of `userId`: counts it towards the user's pace and, when a block of the same
    /// day and month has a request left, hands that out.
    func take(userId: String, day: QuotaWindow, month: QuotaWindow, isNewCall: Bool = true) -> Taken {
        guard enabled else { return .none }
        let now = ContinuousClock.now
        let (taken, sweep) = state.withLock { state -> (Taken, Bool) in
            var account = state.accounts[userId] ?? Account(intervalStart: now)
            if isNewCall { pace(&account, now: now) }
            defer { state.accounts[userId] = account }
            // The sweep also forgets idle users, so it runs while any user is known.
            let sweep = !state.sweeping
            state.sweeping = true
            guard account.returning == nil else { return (.returning, sweep) }
            guard var block = account.block, block.day == day, block.month == month else { return (.none, sweep) }
            let handed = Taken.handed(
                day: AdmissionBatch.Counted(used: block.dayNext, limit: block.dayLimit),
                month: AdmissionBatch.Counted(used: block.monthNext, limit: block.monthLimit)
            )
            block.dayNext += 1
            block.monthNext += 1
            block.left -= 1
            block.lastUsed = now
            // A block used up is simply dropped: every request of it was counted when it was taken.
            account.block = block.left > 0 ? block : nil
            return (handed, sweep)
        }
        if sweep { Task { await self.sweep() } }
        return taken
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
        state.withLock { state in
            var account = state.accounts[userId] ?? Account(intervalStart: now)
            account.dayLeft = dayCount.limit - dayCount.used
            account.monthLeft = monthCount.limit - monthCount.used
            account.leasable = leasable
            // `blockSize` asks for none while the user holds one, so this never replaces a block.
            if block > 0 {
                account.blocksTaken += 1
                account.block = Block(
                    day: day, month: month, dayNext: dayCount.used - block + 1, dayLimit: dayCount.limit,
                    monthNext: monthCount.used - block + 1, monthLimit: monthCount.limit, left: block, taken: now, lastUsed: now)
            }
            state.accounts[userId] = account
        }
    }

    /// Until when (wall clock) a block taken now may come back, as the database records it.
    func heldUntilMs() -> Int64 { Millis.now() + rules.recordedHold.milliseconds }

    /// Every half lifetime: gives back the blocks whose users went idle and those held too long,
    /// and forgets the users idle for two lifetimes. Ends when no user is left; the next call
    /// starts it again.
    private func sweep() async {
        while true {
            try? await Task.sleep(for: rules.lifetime / 2)
            guard await turns.run({ await sweepOnce() }) else { return }
        }
    }

    /// Gives back what is due; whether to go on sweeping.
    private func sweepOnce() async -> Bool {
        let now = ContinuousClock.now
        let (due, goOn) = state.withLock { state in
            var due: [Settlement] = []
            for (userId, account) in state.accounts {
                if let block = account.block {
                    if now - block.lastUsed >= rules.lifetime || now - block.taken >= rules.maximumHold {
                        due.append(Self.takeBack(userId, from: &state))
                    }
                } else if account.returning == nil, now - account.intervalStart >= rules.lifetime * 2 {
                    state.accounts[userId] = nil
                }
            }
            state.sweeping = !state.accounts.isEmpty
            return (due, state.sweeping)
        }
        await settle(due)
        return goOn
    }

    /// The refusal path's: gives back at once what this instance holds of `userId` (a block of
    /// another day or month, or one the user stopped using), so its own blocks never make a
    /// refusal wait.
    func flush(userId: String) async {
        await turns.run {
            let due = state.withLock { state in state.accounts[userId]?.block == nil ? [] : [Self.takeBack(userId, from: &state)] }
            await settle(due)
        }
    }

    /// Gives back every block and takes no more (the instance is stopping).
    func returnAll() async {
        await turns.run {
            let due = state.withLock { state in
                state.closed = true
                var due: [Settlement] = []
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
        return Settlement(userId: userId, dayKey: block.day.key, monthKey: block.month.key, unused: block.left)
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
                    UPDATE quota_counters SET requests = requests - \(bind: settlement.unused)
                    WHERE user_id = \(bind: settlement.userId) AND period IN (\(bind: settlement.dayKey), \(bind: settlement.monthKey))
                    """
                ).run()
            }
        }
    }

    /// How much longer a block taken in `window` may still come back (nil: none can): the
    /// refusal path's question, after `flush`. The time is the one the taker recorded, so
    /// instances with different lifetimes wait for each other correctly.
    func mayComeBack(userId: String, window: QuotaWindow) async throws -> Duration? {
        guard enabled else { return nil }
        let now = Millis.now()
        let until = try await database.withSQL { sql in
            try await sql.raw(
                "SELECT lease_until_ms FROM quota_counters WHERE user_id = \(bind: userId) AND period = \(bind: window.key)"
            ).first()?.decode(column: "lease_until_ms", as: Int64.self)
        }
        guard let until, until > now else { return nil }
        return .milliseconds(until - now)
    }
}
