import Foundation
import TesseraCore
import TesseraStore

/// Revocation and the state of issued badges: the public status route, and the registry's own
/// check of a badge presented to it (not revoked, its agent active).
extension BadgeService {
    public func revoke(jti: String, by identity: Identity) async throws -> BadgeRecord {
        guard let badge = try await store.badge(jti: jti), identity.may(Capability.badgesRevoke, in: badge.workspace) else {
            throw RegistryError.notFound("badge not found")
        }
        try await store.revokeBadge(jti: jti, at: clock.now())
        statusLists.invalidate()
        await audit(identity, "revoke-badge", jti)
        return try await store.badge(jti: jti) ?? badge
    }

    /// RFC-002 §12.2 `GET /v1/badges/{jti}/status`: the record and the agent's DID.
    public func badgeStatus(jti: String) async throws -> (BadgeRecord, String) {
        guard UUID(uuidString: jti) != nil, let badge = try await store.badge(jti: jti), let agent = try await store.agent(id: badge.agentID) else {
            throw RegistryError.rfc(.badgeNotFound, "badge not found")
        }
        return (badge, agent.did)
    }

    /// A badge presented to the registry itself (RFC-003 §5.1): issued here (level 1–4), `aud`
    /// absent or naming this registry (RFC-002 §8.3), not revoked, its agent active.
    public func authenticateBadge(_ token: String) async -> BadgeClaims? {
        let registry = origin.current
        let verifier = keys.verifier
        let verification = BadgeVerification(trustedIssuers: [registry], audience: registry)
        guard let claims = try? verification.verify(token, now: clock.now().unixSeconds, keys: { _ in verifier }, status: { _ in .unavailable }),
            claims.level != "0", let record = try? await store.badge(jti: claims.jti), record.revokedAt == nil,
            let agentID = claims.agent_id, let agent = try? await store.agent(id: agentID), agent.status == "active", agent.did == claims.sub
        else { return nil }
        return claims
    }
}
