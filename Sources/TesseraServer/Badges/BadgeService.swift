import Foundation
import Logging
import TesseraCore
import TesseraStore

/// Badge issuance rules. Defaults are RFC-002 §7.2's issuance constraints and RFC-003 §8's
/// challenge and rate limits.
public struct BadgeSettings: Sendable {
    public var minimumLifetime: Int = 60
    public var maximumLifetime: Int = 3600
    public var defaultLifetime: Int = 300
    /// RFC-003 §8.2: challenges live 5 minutes by default, 10 at most.
    public var challengeDefaultLifetime: Int = 300
    public var challengeMaximumLifetime: Int = 600
    /// Open challenges an agent may hold at once (the newest displaces the oldest).
    public var challengeLimit: Int = 16
    /// RFC-003 §8.4 phase-1 limits, per minute: per client address, and per DID *for each
    /// principal asking* (a user or API key, or one badge), so that a relying party holding the
    /// agent's badge cannot use up the agent's own challenges.
    public var challengesPerRequesterPerMinute: Int = 50
    public var challengesPerDIDPerMinute: Int = 10
    /// RFC-003 §8.4 phase-2 limits: issuances per DID per minute (only valid proofs count, so only
    /// the key holder spends it); failed proofs per 15 min per DID and principal that asked for
    /// the challenge. Past that limit a failing proof is answered 429, but every proof is still
    /// checked: a valid proof is never refused because of anyone's failures.
    public var issuancesPerDIDPerMinute: Int = 10
    public var failedProofsPerDID: Int = 5
    /// How long verifiers may cache a status list.
    public var statusTTL: Int = 60
    public init() {}
}

/// Who is asking the registry: a Tessera principal (API key or login), or an agent presenting
/// its own badge (RFC-003 §5.1).
public enum RegistryCaller: Sendable {
    case principal(Identity)
    case badge(BadgeClaims)
}

/// A badge as issued: the token and its claims.
public struct IssuedBadge: Sendable {
    public var token: String
    public var claims: BadgeClaims
}

/// The agent registry and the badge authority (RFC-002 CA and RFC-003 proof of possession),
/// independent of HTTP.
public struct BadgeService: Sendable {
    let store: any TesseraStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    public let origin: RegistryOrigin
    public let statusLists: StatusListService
    let settings: BadgeSettings
    let logger: Logger
    /// Where security-relevant events go (docs/audit.md); set by ``ServerEnvironment``.
    public internal(set) var auditLog: AuditLog = .disabled
    let challengeRequesters: RequesterLimiter
    let challengeDIDs: RequesterLimiter
    let issuanceDIDs: RequesterLimiter
    let failedProofs: RequesterLimiter

    public init(
        store: any TesseraStore, keys: SigningKeyService, clock: any TesseraClock, origin: RegistryOrigin, statusLists: StatusListService,
        settings: BadgeSettings, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.origin = origin
        self.statusLists = statusLists
        self.settings = settings
        self.logger = logger
        self.challengeRequesters = RequesterLimiter(limit: settings.challengesPerRequesterPerMinute, window: 60)
        self.challengeDIDs = RequesterLimiter(limit: settings.challengesPerDIDPerMinute, window: 60)
        self.issuanceDIDs = RequesterLimiter(limit: settings.issuancesPerDIDPerMinute, window: 60)
        self.failedProofs = RequesterLimiter(limit: settings.failedProofsPerDID, window: 900)
    }

    // MARK: Agents

    /// Registers an agent. Its DID is the key's `did:key`, or — if asked for — a `did:web` this
    /// registry hosts (`did:web:<registry host>:agents:<slug>`, document at
    /// `/agents/<slug>/did.json`).
    public func register(name: String, publicJWK: JWK, did: String?, domain: String?, workspace: String, by identity: Identity) async throws -> AgentRecord {
        guard identity.may(Capability.agentsWrite, in: workspace) else { throw RegistryError.accessDenied }
        guard (1...128).contains(name.count) else { throw RegistryError.invalid("invalid field name: 1-128 characters") }
        guard publicJWK.d == nil, publicJWK.k == nil else { throw RegistryError.invalid("invalid field public_jwk: a private key was sent") }
        let key: Ed25519PublicKey
        do {
            key = try Ed25519PublicKey(jwk: publicJWK)
        } catch {
            throw RegistryError.invalid("invalid field public_jwk: \(error)")
        }
        if let kid = publicJWK.kid, kid != key.thumbprint { throw RegistryError.invalid("invalid field public_jwk.kid: not the key's RFC 7638 thumbprint") }
        var agentDID = key.did
        if let did, did != key.did {
            guard let web = DIDWeb(did), web.path.count == 2, web.path[0] == "agents", DIDWeb.agentDID(registryOrigin: origin.current, slug: web.path[1]) == did
            else {
                throw RegistryError.invalid(
                    "invalid field did: the key's did:key, or did:web for this registry (\(DIDWeb.agentDID(registryOrigin: origin.current, slug: "<name>") ?? "did:web:<host>:agents:<name>"))")
            }
            guard try await store.agents(did: did).isEmpty else { throw RegistryError.conflict("an agent with did \(did) is already registered") }
            agentDID = did
        }
        guard try await store.workspace(id: workspace)?.enabled == true else { throw RegistryError.notFound("workspace not found") }
        let agent = AgentRecord(
            id: "agt_" + UUID().uuidString.lowercased(), workspace: workspace, name: name, did: agentDID, publicJWK: key.jwk,
            domain: domain ?? "", created: clock.now())
        do {
            try await store.createAgent(agent)
        } catch {
            if case .conflict(let why) = error { throw RegistryError.conflict(why) }
            throw error
        }
        await audit(identity, "register-agent", agent.id)
        return agent
    }

    /// The agent a route names — by id (`agt_…`) or by DID (RFC-002 §6.3: routes are keyed by
    /// the URL-encoded DID) — if the caller holds `capability` in its workspace. Out of scope
    /// looks unknown.
    public func agent(_ reference: String, _ capability: String, by identity: Identity?) async throws -> AgentRecord {
        let candidates = try await agents(named: reference)
        guard let identity else {
            guard let first = candidates.first else { throw RegistryError.notFound("agent not found") }
            return first
        }
        guard let visible = candidates.first(where: { identity.may(capability, in: $0.workspace) }) else {
            throw RegistryError.notFound("agent not found")
        }
        return visible
    }

    /// The agents a route's reference names: by DID (one per workspace at most), or by id.
    func agents(named reference: String) async throws -> [AgentRecord] {
        if reference.hasPrefix("did:") { return try await store.agents(did: reference) }
        return try await store.agent(id: reference).map { [$0] } ?? []
    }

    /// The RFC-003 routes' reference check: an id or a DID of a supported method (`invalid_did`,
    /// 400, otherwise). A did:key that does not decode passes and then names no agent (404).
    static func checkReference(_ reference: String) throws {
        guard reference.hasPrefix("did:key:") || reference.hasPrefix("did:web:") || reference.hasPrefix("agt_"), reference.utf8.count <= 512 else {
            throw RegistryError.rfc(.invalidDID, "DID is malformed or unsupported")
        }
    }

    public func list(workspace: String?, by identity: Identity) async throws -> [AgentRecord] {
        let target = workspace ?? identity.workspace
        guard identity.may(Capability.agentsRead, in: target) else { throw RegistryError.accessDenied }
        return try await store.listAgents(workspace: target)
    }

    public func update(_ reference: String, name: String?, domain: String?, status: String?, by identity: Identity) async throws -> AgentRecord {
        var agent = try await agent(reference, Capability.agentsWrite, by: identity)
        if let name {
            guard (1...128).contains(name.count) else { throw RegistryError.invalid("invalid field name: 1-128 characters") }
            agent.name = name
        }
        if let domain { agent.domain = domain }
        if let status {
            guard ["active", "disabled"].contains(status) else { throw RegistryError.invalid("invalid field status: active or disabled") }
            agent.status = status
        }
        try await store.updateAgent(agent)
        // A disabled agent's badges are SUSPENDED in the status list (and VALID again on enable).
        if status != nil { statusLists.invalidate() }
        await audit(identity, status == "disabled" ? "disable-agent" : "update-agent", agent.id)
        return agent
    }

    /// RFC-002 §7.5 `GET /v1/agents/{did}/status`.
    public func agentStatus(_ reference: String) async throws -> AgentRecord {
        try Self.checkReference(reference)
        guard let agent = try await agents(named: reference).first else { throw RegistryError.rfc(.agentNotFound, "agent not found") }
        return agent
    }

    /// The DID document of a `did:web` agent this registry hosts.
    public func didDocument(slug: String) async throws -> DIDDocument {
        guard let did = DIDWeb.agentDID(registryOrigin: origin.current, slug: slug), DIDWeb(did) != nil,
            let agent = try await store.agents(did: did).first, let key = try? Ed25519PublicKey(jwk: agent.publicJWK)
        else { throw RegistryError.notFound("DID document not found") }
        return DIDDocument.forKey(did: did, key: key)
    }

    // MARK: Badges

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

    /// RFC-003 phase 1: an authenticated caller asks for a challenge for the agent `did`.
    public func challenge(
        _ reference: String, badgeAudience: [String]?, badgeTTL: Int?, challengeTTL: Int?, by caller: RegistryCaller, requester: String?
    ) async throws -> (ChallengeRecord, PoPChallenge) {
        try Self.checkReference(reference)
        let now = clock.now()
        if let wait = challengeRequesters.admit(requester ?? "unknown", now: now) {
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
        if let wait = challengeDIDs.admit(Self.limitKey(did: agent.did, account: account), now: now) {
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
        let limited = failedProofs.peek(failureKey, now: now)
        do {
            return try await answer(challenge, proof: proof, now: now, nowSeconds: nowSeconds, fail: fail)
        } catch let error as RegistryError {
            guard case .rfc(let code, _, _) = error, code.category == .malformed || code.category == .refused else { throw error }
            _ = failedProofs.admit(failureKey, now: now)
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
        if let wait = issuanceDIDs.admit(agent.did, now: now) {
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

    /// A registry action: a row of the stored trail and an event on the audit stream.
    func audit(_ identity: Identity, _ action: String, _ target: String) async {
        try? await store.appendAudit(AuditEvent(at: clock.now(), actor: identity.userID, action: action, target: target, outcome: "ok"))
        let type: AuditStreamEvent.EventType
        let targetType: String
        switch action {
        case "register-agent": (type, targetType) = (.agentRegistered, "agent")
        case "revoke-badge": (type, targetType) = (.badgeRevoked, "badge")
        default: (type, targetType) = (.agentUpdated, "agent")
        }
        let workspace = identity.workspace
        auditLog.record(type, outcome: "success", actor: AuditLog.actor(identity), workspace: workspace, target: .init(type: targetType, id: target)) {
            $0.details = ["action": action]
            if targetType == "agent" { $0.agent_id = target }
        }
    }

    /// `badge.issued`, for either assurance level.
    func recordIssued(_ issued: IssuedBadge, agent: AgentRecord, actor: AuditStreamEvent.Actor) {
        auditLog.record(.badgeIssued, outcome: "success", actor: actor, workspace: agent.workspace, target: .init(type: "badge", id: issued.claims.jti)) {
            $0.agent_id = agent.id
            $0.details = ["ial": issued.claims.ial, "expires": String(issued.claims.exp ?? 0)]
        }
    }
}
