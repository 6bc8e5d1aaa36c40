import Foundation
import TesseraCore
import Synchronization

/// DENYs cost a session nothing from its budget, so without a limit an agent could repeat a
/// refused — possibly expensive — call forever (round-three finding 12). A DENY weighs the
/// constraint work its call could cost (``Evaluator/cost(tool:arguments:)``, in steps), and a
/// `constraint_too_costly` DENY the whole per-call budget; each session may be denied `limit`
/// weight per fixed `window` (by default 20 calls' worth of the full budget a minute, about half
/// a second of CPU); past it, its calls are answered 429 without being evaluated until the
/// window turns. Cheap DENYs (a tool not allowed, an exhausted budget) weigh next to nothing, so
/// a burst of them — a budget race, say — is answered as DENYs, never as 429s.
///
/// Per node and in memory: a fleet multiplies the allowance by its node count, which still
/// bounds the work, and a restart forgets it. One lock, a dictionary look-up and no allocation
/// on the path every evaluation takes (``retryAfter(_:now:)``).
final class DenialRate: Sendable {
    struct Window {
        var start: Date
        var weight: Int
    }

    let limit: Int
    let window: TimeInterval
    private let windows = Mutex<[String: Window]>([:])
    static let capacity = 100_000

    init(limit: Int = 20 * Evaluator.stepBudget, window: TimeInterval = 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until `session` may be evaluated again, or nil when it may now.
    func retryAfter(_ session: String, now: Date) -> Int? {
        windows.withLock { windows in
            guard let current = windows[session], current.weight >= limit else { return nil }
            let elapsed = now.timeIntervalSince(current.start)
            guard elapsed < window else { return nil }
            return max(1, Int((window - elapsed).rounded(.up)))
        }
    }

    /// Counts a DENY of `weight` against `session`.
    func record(_ session: String, weight: Int, now: Date) {
        windows.withLock { windows in
            if windows.count >= Self.capacity {
                windows = windows.filter { now.timeIntervalSince($0.value.start) < window }
            }
            if var current = windows[session], now.timeIntervalSince(current.start) < window {
                current.weight += weight
                windows[session] = current
            } else {
                windows[session] = Window(start: now, weight: weight)
            }
        }
    }
}
