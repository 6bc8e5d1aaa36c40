import Foundation
import Synchronization

/// Throttles password checks (login and change-password's current password) per username and
/// per client address.
///
/// An attempt is *counted before the hash is computed*, atomically with the check, and only a
/// success takes its count back: 30 concurrent guesses for one user cannot all pass a check made
/// before any of them has failed. Concurrent hashes are also capped per user and per address,
/// so a burst cannot occupy the hashing pool either. Applied identically whether or not the
/// username exists, so it reveals nothing.
final class LoginThrottle: Sendable {
    let window: TimeInterval
    let perUsername: Int
    let perAddress: Int
    /// Password hashes running at once for one user / one address.
    let concurrentPerUsername: Int
    let concurrentPerAddress: Int
    private let state = Mutex(State())
    static let capacity = 100_000

    struct State {
        var attempts: [String: [Date]] = [:]
        var inFlight: [String: Int] = [:]
    }

    /// One admitted attempt; hand it back with ``finish(_:succeeded:)``.
    struct Ticket: Sendable {
        let keys: [String]
        let at: Date
    }

    enum Refusal: Error {
        /// Seconds until another attempt is allowed.
        case retryAfter(Int)
    }

    init(window: TimeInterval = 300, perUsername: Int = 5, perAddress: Int = 20, concurrentPerUsername: Int = 2, concurrentPerAddress: Int = 4) {
        self.window = window
        self.perUsername = perUsername
        self.perAddress = perAddress
        self.concurrentPerUsername = concurrentPerUsername
        self.concurrentPerAddress = concurrentPerAddress
    }

    /// Admits an attempt and counts it now, or refuses with the time to wait.
    func begin(username: String, address: String?, now: Date) throws(Refusal) -> Ticket {
        let keys = Self.keys(username: username, address: address)
        let result: Result<Ticket, Refusal> = state.withLock { state in
            if state.attempts.count >= Self.capacity {
                state.attempts = state.attempts.filter { $0.value.last.map { now.timeIntervalSince($0) < window } ?? false }
            }
            var wait: TimeInterval = 0
            for key in keys {
                let limit = key.hasPrefix("user:") ? perUsername : perAddress
                let recent = (state.attempts[key] ?? []).filter { now.timeIntervalSince($0) < window }
                state.attempts[key] = recent.isEmpty ? nil : recent
                if recent.count >= limit, let oldest = recent.first {
                    wait = max(wait, window - now.timeIntervalSince(oldest))
                }
                let concurrent = key.hasPrefix("user:") ? concurrentPerUsername : concurrentPerAddress
                if (state.inFlight[key] ?? 0) >= concurrent { wait = max(wait, 1) }
            }
            if wait > 0 { return .failure(.retryAfter(max(1, Int(wait.rounded(.up))))) }
            for key in keys {
                state.attempts[key, default: []].append(now)
                state.inFlight[key, default: 0] += 1
            }
            return .success(Ticket(keys: keys, at: now))
        }
        return try result.get()
    }

    /// Ends an attempt. A success takes back its own count (and clears the user's failures, as a
    /// successful login does); a failure stays counted.
    func finish(_ ticket: Ticket, succeeded: Bool) {
        state.withLock { state in
            for key in ticket.keys {
                let running = (state.inFlight[key] ?? 1) - 1
                state.inFlight[key] = running > 0 ? running : nil
                guard succeeded else { continue }
                if key.hasPrefix("user:") {
                    state.attempts[key] = nil
                } else if var list = state.attempts[key], let index = list.lastIndex(of: ticket.at) {
                    list.remove(at: index)
                    state.attempts[key] = list.isEmpty ? nil : list
                }
            }
        }
    }

    static func keys(username: String, address: String?) -> [String] {
        var keys = ["user:" + username.lowercased()]
        if let address { keys.append("addr:" + address) }
        return keys
    }
}
