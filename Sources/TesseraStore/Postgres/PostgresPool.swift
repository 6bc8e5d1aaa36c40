import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The connection pool behind ``PostgresStore``, with an outage breaker in front of it.
///
/// postgres-nio's pool never fails a waiting request when it cannot connect: the request queues
/// while the pool retries with a back-off that grows to a minute (and its own circuit breaker trips
/// only after 60 s). Left alone, an outage makes every request wait for its deadline, and after
/// PostgreSQL returns the pool may still sit out a long back-off. So:
/// - a failure that looks like the database going away (no SQL state: refused, closed, deadline)
///   makes the next caller *probe* with one direct connection (1 s connect timeout) instead of
///   queueing;
/// - while the probe says "down", callers fail at once (503 upstream) and one caller at most every
///   ``probeInterval`` probes again;
/// - a probe that finds the database down shuts the pool down, which fails the requests queued on
///   it at once instead of at their deadlines, and starts a fresh one; the first successful probe
///   replaces it again, so recovery takes one probe interval, never an inherited back-off.
final class PostgresPool: Sendable {
    enum Health: Sendable, Equatable {
        /// Nothing wrong seen since the last success.
        case up
        /// A failure that may be an outage (or just load); the next caller probes.
        case suspect
        /// The last probe failed.
        case down
    }

    struct State: Sendable {
        var client: PostgresClient
        var runner: Task<Void, Never>
        var health: Health = .up
        var probing = false
        var lastProbe: ContinuousClock.Instant?
    }

    /// How often, at most, one caller probes a database that is down.
    static let probeInterval: Duration = .milliseconds(250)
    /// A probe that takes longer than this counts as "down" (a partition rather than a refusal).
    static let probeDeadline: Duration = .milliseconds(1500)

    let clientConfiguration: PostgresClient.Configuration
    let probeConfiguration: PostgresConnection.Configuration
    let logger: Logger
    let state: Mutex<State>

    init(clientConfiguration: PostgresClient.Configuration, probeConfiguration: PostgresConnection.Configuration, logger: Logger) {
        self.clientConfiguration = clientConfiguration
        self.probeConfiguration = probeConfiguration
        self.logger = logger
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        self.state = Mutex(State(client: client, runner: Task { await client.run() }))
    }

    deinit { close() }

    /// The pool to use now; read it inside the guarded operation, not before.
    var client: PostgresClient { state.withLock { $0.client } }

    /// Shuts the current pool down.
    func close() { state.withLock { $0.runner.cancel() } }

    /// Lets a caller through, probing first when the database may be down; throws `unavailable`
    /// at once while it is known to be down.
    func admit() async throws(StoreError) {
        enum Decision { case proceed, refuse, probe(recovering: Bool) }
        let now = ContinuousClock.now
        let decision: Decision = state.withLock { state in
            switch state.health {
            case .up:
                return .proceed
            case .suspect:
                // Someone is already checking; a transient failure should not refuse traffic.
                if state.probing { return .proceed }
            case .down:
                if state.probing { return .refuse }
                if let last = state.lastProbe, last.duration(to: now) < Self.probeInterval { return .refuse }
            }
            state.probing = true
            state.lastProbe = now
            return .probe(recovering: state.health == .down)
        }
        switch decision {
        case .proceed:
            return
        case .refuse:
            throw .unavailable("database unavailable")
        case .probe(let recovering):
            let reachable = await probe()
            state.withLock { state in
                state.probing = false
                if !reachable {
                    if state.health != .down {
                        logger.error("database unreachable; failing requests until it answers")
                        // Requests queued on the pool would wait out their deadlines; fail them now.
                        replacePool(&state)
                    }
                    state.health = .down
                    return
                }
                state.health = .up
                // Whatever reached the pool while down left it backing off; start from a fresh one.
                if recovering {
                    logger.warning("database answers again")
                    replacePool(&state)
                }
            }
            if !reachable { throw .unavailable("database unavailable") }
        }
    }

    /// Records a failed operation: an outage-shaped failure makes the next caller probe.
    func record(_ error: any Error) {
        guard Self.looksLikeOutage(error) else { return }
        state.withLock { state in
            if state.health == .up { state.health = .suspect }
        }
    }

    /// One direct connection and `SELECT 1`, outside the pool and its back-off.
    func probe() async -> Bool {
        let configuration = probeConfiguration
        let logger = logger
        do {
            try await Deadline(Self.probeDeadline).run {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                do {
                    _ = try await connection.query("SELECT 1", logger: logger)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            }
            return true
        } catch {
            return false
        }
    }

    private func replacePool(_ state: inout State) {
        state.runner.cancel()
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        state.client = client
        state.runner = Task { await client.run() }
    }

    /// The connection could not be made, was closed or did not answer in time (no SQL state), or
    /// the server said it is going away (class 08 connection exception, 57P admin/crash shutdown,
    /// cannot connect now). Other SQL errors (constraints, a statement timeout) and the caller's
    /// own errors are not outages.
    static func looksLikeOutage(_ error: any Error) -> Bool {
        if error is DeadlineExceeded { return true }
        if let error = error as? PSQLError {
            guard let state = error.serverInfo?[.sqlState] else { return true }
            return state.hasPrefix("08") || state.hasPrefix("57P")
        }
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(looksLikeOutage) ?? false }
        }
        return false
    }
}

