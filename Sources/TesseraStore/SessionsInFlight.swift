import Synchronization

/// How many decisions for each session this process has in flight. A decision that finds another
/// one in flight for its session skips the cached-view path: it would most likely lose the
/// version race and do its work twice. It goes straight to the path that runs in order inside
/// the writer, where a hot session's decisions still share group commits.
final class SessionsInFlight: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Registers a decision and says how many were already in flight for `id`.
    func enter(_ id: String) -> Int {
        counts.withLock { counts in
            let before = counts[id, default: 0]
            counts[id] = before + 1
            return before
        }
    }

    func leave(_ id: String) {
        counts.withLock { counts in
            let remaining = counts[id, default: 1] - 1
            counts[id] = remaining > 0 ? remaining : nil
        }
    }
}
