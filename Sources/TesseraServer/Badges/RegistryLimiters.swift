/// The four RFC-003 §8.4 rate limiters of ``BadgeService``, sized by ``BadgeSettings``.
struct RegistryLimiters: Sendable {
    /// Phase 1: challenges per client address per minute.
    let challengeRequesters: RequesterLimiter
    /// Phase 1: challenges per DID and principal asking (``BadgeService/limitKey(did:account:)``)
    /// per minute.
    let challengeDIDs: RequesterLimiter
    /// Phase 2: issuances per DID per minute (only valid proofs count).
    let issuanceDIDs: RequesterLimiter
    /// Phase 2: failed proofs per DID and principal that asked for the challenge, per 15 minutes.
    let failedProofs: RequesterLimiter

    init(settings: BadgeSettings) {
        self.challengeRequesters = RequesterLimiter(limit: settings.challengesPerRequesterPerMinute, window: 60)
        self.challengeDIDs = RequesterLimiter(limit: settings.challengesPerDIDPerMinute, window: 60)
        self.issuanceDIDs = RequesterLimiter(limit: settings.issuancesPerDIDPerMinute, window: 60)
        self.failedProofs = RequesterLimiter(limit: settings.failedProofsPerDID, window: 900)
    }
}
