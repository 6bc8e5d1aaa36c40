import Synchronization

/// The codebase's one lock is the standard library's `Mutex`. A `Mutex` cannot be copied, so a
/// value type or an escaping closure that must share one locked value holds it through this
/// class instead (the same lock, by reference).
public final class SharedMutex<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    public func withLock<Result: Sendable>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { value in try body(&value) }
    }
}
