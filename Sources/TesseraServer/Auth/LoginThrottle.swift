import Foundation
import NIOConcurrencyHelpers

/// Counts failed logins per username and per client address in a sliding window, and refuses
/// further attempts once either count reaches its limit.
///
/// Applied identically whether or not the username exists, so it reveals nothing. Checked before
/// the password hash is computed, so a guessing loop costs the server almost nothing.
final class LoginThrottle: Sendable {
    let window: TimeInterval
    let perUsername: Int
    let perAddress: Int
    private let failures = NIOLockedValueBox<[String: [Date]]>([:])
    static let capacity = 100_000

    init(window: TimeInterval = 300, perUsername: Int = 5, perAddress: Int = 20) {
        self.window = window
        self.perUsername = perUsername
        self.perAddress = perAddress
    }

    /// Seconds until another attempt is allowed, or nil when allowed now.
    func retryAfter(username: String, address: String?, now: Date) -> Int? {
        failures.withLockedValue { failures in
            var wait: TimeInterval = 0
            for (key, limit) in Self.keys(username: username, address: address, perUsername: perUsername, perAddress: perAddress) {
                let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
                failures[key] = recent.isEmpty ? nil : recent
                if recent.count >= limit, let oldest = recent.first {
                    wait = max(wait, window - now.timeIntervalSince(oldest))
                }
            }
            return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
        }
    }

    func recordFailure(username: String, address: String?, now: Date) {
        failures.withLockedValue { failures in
            if failures.count >= Self.capacity {
                failures = failures.filter { $0.value.last.map { now.timeIntervalSince($0) < window } ?? false }
            }
            for (key, limit) in Self.keys(username: username, address: address, perUsername: perUsername, perAddress: perAddress) {
                var list = failures[key] ?? []
                list.append(now)
                failures[key] = Array(list.suffix(limit))
            }
        }
    }

    func recordSuccess(username: String) {
        _ = failures.withLockedValue { $0.removeValue(forKey: "user:" + username.lowercased()) }
    }

    static func keys(username: String, address: String?, perUsername: Int, perAddress: Int) -> [(String, Int)] {
        var keys = [("user:" + username.lowercased(), perUsername)]
        if let address { keys.append(("addr:" + address, perAddress)) }
        return keys
    }
}
