import Synchronization

/// One lane per session on this node: decisions for the same session run one after another here,
/// so they do not race each other's version-conditioned writes (each loser would pay a failed
/// statement and the locking path). Sessions never wait for one another, and a waiting decision
/// holds no database connection — unlike waiting on the row lock, which held one per waiter.
/// Nodes still race each other; the version condition keeps that exact.
final class SessionLanes: Sendable {
    private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    func run<T: Sendable>(_ id: String, _ body: () async throws -> T) async throws -> T {
        await enter(id)
        defer { leave(id) }
        return try await body()
    }

    private func enter(_ id: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let proceed = waiting.withLock { waiting -> Bool in
                if waiting[id] == nil {
                    waiting[id] = []
                    return true
                }
                waiting[id]!.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
    }

    private func leave(_ id: String) {
        let next = waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
            guard var queue = waiting[id], !queue.isEmpty else {
                waiting[id] = nil
                return nil
            }
            let next = queue.removeFirst()
            waiting[id] = queue
            return next
        }
        next?.resume()
    }
}
