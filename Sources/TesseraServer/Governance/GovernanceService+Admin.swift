import Foundation
import TesseraCore
import TesseraStore

/// Revocation and receipt listing: workspace-scoped, for holders of the capability there.
extension GovernanceService {
    func sessionInScope(_ sessionID: String, _ capability: String, _ identity: Identity) async throws -> SessionState {
        guard let session = try await store.session(id: sessionID) else { throw GovernanceError.unknownSession }
        // Out of scope looks exactly like unknown.
        guard identity.may(capability, in: session.passport.workspace) else { throw GovernanceError.unknownSession }
        return session
    }

    public func revoke(sessionID: String, by identity: Identity) async throws {
        let session = try await sessionInScope(sessionID, Capability.passportsRevoke, identity)
        // The jti is revoked everywhere it is used: the caller must hold the capability where it
        // was issued too, not only where this session runs.
        if let record = try await store.passport(jti: session.passport.jti), !identity.may(Capability.passportsRevoke, in: record.workspace) {
            throw GovernanceError.unknownSession
        }
        try await store.revoke(jti: session.passport.jti, at: clock.now())
        statusLists.invalidate()
        revocations.clear()
        logger.notice("passport revoked", metadata: ["jti": "\(session.passport.jti)", "by": "\(identity.userID)"])
        recordRevoked(jti: session.passport.jti, workspace: session.passport.workspace, actor: AuditLog.actor(identity), sessionID: sessionID)
    }

    /// Revokes by passport `jti`. The passport's workspace comes from its issuance record (or
    /// its session): a caller may revoke only in a workspace where they hold the capability, and
    /// anything else looks exactly like an unknown passport. A `jti` Tessera has no record of (a
    /// passport issued before issuance was recorded, never started) is revoked anyway when the
    /// caller may revoke in their own workspace: revoking more is always safe.
    public func revoke(jti: String, by identity: Identity) async throws {
        let workspace: String?
        if let record = try await store.passport(jti: jti) {
            workspace = record.workspace
        } else {
            workspace = try await store.session(jti: jti)?.passport.workspace
        }
        guard identity.may(Capability.passportsRevoke, in: workspace ?? identity.workspace) else {
            throw GovernanceError.unknownSession
        }
        try await store.revoke(jti: jti, at: clock.now())
        statusLists.invalidate()
        revocations.clear()
        logger.notice("passport revoked", metadata: ["jti": "\(jti)", "by": "\(identity.userID)"])
        recordRevoked(jti: jti, workspace: workspace ?? identity.workspace, actor: AuditLog.actor(identity))
    }

    /// `passport.revoked` (everything delegated from it is revoked with it).
    func recordRevoked(jti: String, workspace: String?, actor: AuditStreamEvent.Actor, sessionID: String? = nil) {
        auditLog.record(.passportRevoked, outcome: "success", actor: actor, workspace: workspace, target: .init(type: "passport", id: jti)) {
            $0.passport_jti = jti
            $0.session_ref = sessionID.map(AuditLog.sessionRef)
        }
    }

    /// The session a passport started, for a caller who may read receipts in its workspace.
    public func sessionID(forPassport jti: String, by identity: Identity) async throws -> String {
        guard let session = try await store.session(jti: jti), identity.may(Capability.receiptsRead, in: session.passport.workspace) else {
            throw GovernanceError.unknownSession
        }
        return session.id
    }

    /// Newline-delimited `{"jwt": …}` in chain order.
    public func receiptLines(sessionID: String, by identity: Identity) async throws -> String {
        _ = try await sessionInScope(sessionID, Capability.receiptsRead, identity)
        return try await store.receipts(sessionID: sessionID).map { #"{"jwt":""# + $0.jwt + "\"}\n" }.joined()
    }
}
