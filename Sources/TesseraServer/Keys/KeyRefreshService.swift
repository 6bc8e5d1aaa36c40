import Logging
import ServiceLifecycle

/// Re-reads the signing keys on a fixed period, so a rotation by another process sharing the
/// store, or a retired key leaving its grace period, is reflected without a restart.
struct KeyRefreshService: Service {
    let keys: SigningKeyService
    let period: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
            } catch {
                return
            }
            do {
                try await keys.refresh()
            } catch {
                logger.warning("signing key refresh failed; keeping the current keys", metadata: ["error": "\(error)"])
            }
        }
    }
}
