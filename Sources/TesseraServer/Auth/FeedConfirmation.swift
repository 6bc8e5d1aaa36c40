/// How recently this process read the store's change feed successfully — what decides whether a
/// cache fed by that feed (credentials in ``Authenticator``, revocations in ``RevocationCache``)
/// may be trusted right now. One rule for both, so they cannot drift apart: a cache is used only
/// while the last successful read started less than ``maximumAge`` ago.
struct FeedConfirmation {
    /// A follower runs and feeds the cache.
    var followed = false
    /// When the last successful read of the change feed started.
    var confirmedAt: ContinuousClock.Instant?

    static let maximumAge: Duration = .seconds(1)

    /// Whether the cache may be used now. `unfollowed` is the answer when no follower runs: the
    /// credential caches then rely on their TTL alone (library use, unit tests); the revocation
    /// cache is not used at all.
    func trusted(unfollowed: Bool) -> Bool {
        guard followed else { return unfollowed }
        guard let confirmedAt else { return false }
        return confirmedAt.duration(to: .now) < Self.maximumAge
    }
}
