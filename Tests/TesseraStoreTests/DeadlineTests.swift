import Foundation
import Synchronization
import Testing

@testable import TesseraStore

/// The database deadline answers the caller on time even when the work ignores cancellation
/// (what postgres-nio did with queries in flight when PostgreSQL was crash-stopped).
@Suite("Deadline")
struct DeadlineTests {
    final class Flag: Sendable {
        let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    @Test("work that finishes first returns its value; its error passes through unchanged")
    func workWins() async throws {
        #expect(try await Deadline(.seconds(10)).run { 42 } == 42)
        await #expect(throws: StoreError.conflict("x")) { try await Deadline(.seconds(10)).run { () async throws -> Int in throw StoreError.conflict("x") } }
    }

    @Test("work that ignores cancellation: the caller gets DeadlineExceeded, and the work is told to stop")
    func uncooperativeWork() async throws {
        let cancelled = Flag()
        let released = Flag()
        // Without the deadline the caller would wait for the work, which ends only when this
        // watchdog releases it: the order of the two events is what the test checks.
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(10))
            released.set()
        }
        await #expect(throws: DeadlineExceeded.self) {
            try await Deadline(.milliseconds(200)).run { () async throws -> Int in
                // Never returns early on cancellation, as a stuck driver call would.
                while !released.isSet {
                    if Task.isCancelled { cancelled.set() }
                    try? await Task.sleep(for: .milliseconds(10))
                }
                return 1
            }
        }
        #expect(!released.isSet, "the caller was held until the work ended")
        // The abandoned work is told to stop (it notices on its next turn).
        let deadline = ContinuousClock.now + .seconds(10)
        while !cancelled.isSet, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(cancelled.isSet)
        watchdog.cancel()
        released.set()
    }

    @Test("cancelling the caller answers it at once with CancellationError")
    func callerCancelled() async throws {
        let started = Flag()
        let task = Task {
            try await Deadline(.seconds(30)).run { () async throws -> Int in
                started.set()
                try await Task.sleep(for: .seconds(30))
                return 1
            }
        }
        // Cancelled once the work is under way (polled, not a fixed wait).
        let deadline = ContinuousClock.now + .seconds(10)
        while !started.isSet, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try #require(started.isSet)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
