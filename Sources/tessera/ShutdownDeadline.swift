import Foundation
import Logging
import ServiceLifecycle

/// Ends the process a fixed time after graceful shutdown begins, whatever is still open.
///
/// Hummingbird drains in-flight requests on SIGTERM, but a connection that has not sent its first
/// request yet is never closed when the WebSocket upgrade pipeline is in use (its idle timeout is
/// installed only after the first request) — and cancellation does not close it either. Measured:
/// one silent TCP connection (an HTTP client's spare, a load balancer's pre-connect) kept
/// `tessera serve` alive indefinitely after SIGTERM. So once shutdown starts, a plain thread waits
/// `limit` and then exits with status 0: the stop was requested, and every answered request was
/// already committed.
struct ShutdownDeadline: Service {
    let limit: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let limit = self.limit
        let logger = self.logger
        let thread = Thread {
            Thread.sleep(forTimeInterval: Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18)
            logger.warning("connections still open \(limit) after the stop request; exiting")
            FileHandle.standardError.write(Data("tessera: stopped (drain limit reached)\n".utf8))
            exit(0)
        }
        thread.name = "tessera-shutdown-deadline"
        thread.start()
    }
}
