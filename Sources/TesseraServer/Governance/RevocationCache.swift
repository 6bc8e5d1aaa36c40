import Synchronization

/// Revocation answers kept in memory, so `POST /verify` (and every other passport check) costs
/// no database read while nothing has been revoked.
///
/// Why it stays correct across processes: every revocation, by any node, inserts into
/// `gov_revocations`, whose trigger writes a `revocation` entry to the credential change feed.
/// The ``CredentialChangeFollower`` reads that feed every 250 ms; a revocation it sees clears this
/// cache. The revoking process clears its own cache as soon as its write commits. So a revocation
/// is immediate on the node that made it and visible to every other node within one feed period.
/// (Session starts and evaluations do not depend on this: they re-check revocation inside the
/// store's transaction.)
///
/// Why no stale answer can outlive a clear: a caller takes the ``generation`` *before* reading
/// the store and may only record its answer if no clear happened since (``remember``). An answer
/// read before a revocation committed either lands before the clear (and is dropped by it) or
/// after (and is refused).
///
/// Fail closed: answers are used only while the feed has been read successfully within the last
/// second; with no follower at all (a library embedding without `serve`'s services) the cache is
/// never used.
final class RevocationCache: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var answers: [Key: Bool] = [:]
        var feed = FeedConfirmation()
    }

    struct Key: Hashable, Sendable {
        var jti: String
        var parent: String?
    }

    private let state = Mutex(State())
    static let capacity = 100_000

    /// The cached answer for a passport and its parent, if the cache may be used now.
    func revoked(jti: String, parent: String?) -> Bool? {
        state.withLock { state in
            guard Self.usable(state) else { return nil }
            return state.answers[Key(jti: jti, parent: parent)]
        }
    }

    /// Taken before a store read whose answer is to be remembered.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Records an answer read from the store, unless the cache was cleared since `generation`.
    func remember(_ revoked: Bool, jti: String, parent: String?, readAtGeneration generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation, Self.usable(state) else { return }
            if state.answers.count >= Self.capacity { state.answers.removeAll(keepingCapacity: true) }
            state.answers[Key(jti: jti, parent: parent)] = revoked
        }
    }

    /// Drops every answer: a revocation happened (here or anywhere, as the feed says).
    func clear() {
        state.withLock { state in
            state.generation &+= 1
            state.answers.removeAll(keepingCapacity: true)
        }
    }

    /// Declares that a follower feeds this cache; only then is it used.
    func followChanges() { state.withLock { $0.feed.followed = true } }

    /// Applies one read of the change feed: clears on any revocation, then records the read.
    func apply(revocationSeen: Bool, readStartedAt: ContinuousClock.Instant) {
        if revocationSeen { clear() }
        state.withLock { $0.feed.confirmedAt = readStartedAt }
    }

    private static func usable(_ state: State) -> Bool {
        state.feed.trusted(unfollowed: false)
    }
}
