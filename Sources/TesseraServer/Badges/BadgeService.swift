import Foundation
import Logging
import TesseraCore
import TesseraStore

/// Badge issuance rules resolved from the configuration.
public struct BadgeSettings: Sendable {
    public var minimumLifetime: Int = 300
    public var maximumLifetime: Int = 86_400
    public var defaultLifetime: Int = 3600
    /// PoP challenges live this long and are single use.
    public var challengeLifetime: Int = 60
    /// Open challenges an agent may hold at once (bounds what an anonymous caller can store).
    public var challengeLimit: Int = 16
    /// Challenges one client address may request per minute, whatever the agent.
    public var challengesPerRequesterPerMinute: Int = 30
    /// How long verifiers may cache the status list.
    public var statusTTL: Int = 60
    public init() {}
}

/// The agent registry and the badge authority (CA and proof-of-possession), independent of HTTP.
public struct BadgeService: Sendable {
    let store: any TesseraStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    let issuer: String
    let settings: BadgeSettings
    let logger: Logger
    /// Anonymous challenge requests per client address (each one is a row in the store).
    let challengeRequesters: RequesterLimiter

    public init(store: any TesseraStore, keys: SigningKeyService, clock: any TesseraClock, issuer: String, settings: BadgeSettings, logger: Logger) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.issuer = issuer
        self.settings = settings
        self.logger = logger
        self.challengeRequesters = RequesterLimiter(limit: settings.challengesPerRequesterPerMinute, window: 60)
    }

    // MARK: Agents

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
        if let did, did != key.did { throw RegistryError.invalid("invalid field did: it does not match public_jwk") }
        if let kid = publicJWK.kid, kid != key.thumbprint { throw RegistryError.invalid("invalid field public_jwk.kid: not the key's RFC 7638 thumbprint") }
        guard try await store.workspace(id: workspace)?.enabled == true else { throw RegistryError.notFound("workspace not found") }
        let agent = AgentRecord(
            id: "agt_" + UUID().uuidString.lowercased(), workspace: workspace, name: name, did: key.did, publicJWK: key.jwk,
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

    /// The agent, if the caller holds `capability` in its workspace; out of scope looks unknown.
    public func agent(_ id: String, _ capability: String, by identity: Identity?) async throws -> AgentRecord {
        guard let agent = try await store.agent(id: id) else { throw RegistryError.notFound("agent not found") }
        if let identity, !identity.may(capability, in: agent.workspace) { throw RegistryError.notFound("agent not found") }
        return agent
    }

    public func list(workspace: String?, by identity: Identity) async throws -> [AgentRecord] {
        let target = workspace ?? identity.workspace
        guard identity.may(Capability.agentsRead, in: target) else { throw RegistryError.accessDenied }
        return try await store.listAgents(workspace: target)
    }

    public func update(_ id: String, name: String?, domain: String?, status: String?, by identity: Identity) async throws -> AgentRecord {
        var agent = try await agent(id, Capability.agentsWrite, by: identity)
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
        await audit(identity, status == "disabled" ? "disable-agent" : "update-agent", agent.id)
        return agent
    }

    // MARK: Badges

    func lifetime(_ requested: Int?) throws -> Int {
        guard let requested else { return settings.defaultLifetime }
        guard requested >= settings.minimumLifetime else {
            throw RegistryError.invalid("invalid field exp_s: at least \(settings.minimumLifetime) seconds")
        }
        return min(requested, settings.maximumLifetime)
    }

    func sign(_ agent: AgentRecord, ial: String, lifetime: Int, audience: [String]?) async throws -> (String, Date) {
        guard agent.status == "active" else { throw RegistryError.accessDenied }
        let key = try Ed25519PublicKey(jwk: agent.publicJWK)
        let now = clock.now().unixSeconds
        let claims = BadgeClaims(
            iss: issuer, sub: agent.did, aud: audience, iat: now, exp: now + Int64(lifetime), ial: ial, domain: agent.domain,
            workspace: agent.workspace, agentID: agent.id, jkt: key.thumbprint)
        let token = try await keys.sign(claims, type: BadgeClaims.type)
        let expires = Date(timeIntervalSince1970: TimeInterval(claims.exp ?? 0))
        try await store.recordBadge(
            BadgeRecord(jti: claims.jti, agentID: agent.id, workspace: agent.workspace, ial: ial,
                        issuedAt: Date(timeIntervalSince1970: TimeInterval(now)), expiresAt: expires))
        return (token, expires)
    }

    /// IAL-0: the registry vouches for the agent on a credential holding `badges:issue`.
    public func issueCA(agentID: String, lifetime requested: Int?, audience: [String]?, by identity: Identity) async throws -> (String, Date) {
        let agent = try await agent(agentID, Capability.badgesIssue, by: identity)
        let result = try await sign(agent, ial: "0", lifetime: try lifetime(requested), audience: audience)
        logger.info("badge issued", metadata: ["agent": "\(agent.id)", "ial": "0"])
        return result
    }

    /// A single-use 256-bit nonce, valid for 60 s, for the agent to sign.
    ///
    /// Bounded twice: per requesting address (429 past the per-minute limit), and per agent,
    /// where the newest challenge always displaces the oldest, so a flood cannot lock the holder
    /// out of proof of possession.
    public func challenge(agentID: String, requester: String?) async throws -> ChallengeRecord {
        if let wait = challengeRequesters.admit(requester ?? "unknown", now: clock.now()) {
            throw RegistryError.rateLimited("too many challenge requests from this address", retryAfter: wait)
        }
        guard let agent = try await store.agent(id: agentID), agent.status == "active" else { throw RegistryError.notFound("agent not found") }
        var generator = SystemRandomNumberGenerator()
        let nonce = Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let challenge = ChallengeRecord(
            id: "chl_" + UUID().uuidString.lowercased(), agentID: agent.id, nonce: nonce,
            expiresAt: clock.now().addingTimeInterval(TimeInterval(settings.challengeLifetime)))
        try await store.createChallenge(challenge, limit: settings.challengeLimit, now: clock.now())
        return challenge
    }

    /// IAL-1: the agent answers its challenge with a JWS signed by its registered key. A replayed,
    /// expired, foreign-key or wrong-nonce proof is the masked 401.
    public func issuePoP(agentID: String, challengeID: String, proof: String, lifetime requested: Int?, audience: [String]?) async throws -> (String, Date) {
        let bounded = try lifetime(requested)
        guard let agent = try await store.agent(id: agentID), agent.status == "active",
            let challenge = try await store.consumeChallenge(id: challengeID, agentID: agentID, now: clock.now())
        else { throw RegistryError.authFailed }
        let key = try Ed25519PublicKey(jwk: agent.publicJWK)
        let verifier = await JWSVerifier(keys: [key.thumbprint: key])
        let claims: PoPProofClaims
        do {
            claims = try await verifier.verify(
                proof, as: PoPProofClaims.self, policy: JWSPolicy(type: PoPProofClaims.type, audience: issuer, requireExpiry: false),
                clock: clock)
        } catch {
            logger.info("PoP proof refused", metadata: ["agent": "\(agentID)", "reason": "\(error)"])
            throw RegistryError.authFailed
        }
        guard ConstantTime.equals(Array(claims.nonce.utf8), Array(challenge.nonce.utf8)), let iat = claims.iat,
            clock.now().unixSeconds - iat <= Int64(settings.challengeLifetime)
        else { throw RegistryError.authFailed }
        let result = try await sign(agent, ial: "1", lifetime: bounded, audience: audience)
        logger.info("badge issued", metadata: ["agent": "\(agent.id)", "ial": "1"])
        return result
    }

    public func revoke(jti: String, by identity: Identity) async throws {
        guard let badge = try await store.badge(jti: jti), identity.may(Capability.badgesRevoke, in: badge.workspace) else {
            throw RegistryError.notFound("badge not found")
        }
        try await store.revokeBadge(jti: jti, at: clock.now())
        await audit(identity, "revoke-badge", jti)
    }

    /// The signed status list: revoked badge ids and disabled agents.
    public func status() async throws -> (token: String, ttl: Int) {
        let (revoked, disabled) = try await store.badgeRevocations(now: clock.now())
        let claims = BadgeStatusClaims(iss: issuer, iat: clock.now().unixSeconds, ttl: settings.statusTTL, revoked: revoked, disabledAgents: disabled)
        return (try await keys.sign(claims, type: BadgeStatusClaims.type), settings.statusTTL)
    }

    func audit(_ identity: Identity, _ action: String, _ target: String) async {
        try? await store.appendAudit(AuditEvent(at: clock.now(), actor: identity.userID, action: action, target: target, outcome: "ok"))
    }
}
