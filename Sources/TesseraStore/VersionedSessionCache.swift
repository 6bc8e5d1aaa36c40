import Synchronization
import TesseraCore

/// Sessions as this node last saw them, each with the version it had. Never trusted on its own:
/// a write based on an entry succeeds only if the database still holds that version, so a stale
/// entry costs one failed statement and a refresh, never a wrong decision. Bounded: at capacity it
/// starts over (a miss only means the locking path).
final class VersionedSessionCache: Sendable {
    static let capacity = 50_000
    private let entries = Mutex<[String: (SessionState, Int64)]>([:])
    /// Decisions written from a view (the fast path), for tests and diagnostics.
    let hits = Atomic<Int>(0)

    func session(_ id: String) -> (SessionState, Int64)? {
        entries.withLock { $0[id] }
    }

    func remember(_ id: String, _ state: SessionState, version: Int64) {
        entries.withLock { entries in
            if entries.count >= Self.capacity, entries[id] == nil { entries.removeAll(keepingCapacity: true) }
            // Two local writers may finish out of order; keep the newer view.
            if let existing = entries[id], existing.1 > version { return }
            entries[id] = (state, version)
        }
    }

    func forget(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
