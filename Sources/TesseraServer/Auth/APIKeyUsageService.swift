import ServiceLifecycle

/// Writes API keys' `last_used` in batches, so a busy key costs one store write per period
/// rather than one per request. Flushes once more on shutdown.
struct APIKeyUsageService: Service {
    let authenticator: Authenticator
    let period: Duration

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
            } catch {
                break
            }
            await authenticator.flushUsage()
        }
        await authenticator.flushUsage()
    }
}
