import Foundation
import Synchronization

/// At most `limit` operations per requester (client address) in a sliding `window`: bounds what
/// one anonymous caller can make the server store or compute, independently of the target.
final class RequesterLimiter: Sendable {
    let limit: Int
    let window: TimeInterval
    private let history = Mutex<[String: [Date]]>([:])
    static let capacity = 100_000

    init(limit: Int, window: TimeInterval) {
        self.limit = limit
        self.window = window
    }

    /// The seconds to wait if `requester` is at its limit now, without counting anything.
    func peek(_ requester: String, now: Date) -> Int? {
        history.withLock { history in
            let recent = (history[requester] ?? []).filter { now.timeIntervalSince($0) < window }
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    /// Counts one operation for `requester` and returns nil, or the seconds to wait.
    func admit(_ requester: String, now: Date) -> Int? {
        history.withLock { history in
            if history.count >= Self.capacity {
                history = history.filter { $0.value.last.map { now.timeIntervalSince($0) < window } ?? false }
            }
            let recent = (history[requester] ?? []).filter { now.timeIntervalSince($0) < window }
            if recent.count >= limit, let oldest = recent.first {
                history[requester] = recent
                return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
            }
            history[requester] = recent + [now]
            return nil
        }
    }
}
