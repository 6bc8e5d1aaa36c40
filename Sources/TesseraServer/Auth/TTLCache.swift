import Foundation
import Synchronization

/// A bounded cache whose entries expire after a fixed time to live.
///
/// Used where a store answer may be reused briefly (API-key resolution, user and workspace
/// state): the TTL is the longest time a revocation or a disable can go unnoticed by this process.
/// Bounded so that a flood of distinct keys cannot grow memory without limit.
final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: Date
    }

    private let entries = Mutex<[Key: Entry]>([:])
    let ttl: TimeInterval
    let capacity: Int

    init(ttl: TimeInterval, capacity: Int = 10_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    func value(for key: Key, now: Date) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > now else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    func set(_ value: Value, for key: Key, now: Date) {
        guard ttl > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(value: value, expires: now.addingTimeInterval(ttl))
        }
    }

    func remove(_ key: Key) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    func removeAll(where predicate: (Value) -> Bool) {
        entries.withLock { entries in entries = entries.filter { !predicate($0.value.value) } }
    }
}
