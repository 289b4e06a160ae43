import Crypto
import Foundation
import Synchronization

/// The server's keys for one provider: `OPENAI_API_KEYS=k1,k2,…` (and the one `OPENAI_API_KEY`).
/// Each call takes the key with the fewest calls in flight among those not cooling down; a key
/// the provider answers 429 cools down for its `Retry-After` (1 s when it gives none); a key it
/// answers 401 or 403 leaves the pool until the server restarts, unless it is the last one left.
/// When every key left is cooling down, the one that cools first is used: the provider, not the
/// bridge, says no.
public final class KeyPool: Sendable {
    private struct Slot {
        var inFlight = 0
        var coolsUntil: ContinuousClock.Instant?
        var disabled = false
    }

    let keys: [Secret<String>]
    /// How many keys the pool holds.
    public var count: Int { keys.count }
    private let slots: Mutex<[Slot]>

    public init(keys: [Secret<String>]) {
        self.keys = keys
        self.slots = Mutex(Array(repeating: Slot(), count: keys.count))
    }

    /// A key for one call, held until the lease is released (when the call's usage is recorded).
    func take() -> Lease? {
        let now = ContinuousClock.now
        let index: Int? = slots.withLock { slots in
            let open = slots.indices.filter { !slots[$0].disabled }
            let ready = open.filter { (slots[$0].coolsUntil ?? now) <= now }
            let chosen =
                ready.min { slots[$0].inFlight < slots[$1].inFlight }
                ?? open.min { (slots[$0].coolsUntil ?? now) < (slots[$1].coolsUntil ?? now) }
            if let chosen { slots[chosen].inFlight += 1 }
            return chosen
        }
        return index.map { Lease(pool: self, index: $0) }
    }

    fileprivate func release(_ index: Int) {
        slots.withLock { $0[index].inFlight -= 1 }
    }

    /// What the provider answered a call with the key at `index`. True when this took the key out
    /// of the pool (the caller announces it).
    func observe(_ index: Int, status: Int, retryAfter: Duration?) -> Bool {
        slots.withLock { slots in
            switch status {
            case 429:
                slots[index].coolsUntil = .now + (retryAfter ?? .seconds(1))
                return false
            case 401, 403:
                // The last key left stays: without it the provider's own 401 would become the
                // bridge's 503 for every call.
                guard !slots[index].disabled, slots.filter({ !$0.disabled }).count > 1 else { return false }
                slots[index].disabled = true
                return true
            default:
                return false
            }
        }
    }

    /// How a key is named where it may be seen (logs, webhooks): its place in the pool and the first
    /// 8 hex digits of its SHA-256, never the key.
    func name(_ index: Int) -> String {
        let digest = SHA256.hash(data: Data(keys[index].value.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
        return "#\(index + 1) (sha256 \(digest)…)"
    }

    /// One call's use of a key; the key goes back to the pool when the lease is released.
    final class Lease: Sendable {
        let pool: KeyPool
        let index: Int
        var key: Secret<String> { pool.keys[index] }

        init(pool: KeyPool, index: Int) {
            self.pool = pool
            self.index = index
        }

        deinit { pool.release(index) }
    }
}
