import Foundation
import TesseraCore

/// Everything the server persists. Two real backends implement it (SQLite now, PostgreSQL for a
/// fleet); the server and its tests depend only on this protocol.
///
/// Every method is atomic on its own: a caller never sees half of a rotation or of an append.
public protocol TesseraStore: Sendable {
    /// The schema version reached by the migrations that ran at open.
    func schemaVersion() async throws(StoreError) -> Int

    /// Cheap liveness probe for `/health`.
    func ping() async throws(StoreError)

    /// All signing keys, active and retired.
    func signingKeys() async throws(StoreError) -> [SigningKeyRecord]

    /// Inserts `candidate` as the active key unless another process already made one; returns the
    /// keys as they are after the call. Safe when several servers start on one store at once.
    func ensureActiveSigningKey(_ candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord]

    /// Retires the active key at `candidate.createdAt` and makes `candidate` active, in one transaction.
    func rotateSigningKey(to candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord]

    func appendAudit(_ event: AuditEvent) async throws(StoreError)

    /// The newest events first.
    func listAudit(limit: Int) async throws(StoreError) -> [AuditEvent]
}
