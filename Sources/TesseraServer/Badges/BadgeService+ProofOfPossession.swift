import Foundation
import Logging
import TesseraCore
import TesseraStore

/// RFC-003 proof of possession: phase 1 (the challenge) and phase 2 (the proof, checked step by
/// step, and the IAL-1 badge), with §8.4's rate limits.
extension BadgeService {
    /// RFC-003 phase 1: an authenticated caller asks for a challenge for the agent `did`.
    public func challenge(
        _ reference: String, badgeAudience: [String]?, badgeTTL: Int?, challengeTTL: Int?, by caller: RegistryCaller, requester: String?
    ) async throws -> (ChallengeRecord, PoPChallenge) {
        try Self.checkReference(reference)
        let now = clock.now()
        if let wait = limiters.challengeRequesters.admit(requester ?? "unknown", now: now) {
            throw RegistryError.rfc(.rateLimitExceeded, message: "too many challenge requests from this address", retryAfter: wait)
        }
        let agent: AgentRecord
        let account: String
        switch caller {
        case .principal(let identity):
            let candidates = try await agents(named: reference)
            guard !candidates.isEmpty else { throw RegistryError.rfc(.agentNotFound, "agent not found") }
            guard let owned = candidates.first(where: { identity.may(Capability.badgesIssue, in: $0.workspace) }) else {
                throw RegistryError.rfc(.agentNotOwned, "the authenticated account does not own this agent")
            }
            agent = owned
            account = identity.userID
        case .badge(let badge):
            // RFC-003 §5.1: a registry-issued badge for this very DID.
            guard badge.sub == reference || badge.agent_id == reference, let owned = try await store.agents(did: badge.sub).first(where: { $0.id == badge.agent_id }) else {
                throw RegistryError.rfc(.agentNotOwned, "a badge may only ask for challenges for its own DID")
            }
            agent = owned
            account = "badge:" + badge.jti
        }
        guard agent.status == "active" else { throw RegistryError.rfc(.agentDisabled, "agent is disabled") }
        if let wait = limiters.challengeDIDs.admit(Self.limitKey(did: agent.did, account: account), now: now) {
            throw RegistryError.rfc(
                .rateLimitExceeded, message: "too many challenge requests for this DID by this credential", retryAfter: wait)
        }
        let ttl = try lifetime(badgeTTL, field: "badge_ttl")
        let challengeLifetime = challengeTTL ?? settings.challengeDefaultLifetime
        guard (10...settings.challengeMaximumLifetime).contains(challengeLifetime) else {
            throw RegistryError.rfc(.invalidRequest, "invalid field challenge_ttl: 10-\(settings.challengeMaximumLifetime) seconds")
        }
        let audience = try Self.audience(badgeAudience, field: "badge_aud")
        let nonce = Base64URL.random(byteCount: 32)
        let registry = origin.current
        let record = ChallengeRecord(
            id: "ch-" + UUID().uuidString.lowercased(), agentID: agent.id, did: agent.did, nonce: nonce, createdAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(challengeLifetime)), badgeAudience: audience, badgeTTL: ttl,
            proofAudience: registry, htu: Self.htu(origin: registry, did: agent.did), account: account)
        try await store.createChallenge(record, limit: settings.challengeLimit, now: now)
        logger.info("PoP challenge issued", metadata: ["agent": "\(agent.id)", "challenge": "\(record.id)", "account": "\(account)"])
        return (record, PoPChallenge(
            challenge_id: record.id, nonce: nonce, challenge_expires_at: WireTime.format(record.expiresAt), proof_aud: registry,
            htu: record.htu, htm: "POST", badge_aud: audience, badge_ttl: ttl))
    }

    /// RFC-003 §6.4: the canonical badge URL, built by concatenation (no URL parser rewrites it):
    /// the DID percent-encoded with upper-case hex, every byte outside RFC 3986's unreserved set.
    static func htu(origin: String, did: String) -> String {
        "\(origin)/v1/agents/\(FormBody.escape(did))/badge"
    }

    /// RFC-003 phase 2: the proof authenticates the request. Each step of §5.2.2's checklist, in
    /// order, with its error code; the challenge is consumed atomically last.
    public func issuePoP(_ reference: String, challengeID: String, proof: String, requester: String?) async throws -> IssuedBadge {
        func fail(_ code: RegistryErrorCode, _ message: String) -> RegistryError {
            logger.info("PoP proof refused", metadata: ["route": "\(reference)", "challenge": "\(challengeID)", "code": "\(code.rawValue)"])
            return .rfc(code, message)
        }
        let now = clock.now()
        let nowSeconds = now.unixSeconds
        // 1–5: cheap checks before the proof is parsed.
        guard challengeID.hasPrefix("ch-"), UUID(uuidString: String(challengeID.dropFirst(3))) != nil else {
            throw fail(.invalidChallengeID, "challenge_id must be ch- followed by a UUID")
        }
        guard let challenge = try await store.challenge(id: challengeID) else { throw fail(.challengeNotFound, "challenge not found") }
        guard challenge.did == reference || challenge.agentID == reference else {
            throw fail(.subjectMismatch, "the challenge was issued for another DID")
        }
        guard !challenge.used else { throw fail(.challengeUsed, "challenge has already been used") }
        guard challenge.expiresAt > now else { throw fail(.challengeExpired, "challenge has expired") }
        // Failures count against the DID *and the principal that asked for this challenge* (only
        // it learnt the challenge id), never against the DID alone. Over the limit the proof is
        // still checked (a bounded parse and one signature check, after a live challenge of this
        // DID was found): a valid proof is issued whatever anyone failed, a failing one is 429.
        let failureKey = Self.limitKey(did: challenge.did, account: challenge.account)
        let limited = limiters.failedProofs.peek(failureKey, now: now)
        do {
            return try await answer(challenge, proof: proof, now: now, nowSeconds: nowSeconds, fail: fail)
        } catch let error as RegistryError {
            guard case .rfc(let code, _, _) = error, code.category == .malformed || code.category == .refused else { throw error }
            _ = limiters.failedProofs.admit(failureKey, now: now)
            if let wait = limited {
                throw RegistryError.rfc(
                    .rateLimitExceeded, message: "too many failed proofs for this DID by this credential; retry later",
                    retryAfter: wait)
            }
            throw error
        }
    }

    /// The key of the per-DID RFC-003 §8.4 limits: the DID and the principal that asked (a user
    /// id, or `badge:<jti>`), so one principal's challenges and failures are its own.
    static func limitKey(did: String, account: String) -> String { did + " " + account }

    private func answer(
        _ challenge: ChallengeRecord, proof: String, now: Date, nowSeconds: Int64, fail: (RegistryErrorCode, String) -> RegistryError
    ) async throws -> IssuedBadge {
        // 6–7: well-formed `pop+jwt`.
        let read: KeyOwnershipProofClaims.Unverified
        do {
            read = try KeyOwnershipProofClaims.read(proof)
        } catch {
            switch error {
            case .missingCID: throw fail(.missingCID, "proof JWT is missing cid")
            case .missingExp: throw fail(.missingExp, "proof JWT is missing exp")
            case .invalidProof: throw fail(.invalidProof, "proof JWS is malformed, not typ pop+jwt, or misses a required claim")
            }
        }
        let claims = read.claims
        guard claims.cid == challenge.id else { throw fail(.cidMismatch, "proof cid does not match challenge_id") }
        guard ConstantTime.equals(Array(claims.nonce.utf8), Array(challenge.nonce.utf8)) else { throw fail(.invalidProof, "proof nonce does not match") }
        guard claims.audience == challenge.proofAudience else { throw fail(.audienceMismatch, "proof aud does not match proof_aud") }
        guard Array(claims.htu.utf8) == Array(challenge.htu.utf8) else { throw fail(.htuMismatch, "proof htu does not match the challenge's htu") }
        guard claims.htm == "POST" else { throw fail(.invalidProof, "proof htm must be POST") }
        let iat = claims.iat ?? 0
        let exp = claims.exp ?? 0
        let created = challenge.createdAt.unixSeconds
        let expires = challenge.expiresAt.unixSeconds
        guard iat <= nowSeconds + 60, iat >= created - 60, iat <= expires else { throw fail(.iatInvalid, "proof iat is outside the challenge window") }
        guard exp <= iat + 60 else { throw fail(.expTooLong, "proof exp exceeds iat + 60 seconds") }
        guard exp > nowSeconds else { throw fail(.proofExpired, "proof has expired") }
        guard exp <= expires else { throw fail(.expOutsideChallengeWindow, "proof exp is after the challenge expires") }
        guard claims.sub == challenge.did else { throw fail(.subjectMismatch, "proof sub does not match the route DID") }
        // 20: the DID document. This registry is the authority for the agents it hosts: the
        // document is derived from the registered key (and, for did:key, from the DID itself,
        // which must be the same key).
        guard let agent = try await store.agent(id: challenge.agentID), let registered = try? Ed25519PublicKey(jwk: agent.publicJWK) else {
            throw fail(.agentNotFound, "agent not found")
        }
        let document: DIDDocument
        if agent.did.hasPrefix("did:key:") {
            guard let resolved = DIDs.resolveKeyDID(agent.did) else { throw fail(.didDocumentInvalid, "did:key does not decode") }
            document = resolved
        } else {
            document = DIDDocument.forKey(did: agent.did, key: registered)
        }
        // 21–23.
        guard let kid = read.kid, !kid.contains("?"), let method = document.verificationMethod.first(where: { $0.id == kid }) else {
            throw fail(.kidNotFound, "proof kid is not a verificationMethod of the DID document")
        }
        guard document.authentication.contains(kid) else { throw fail(.keyNotInAuthentication, "proof kid is not in the authentication relationship") }
        guard let key = method.ed25519Key, key == registered, read.isSigned(by: key) else {
            throw fail(.proofVerificationFailed, "proof signature does not verify against the DID's key")
        }
        if let wait = limiters.issuanceDIDs.admit(agent.did, now: now) {
            throw RegistryError.rfc(
                .rateLimitExceeded, message: "Retry with X-Capiscio-Registry-Key for higher limits.", retryAfter: wait)
        }
        // 24: consume atomically, in the same transaction as the issuance; of two concurrent
        // answers one wins.
        guard let issued = try await Telemetry.span("tessera.badge.issue", { span in
            span.attributes["tessera.agent.id"] = agent.id
            span.attributes["tessera.badge.ial"] = "1"
            return try await sign(agent, ial: "1", lifetime: challenge.badgeTTL, audience: challenge.badgeAudience, cnf: .init(kid: kid), challengeID: challenge.id)
        })
        else { throw fail(.challengeUsed, "challenge has already been used") }
        recordIssued(issued, agent: agent, actor: .init(type: "agent", id: agent.id))
        return issued
    }
}
