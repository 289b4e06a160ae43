import Foundation
import Generated
import SQLKit
import Synchronization

/// Group commit for quota admission. Requests that arrive while a batch is in the database wait
/// for the next one, which admits all of them with one statement: for each user and window, the
/// counter grows by the number of waiting requests only if all of them fit (the same conditions
/// as one request: under the quota, under any token and cost budget). Under load a statement
/// admits many requests; alone, a request costs one statement for its day and month together.
///
/// A busy user's group also takes a block of requests for later (`QuotaLeases`): the counter
/// grows by the group and the block together, or not at all. Before each statement the requests
/// that a block taken meanwhile can serve are served from it, so on one instance a user's counts
/// go to the database only when no block of theirs has a request left.
///
/// Whatever the batch cannot settle whole (a user near a limit, a window that refused while the
/// other admitted, a failed statement) goes through `QuotaLedger`'s one-request path, one request
/// at a time, so the counts stay exact: N concurrent requests against a quota of Q let exactly Q
/// through, whichever way they were batched.
final class AdmissionBatch: Sendable {
    /// What the batch decided for one request.
    enum Verdict: Sendable {
        /// Counted in both windows; the counts after it, and the limits.
        case admitted(day: Counted, month: Counted)
        /// Not settled: the caller takes the one-request path.
        case single
    }

    struct Counted: Sendable {
        var used: Int64
        var limit: Int64
    }

    private struct Waiting {
        var userId: String
        var day: QuotaWindow
        var month: QuotaWindow
        var continuation: CheckedContinuation<Verdict, Never>
    }

    private struct State: ~Copyable {
        var waiting: [Waiting] = []
        var leading = false
    }

    private let database: any Database
    private let leases: QuotaLeases
    private let state = Mutex(State())

    init(database: any Database, leases: QuotaLeases) {
        self.database = database
        self.leases = leases
    }

    /// Waits for the batch that settles this request. The first request to find no batch running
    /// runs batches (in a task of its own) until none is waiting.
    func admit(userId: String, day: QuotaWindow, month: QuotaWindow) async -> Verdict {
        await withCheckedContinuation { continuation in
            let lead = state.withLock { state in
                state.waiting.append(Waiting(userId: userId, day: day, month: month, continuation: continuation))
                guard !state.leading else { return false }
                state.leading = true
                return true
            }
            if lead {
                Task { await self.lead() }
            }
        }
    }

    private func lead() async {
        while true {
            let batch = state.withLock { state in
                let batch = state.waiting
                state.waiting.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.leading = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            var rest: [Waiting] = []
            for waiting in batch {
                switch leases.take(userId: waiting.userId, day: waiting.day, month: waiting.month, isNewCall: false) {
                case .handed(let day, let month): waiting.continuation.resume(returning: .admitted(day: day, month: month))
                case .returning: waiting.continuation.resume(returning: .single)  // waits there for the give-back
                case .none: rest.append(waiting)
                }
            }
            if !rest.isEmpty { await settle(rest) }
        }
    }

    /// One group per user: the positions of that user's requests in the batch. A request of the
    /// same user in another day (a batch across midnight) is in no group and takes the one-request
    /// path: two groups of one user would share the month's row within one statement, and the
    /// second's refusal there would be hidden by the first's success.
    static func grouped(_ requests: [(userId: String, day: QuotaWindow, month: QuotaWindow)]) -> [Group] {
        var groups: [Group] = []
        var index: [String: Int] = [:]
        for (position, request) in requests.enumerated() {
            if let existing = index[request.userId] {
                if groups[existing].day == request.day && groups[existing].month == request.month {
                    groups[existing].members.append(position)
                }
            } else {
                index[request.userId] = groups.count
                groups.append(Group(userId: request.userId, day: request.day, month: request.month, members: [position]))
            }
        }
        return groups
    }

    /// The requests of one user in the same day and month.
    struct Group {
        var userId: String
        var day: QuotaWindow
        var month: QuotaWindow
        var members: [Int]
        /// The requests taken beyond the members, as a block for later calls.
        var block: Int64 = 0

        /// What the statement adds to each of the group's rows.
        var size: Int64 { Int64(members.count) + block }
    }

    private func settle(_ batch: [Waiting]) async {
        var groups = Self.grouped(batch.map { ($0.userId, $0.day, $0.month) })
        for index in groups.indices { groups[index].block = leases.blockSize(userId: groups[index].userId) }
        var verdicts = [Verdict](repeating: .single, count: batch.count)
        // A statement that fails counts nothing: then every request takes the one-request path.
        if let counted = try? await count(groups) {
            var partial: [(userId: String, key: String, by: Int64)] = []
            for group in groups {
                let day = counted[RowKey(userId: group.userId, period: group.day.key)]
                let month = counted[RowKey(userId: group.userId, period: group.month.key)]
                if let day, let month {
                    // The members' counts come first, the block's last.
                    for (offset, position) in group.members.enumerated() {
                        let after = group.size - Int64(offset) - 1
                        verdicts[position] = .admitted(
                            day: Counted(used: day.counted.used - after, limit: day.counted.limit),
                            month: Counted(used: month.counted.used - after, limit: month.counted.limit)
                        )
                    }
                    leases.record(
                        userId: group.userId, day: group.day, month: group.month, dayCount: day.counted, monthCount: month.counted,
                        leasable: day.leasable, block: group.block)
                } else if day != nil {
                    partial.append((group.userId, group.day.key, group.size))
                } else if month != nil {
                    partial.append((group.userId, group.month.key, group.size))
                }
            }
            // Should the give-back fail, the window keeps counts no request used: the user loses
            // them for the period, and nothing is ever admitted over a limit.
            if !partial.isEmpty { try? await giveBack(partial) }
        }
        for (waiting, verdict) in zip(batch, verdicts) {
            waiting.continuation.resume(returning: verdict)
        }
    }

    private struct RowKey: Hashable {
        var userId: String
        var period: String
    }

    /// One statement for the whole batch: for every group, its day row and its month row grow by
    /// the group's size, each only if the whole group fits. The rows that grew come back.
    private func count(_ groups: [Group]) async throws -> [RowKey: (counted: Counted, leasable: Bool)] {
        var rowsWanted: [SQLQueryString] = []
        for group in groups.sorted(by: { $0.userId < $1.userId }) {
            // Rows in user order, day before month: concurrent batches on PostgreSQL take the
            // row locks in one order.
            for period in [group.day.key, group.month.key] {
                rowsWanted.append(
                    "(CAST(\(bind: group.userId) AS TEXT), CAST(\(bind: period) AS TEXT), CAST(\(bind: group.size) AS BIGINT), CAST(\(bind: group.block) AS BIGINT))"
                )
            }
        }
        // The window's limits: the day's columns for `d:` rows, the month's for `m:` rows.
        func limit(_ column: KeyPath<QuotaWindow.Columns, String>, of period: String) -> SQLQueryString {
            let day = QuotaWindow.userColumns(.day)[keyPath: column]
            let month = QuotaWindow.userColumns(.month)[keyPath: column]
            return SQLQueryString(stringLiteral: "(CASE WHEN substr(\(period), 1, 2) = 'd:' THEN u.\(day) ELSE u.\(month) END)")
        }
        let requests = limit(\.requests, of: "quota_counters.period")
        let tokens = limit(\.tokens, of: "quota_counters.period")
        let cost = limit(\.cost, of: "quota_counters.period")
        let wantedRequests = limit(\.requests, of: "w.period")
        let wantedTokens = limit(\.tokens, of: "w.period")
        let wantedCost = limit(\.cost, of: "w.period")
        let values = rowsWanted.joined(separator: ", ")
        let heldUntil = leases.heldUntilMs()
        let rows = try await database.withSQL { sql in
            try await sql.raw(
                """
                WITH wanted (user_id, period, size, block) AS (VALUES \(values))
                INSERT INTO quota_counters (user_id, period, requests, tokens, cost_micros, lease_until_ms)
                SELECT u.user_id, w.period, w.size, 0, 0, CASE WHEN w.block > 0 THEN \(bind: heldUntil) ELSE 0 END
                FROM wanted w JOIN users u ON u.user_id = w.user_id
                WHERE \(wantedRequests) >= w.size AND COALESCE(\(wantedTokens), 1) > 0 AND COALESCE(\(wantedCost), 1) > 0
                ORDER BY u.user_id, w.period
                ON CONFLICT (user_id, period) DO UPDATE SET requests = quota_counters.requests + excluded.requests,
                    lease_until_ms = CASE WHEN excluded.lease_until_ms > quota_counters.lease_until_ms
                        THEN excluded.lease_until_ms ELSE quota_counters.lease_until_ms END
                WHERE EXISTS (
                    SELECT 1 FROM users u WHERE u.user_id = quota_counters.user_id
                    AND quota_counters.requests + excluded.requests <= \(requests)
                    AND (\(tokens) IS NULL OR quota_counters.tokens < \(tokens))
                    AND (\(cost) IS NULL OR quota_counters.cost_micros < \(cost)))
                RETURNING user_id, period, requests,
                    (SELECT \(requests) FROM users u WHERE u.user_id = quota_counters.user_id) AS quota_limit, \(Self.leasable)
                """
            ).all()
        }
        var counted: [RowKey: (counted: Counted, leasable: Bool)] = [:]
        for row in rows {
            let key = RowKey(
                userId: try row.decode(column: "user_id", as: String.self), period: try row.decode(column: "period", as: String.self))
            counted[key] = (
                Counted(
                    used: try row.decode(column: "requests", as: Int64.self), limit: try row.decode(column: "quota_limit", as: Int64.self)),
                try row.decode(column: "leasable", as: Int64.self) == 1
            )
        }
        return counted
    }

    /// A `RETURNING` column of the counter statements: 1 when the row's user has no token or
    /// cost budget, so may take a block (`QuotaLeases`).
    static let leasable: SQLQueryString = """
        (SELECT CAST(CASE WHEN u.daily_token_budget IS NULL AND u.monthly_token_budget IS NULL
            AND u.daily_cost_budget_micros IS NULL AND u.monthly_cost_budget_micros IS NULL THEN 1 ELSE 0 END AS BIGINT)
         FROM users u WHERE u.user_id = quota_counters.user_id) AS leasable
        """

    /// Takes back what a group counted in one window when the other refused it.
    private func giveBack(_ rows: [(userId: String, key: String, by: Int64)]) async throws {
        try await database.withSQL { sql in
            for row in rows {
                try await sql.raw(
                    """
                    UPDATE quota_counters SET requests = requests - \(bind: row.by)
                    WHERE user_id = \(bind: row.userId) AND period = \(bind: row.key) AND requests >= \(bind: row.by)
                    """
                ).run()
            }
        }
    }
}
