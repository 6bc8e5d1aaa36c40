import ServiceLifecycle

/// Ends the console's live feeds when graceful shutdown starts: a feed is a response that never
/// finishes by itself, and the server waits for open responses before it exits.
struct DecisionFeedShutdown: Service {
    let feed: DecisionFeed

    func run() async throws {
        // Returns when shutdown begins (or throws if the service group is cancelled outright).
        try? await gracefulShutdown()
        feed.close()
    }
}
