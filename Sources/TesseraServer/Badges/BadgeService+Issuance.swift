import Foundation
import Logging
import TesseraCore
import TesseraStore

/// The badge authority (RFC-002 CA): the requested lifetime and audience, signing and
/// recording a badge, IAL-0 issuance, and the `badge.issued` event.
extension BadgeService {
    func lifetime(_ requested: Int?, field: String) throws -> Int {
        guard let requested else { return settings.defaultLifetime }
        // Above the maximum is capped; beyond a year is nonsense, refused rather than capped.
        guard requested <= 31_622_400 else {
            throw RegistryError.rfc(.invalidRequest, "invalid field \(field): at most 31622400 seconds (longer than the maximum is capped at \(settings.maximumLifetime))")
        }
        guard requested >= settings.minimumLifetime else {
            throw RegistryError.rfc(.invalidRequest, "invalid field \(field): at least \(settings.minimumLifetime) seconds")
        }
        return min(requested, settings.maximumLifetime)
    }

    static func audience(_ requested: [String]?, field: String) throws -> [String]? {
        guard let requested, !requested.isEmpty else { return nil }
        guard requested.count <= 16, requested.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.count <= 512 }) else {
            throw RegistryError.rfc(.invalidRequest, "invalid field \(field): at most 16 non-empty entries of at most 512 characters")
        }
        return requested
    }

    /// Signs an RFC-002 badge for `agent` with the registry's key; `key` is always the agent's
    /// registered key (RFC-002 §7.2.1: no client-supplied key material).
    ///
    /// The challenge's consumption (IAL-1), the status-list index, the signature and the record
    /// are one store transaction (``AgentStore/issueBadge(_:sign:)``): a failure anywhere leaves
    /// nothing half-written — no challenge burnt without a badge, no index or signed token
    /// without a record (which revocation needs). nil when the challenge was already used.
    func sign(
        _ agent: AgentRecord, ial: String, lifetime: Int, audience: [String]?, cnf: BadgeClaims.Confirmation?, challengeID: String?,
        jti: String = UUID().uuidString.lowercased()
    ) async throws -> IssuedBadge? {
        guard agent.status == "active" else { throw RegistryError.rfc(.agentDisabled, "agent is disabled") }
        let key = try Ed25519PublicKey(jwk: agent.publicJWK)
        let instant = clock.now()
        let now = instant.unixSeconds
        let expires = Date(timeIntervalSince1970: TimeInterval(now + Int64(lifetime)))
        let signingKey = keys.signer.keyPair
        let statusLists = self.statusLists
        let issuer = origin.current
        let makeClaims: @Sendable (Int64) -> BadgeClaims = { index in
            BadgeClaims(
                jti: jti, iss: issuer, sub: agent.did, audience: audience, iat: now, exp: now + Int64(lifetime), ial: ial,
                key: key.publicJWK, cnf: cnf, level: "1", domain: agent.domain, status: statusLists.claim(index: index),
                popChallengeID: challengeID, workspace: agent.workspace, agentID: agent.id)
        }
        let issuance = BadgeIssuance(
            challengeID: challengeID, at: instant,
            status: StatusEntry(kind: "badge", jti: jti, agentID: agent.id, expiresAt: expires),
            record: BadgeRecord(
                jti: jti, agentID: agent.id, workspace: agent.workspace, ial: ial, issuedAt: Date(timeIntervalSince1970: TimeInterval(now)),
                expiresAt: expires))
        guard let (index, token) = try await store.issueBadge(issuance, sign: { index in
            try CompactJWS.sign(makeClaims(index), type: BadgeClaims.type, key: signingKey)
        }) else { return nil }
        logger.info("badge issued", metadata: ["agent": "\(agent.id)", "jti": "\(jti)", "ial": "\(ial)"])
        return IssuedBadge(token: token, claims: makeClaims(index))
    }

    /// IAL-0 (RFC-002 §7.2): the registry vouches for the agent on a credential holding
    /// `badges:issue` in its workspace.
    public func issueCA(_ reference: String, lifetime requested: Int?, audience: [String]?, by identity: Identity) async throws -> IssuedBadge {
        let agent = try await agent(reference, Capability.badgesIssue, by: identity)
        let lifetime = try lifetime(requested, field: "ttl")
        let audience = try Self.audience(audience, field: "badge_aud")
        guard let issued = try await Telemetry.span("tessera.badge.issue", { span in
            span.attributes["tessera.agent.id"] = agent.id
            span.attributes["tessera.badge.ial"] = "0"
            return try await sign(agent, ial: "0", lifetime: lifetime, audience: audience, cnf: nil, challengeID: nil)
        })
        else { throw RegistryError.rfc(.unavailable, "badge not issued; retry") }
        recordIssued(issued, agent: agent, actor: AuditLog.actor(identity))
        return issued
    }

    /// `badge.issued`, for either assurance level.
    func recordIssued(_ issued: IssuedBadge, agent: AgentRecord, actor: AuditStreamEvent.Actor) {
        auditLog.record(.badgeIssued, outcome: "success", actor: actor, workspace: agent.workspace, target: .init(type: "badge", id: issued.claims.jti)) {
            $0.agent_id = agent.id
            $0.details = ["ial": issued.claims.ial, "expires": String(issued.claims.exp ?? 0)]
        }
    }
}
