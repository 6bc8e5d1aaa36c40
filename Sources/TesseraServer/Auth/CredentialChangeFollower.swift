import Logging
import ServiceLifecycle
import TesseraStore

/// Reads the store's credential change feed several times a second and drops what this process
/// cached about every user, workspace or key changed anywhere (and every revocation answer when a
/// passport was revoked anywhere) — so a revocation, a disable or a
/// role change made on one node takes effect on every node within about `period`, not the cache
/// TTL. While the feed cannot be read the caches are not used at all (see
/// ``Authenticator/cacheUsable()``): every request then goes to the store, and fails closed if
/// the store is down too.
struct CredentialChangeFollower: Service {
    let store: any IdentityStore
    let authenticator: Authenticator
    /// Cleared whenever the feed shows a passport revocation.
    var revocations: RevocationCache? = nil
    var period: Duration = .milliseconds(250)
    let logger: Logger

    /// How far back each read looks. On PostgreSQL change numbers are assigned before commit, so
    /// a change can become visible after a later-numbered one; reading a window (rather than
    /// "after the last number seen") cannot miss it as long as a transaction commits within it.
    static let window: Double = 30
    /// A change is applied again on every read for this long after it was first seen, so an
    /// entry cached by a request that read the store just before the change cannot survive.
    static let reapplyFor: Duration = .seconds(2)
    static let keepChangesFor: Double = 3600

    func run() async throws {
        authenticator.followChanges()
        revocations?.followChanges()
        var firstSeen: [Int64: ContinuousClock.Instant] = [:]
        var failing = false
        var lastPrune: ContinuousClock.Instant?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            do {
                let changes = try await store.recentCredentialChanges(withinSeconds: Self.window)
                var seen: [Int64: ContinuousClock.Instant] = [:]
                var stale: [CredentialChange] = []
                for change in changes {
                    let first = firstSeen[change.seq] ?? started
                    seen[change.seq] = first
                    if first.duration(to: started) < Self.reapplyFor { stale.append(change) }
                }
                firstSeen = seen
                authenticator.apply(stale, readStartedAt: started)
                revocations?.apply(revocationSeen: stale.contains { $0.kind == .revocation }, readStartedAt: started)
                if failing {
                    logger.notice("credential change feed readable again; caches back in use")
                    failing = false
                }
            } catch {
                if !failing {
                    logger.warning("cannot read the credential change feed; cached credentials unused until it can", metadata: ["error": "\(error)"])
                    failing = true
                }
            }
            if lastPrune.map({ $0.duration(to: .now) > .seconds(600) }) ?? true {
                try? await store.pruneCredentialChanges(olderThanSeconds: Self.keepChangesFor)
                lastPrune = .now
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
            } catch {
                return
            }
        }
    }
}
