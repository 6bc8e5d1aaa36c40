import Synchronization
import TesseraStore

/// The last store probe, reused for one second.
final class HealthProbe: Sendable {
    private let last = Mutex<(at: ContinuousClock.Instant, healthy: Bool)?>(nil)

    func healthy(_ store: any TesseraStore) async -> Bool {
        let now = ContinuousClock.now
        if let last = last.withLock({ $0 }), now - last.at < .seconds(1) { return last.healthy }
        let healthy = (try? await store.ping()) != nil
        last.withLock { $0 = (now, healthy) }
        return healthy
    }
}
