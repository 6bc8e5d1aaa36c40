import Foundation
import TesseraCore

/// What one atomic change to a session writes: the new state, receipts to append to its chain,
/// a delegation to record, and what the caller gets back.
public struct SessionMutation<Output: Sendable>: Sendable {
    public var session: SessionState?
    public var receipts: [ReceiptRecord]
    public var delegation: DelegationRecord?
    public var output: Output

    public init(session: SessionState?, receipts: [ReceiptRecord] = [], delegation: DelegationRecord? = nil, output: Output) {
        self.session = session
        self.receipts = receipts
        self.delegation = delegation
        self.output = output
    }
}

/// Sessions, their receipt chains, delegations, the passport replay cache and revocations.
///
/// ``mutateSession(id:delegationRequestID:_:)`` is the one way to change a session: the store
/// reads the current state under its write lock (SQLite) or a row lock (PostgreSQL), runs the
/// caller's pure plan on it, and writes the plan's result in the same transaction. Counters,
/// reservations and chain links can therefore never be lost or forked, whichever process or node
/// writes.
public protocol GovernanceStore: Sendable {
    /// Records the passport `jti` in the replay cache and creates the session, atomically.
    /// `.conflict` when the `jti` was already used; `.unavailable` when the cache cannot be written.
    func startSession(_ session: SessionState) async throws(StoreError)
    func session(id: String) async throws(StoreError) -> SessionState?
    func session(jti: String) async throws(StoreError) -> SessionState?
    /// Whether `jti` or any passport it was delegated from is revoked.
    func isRevoked(jti: String) async throws(StoreError) -> Bool
    /// Revokes a passport and every session started from it or from its delegated descendants.
    func revoke(jti: String, at: Date) async throws(StoreError)
    /// Runs `plan` on the session's current state inside one write transaction. The plan's own
    /// errors propagate unchanged (and nothing is written); store failures are `StoreError`.
    func mutateSession<Output: Sendable>(
        id: String, delegationRequestID: String?,
        _ plan: @escaping @Sendable (SessionState, DelegationRecord?) throws -> SessionMutation<Output>
    ) async throws -> Output
    /// The session's receipts in chain order.
    func receipts(sessionID: String) async throws(StoreError) -> [ReceiptRecord]
}

/// Bounds shared by every backend's revocation walks, so a lineage deep or wide enough to be
/// refused on one store is refused on all of them.
enum RevocationLineage {
    /// Ancestors checked above a passport (delegation depth is capped far below this).
    static let maximumDepth = 32
    /// Sessions a cascade visits before it stops.
    static let maximumCascade = 100_000
}
