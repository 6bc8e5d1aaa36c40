import Foundation

/// The fleet-wide replay cache of single-use proofs (passport proofs of possession): a proof
/// accepted by one process or node is refused by every other, for as long as any of them would
/// still accept it on time. One table on every backend; the decision "first use or replay" is one
/// atomic statement, so two nodes racing with the same proof cannot both win.
public protocol ProofReplayStore: Sendable {
    /// Records a use of the proof `key` (a fixed-length digest the caller derives, see
    /// `PassportProofClaims.replayKey`), kept until `expiresAt`. True the first time; false when
    /// the key is already recorded and not yet expired at `now` (a replay). An expired entry with
    /// the same key counts as absent. Each call also prunes at most ``ProofReplay/pruneBatch``
    /// expired entries, so the table stays bounded by the proofs of the last few minutes without a
    /// background job. `.unavailable` when the cache cannot be written: callers fail closed.
    func recordProofUse(key: String, expiresAt: Date, now: Date) async throws(StoreError) -> Bool
}

/// Bounds shared by every backend's replay cache.
public enum ProofReplay {
    /// Expired entries removed per recorded use: more than one, so pruning outpaces insertion.
    static let pruneBatch = 64
    /// Longest key accepted (the keys are base64url SHA-256 digests: 43 bytes).
    static let maximumKeyBytes = 128

    static func check(_ key: String) throws(StoreError) {
        guard !key.isEmpty, key.utf8.count <= maximumKeyBytes else {
            throw .invalidState("proof replay key must be 1-\(maximumKeyBytes) bytes")
        }
    }
}
