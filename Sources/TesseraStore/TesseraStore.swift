import Foundation
import TesseraCore

/// Everything the server persists. Two real backends implement it (SQLite now, PostgreSQL for a
/// fleet); the server and its tests depend only on these protocols.
///
/// Every method is atomic on its own: a caller never sees half of a rotation or of an append.
public protocol TesseraStore: SigningKeyStore, AuditStore, IdentityStore, GovernanceStore, AgentStore, ProofReplayStore, OAuthStore {
    /// The schema version reached by the migrations that ran at open.
    func schemaVersion() async throws(StoreError) -> Int

    /// Cheap liveness probe for `/health`.
    func ping() async throws(StoreError)
}

public protocol SigningKeyStore: Sendable {
    /// All signing keys, active and retired.
    func signingKeys() async throws(StoreError) -> [SigningKeyRecord]

    /// Inserts `candidate` as the active key unless another process already made one; returns the
    /// keys as they are after the call. Safe when several servers start on one store at once.
    func ensureActiveSigningKey(_ candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord]

    /// Retires the active key at `candidate.createdAt` and makes `candidate` active, in one transaction.
    func rotateSigningKey(to candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord]
}

public protocol AuditStore: Sendable {
    func appendAudit(_ event: AuditEvent) async throws(StoreError)

    /// The newest events first.
    func listAudit(limit: Int) async throws(StoreError) -> [AuditEvent]
}

/// Users, workspaces and API keys.
public protocol IdentityStore: Sendable {
    /// Creates the first workspace, admin user and key in one transaction, only while there are no
    /// users; `false` when the store was already bootstrapped.
    func bootstrap(workspace: WorkspaceRecord, admin: UserRecord, key: APIKeyRecord) async throws(StoreError) -> Bool
    func hasUsers() async throws(StoreError) -> Bool

    /// Throws `.conflict` when the id exists.
    func createWorkspace(_ workspace: WorkspaceRecord) async throws(StoreError)
    func workspace(id: String) async throws(StoreError) -> WorkspaceRecord?
    func listWorkspaces() async throws(StoreError) -> [WorkspaceRecord]
    /// Throws `.notFound` when absent.
    func updateWorkspace(_ workspace: WorkspaceRecord) async throws(StoreError)

    /// Throws `.conflict` when the username exists.
    func createUser(_ user: UserRecord) async throws(StoreError)
    func user(id: String) async throws(StoreError) -> UserRecord?
    func user(username: String) async throws(StoreError) -> UserRecord?
    /// All users, or those whose home is `workspace`, ordered by username.
    func listUsers(workspace: String?) async throws(StoreError) -> [UserRecord]
    /// Replaces the record with the same id; `.notFound` when absent, `.conflict` on a taken username.
    func updateUser(_ user: UserRecord) async throws(StoreError)
    /// Deletes the user and their API keys.
    func deleteUser(id: String) async throws(StoreError)

    func createAPIKey(_ key: APIKeyRecord) async throws(StoreError)
    func apiKey(id: String) async throws(StoreError) -> APIKeyRecord?
    func listAPIKeys(userID: String) async throws(StoreError) -> [APIKeyRecord]
    func revokeAPIKey(id: String) async throws(StoreError)
    /// The key with this hash (revoked or not), its user and the user's home workspace.
    func resolveAPIKey(hash: String) async throws(StoreError) -> ResolvedAPIKey?
    /// Records last use, batched by the caller.
    func touchAPIKeys(_ lastUsed: [String: Date]) async throws(StoreError)

    /// Changes to users, workspaces and API-key revocation or expiry committed in the last
    /// `seconds` (by the database's clock), oldest first. The database records them itself, by
    /// triggers, in the transaction that makes the change, so no writer can forget one; every
    /// node reads them to drop what it cached (see `CredentialChangeFollower`).
    func recentCredentialChanges(withinSeconds seconds: Double) async throws(StoreError) -> [CredentialChange]
    /// Forgets changes older than `seconds`.
    func pruneCredentialChanges(olderThanSeconds seconds: Double) async throws(StoreError)
}
