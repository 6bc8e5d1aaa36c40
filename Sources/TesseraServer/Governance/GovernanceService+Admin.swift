import Foundation
import TesseraCore
import TesseraStore

/// Revocation and receipt listing: workspace-scoped, for holders of the capability there.
extension GovernanceService {
    func sessionInScope(_ sessionID: String, _ capability: String, _ identity: Identity) async throws -> SessionState {
        guard let session = try await store.session(id: sessionID) else { throw APIError.unknownSession }
        // Out of scope looks exactly like unknown.
        guard identity.may(capability, in: session.passport.workspace) else { throw APIError.unknownSession }
        return session
    }

    public func revoke(sessionID: String, by identity: Identity) async throws {
        let session = try await sessionInScope(sessionID, Capability.passportsRevoke, identity)
        try await store.revoke(jti: session.passport.jti, at: clock.now())
        logger.notice("passport revoked", metadata: ["jti": "\(session.passport.jti)", "by": "\(identity.userID)"])
    }

    /// Revokes by passport `jti`. A passport never started has no recorded workspace; the
    /// revocation is recorded anyway (revoking more is always safe) when the caller may revoke in
    /// their own workspace.
    public func revoke(jti: String, by identity: Identity) async throws {
        if let session = try await store.session(jti: jti) {
            guard identity.may(Capability.passportsRevoke, in: session.passport.workspace) else { throw APIError.unknownSession }
        }
        try await store.revoke(jti: jti, at: clock.now())
        logger.notice("passport revoked", metadata: ["jti": "\(jti)", "by": "\(identity.userID)"])
    }

    /// Newline-delimited `{"jwt": …}` in chain order.
    public func receiptLines(sessionID: String, by identity: Identity) async throws -> String {
        _ = try await sessionInScope(sessionID, Capability.receiptsRead, identity)
        return try await store.receipts(sessionID: sessionID).map { #"{"jwt":""# + $0.jwt + "\"}\n" }.joined()
    }
}
