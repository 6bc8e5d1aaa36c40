import Foundation
import Logging
import TesseraCore
import TesseraStore

/// Passports, sessions, evaluation, delegation, receipts and attestation: the governance
/// operations, independent of HTTP. Every state change goes through the store's
/// `mutateSession`, with a pure plan built from the core rules. Failures are
/// ``GovernanceError``s; their HTTP form is decided in ``ErrorMapping``.
public struct GovernanceService: Sendable {
    let store: any GovernanceStore & AgentStore & ProofReplayStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    let issuer: String
    let logger: Logger
    /// Where security-relevant events go (docs/audit.md); set by ``ServerEnvironment``.
    public internal(set) var auditLog: AuditLog = .disabled
    /// On a shared PostgreSQL store: shares this node's decisions with the other nodes' consoles.
    public internal(set) var fleet: FleetFeed?
    /// Compiled evaluators by session id. A session's passport never changes, so an entry is
    /// never stale; the cache is only bounded (in count, and in time by the longest passport).
    let evaluators: TTLCache<String, Evaluator>
    /// "Is this passport revoked?" without a store read per call; see ``RevocationCache``.
    let revocations = RevocationCache()
    /// Passports verified before, by token hash: a hit skips the signature and the parse, never
    /// the revocation check (see ``VerifiedTokenCache``).
    let verifiedPassports = VerifiedTokenCache<PassportClaims>()
    /// Every decision, for the console's live feed and rates; see ``DecisionFeed``.
    public let feed = DecisionFeed()
    /// Passports get a status-list index, like badges.
    let statusLists: StatusListService
    /// DENYs per session per minute; see ``DenialRate``.
    let denials = DenialRate()
    /// What AAT sessions may start from (trust anchors, mission issuers and origins).
    let aat: AATPolicy
    /// Mission declarations and their status, fetched and cached.
    let missions: MissionResolver

    public init(
        store: any GovernanceStore & AgentStore & ProofReplayStore, keys: SigningKeyService, clock: any TesseraClock, issuer: String, statusLists: StatusListService, logger: Logger,
        aat: AATPolicy? = nil, statusTTL: Int = 60
    ) {
        let aat = aat ?? AATPolicy(origin: RegistryOrigin(issuer))
        self.aat = aat
        self.missions = MissionResolver(policy: aat, statusTTL: statusTTL)
        self.store = store
        self.statusLists = statusLists
        self.keys = keys
        self.clock = clock
        self.issuer = issuer
        self.logger = logger
        self.evaluators = TTLCache(ttl: TimeInterval(Self.maxTTL), capacity: 50_000)
    }

    public static let defaultTTL = 900
    public static let maxTTL = 86_400

    /// Passports are issued as `issuer` (the configured name, the same on every node), except
    /// those the OAuth authorization server grants: their `iss` is its issuer identifier, the
    /// public origin (RFC 9068 §2.2, RFC 8414), which resource servers compare with its metadata.
    ///
    /// Computed on every use, not stored: `aat.audience` is the public origin, which is known only
    /// once the server listens (a stored policy refused every OAuth-granted passport).
    var passportPolicy: JWSPolicy { JWSPolicy(type: PassportClaims.type, issuers: [issuer, aat.audience]) }

    /// What `/issue` asks for, validated by the controller's parser.
    public struct IssueRequest: Sendable {
        public var mission: Mission
        public var ttl: Int
        /// A thumbprint, or "agent" for the registered agent's key.
        public var jkt: String?
        /// `aud`: the resources the passport is for (the MCP gateway checks it).
        public var audience: [String]? = nil
    }

    /// Signs a new passport for `mission` in the caller's workspace and records it.
    ///
    /// An agent the registry knows must be active and in this workspace; `cnf_jkt` "agent" binds
    /// the passport to its registered key.
    public func issue(_ request: IssueRequest, by identity: Identity) async throws -> (String, PassportClaims) {
        let mission = request.mission
        guard identity.may(Capability.passportsIssue, in: identity.workspace) else { throw GovernanceError.forbidden("access_denied") }
        var jkt = request.jkt
        if let agent = try await store.agent(id: mission.agent_id) {
            guard agent.workspace == identity.workspace else {
                throw GovernanceError.forbidden("agent \(mission.agent_id) belongs to another workspace")
            }
            guard agent.status == "active" else { throw GovernanceError.forbidden("agent \(mission.agent_id) is disabled") }
            if jkt == "agent" { jkt = try Ed25519PublicKey(jwk: agent.publicJWK).thumbprint }
        } else if jkt == "agent" {
            throw GovernanceError.invalid("cnf_jkt \"agent\" needs a registered agent_id")
        }
        var claims = PassportClaims(
            mission: mission, issuer: issuer, workspace: identity.workspace, issuedAt: clock.now().unixSeconds,
            ttl: Int64(request.ttl), jkt: jkt)
        claims.aud = request.audience.map(Audience.init)
        return try await mint(claims, actor: AuditLog.actor(identity))
    }

    /// Signs a passport the OAuth authorization server grants: its mission is the union of the
    /// granted templates, `sub` the user or agent, `aud` the RFC 8707 resource. The caller (the
    /// token endpoint) has authenticated the client and the grant.
    public func issueOAuth(
        mission: Mission, workspace: String, subject: String, clientID: String, scope: String, audience: String, jkt: String?, ttl: Int
    ) async throws -> (String, PassportClaims) {
        var claims = PassportClaims(
            mission: mission, issuer: issuer, workspace: workspace, issuedAt: clock.now().unixSeconds, ttl: Int64(ttl), jkt: jkt)
        claims.iss = aat.audience
        claims.sub = subject
        claims.aud = Audience([audience])
        claims.scope = scope
        claims.client_id = clientID
        return try await mint(claims, actor: AuditStreamEvent.Actor(type: "client", id: clientID))
    }

    /// Allocates the status-list entry, signs, and records the passport.
    func mint(_ unsigned: PassportClaims, actor: AuditStreamEvent.Actor) async throws -> (String, PassportClaims) {
        var claims = unsigned
        claims.status = try await statusLists.allocate(
            kind: "passport", jti: claims.jti, agentID: nil, expiresAt: Date(timeIntervalSince1970: TimeInterval(claims.exp ?? 0)))
        let token = try keys.sign(claims, type: PassportClaims.type)
        // Recorded before it is handed out: revocation can then walk through it even if it never
        // starts a session, and a revocation by jti knows its workspace.
        try await store.recordPassport(PassportRecord(claims))
        auditLog.record(.passportIssued, outcome: "success", actor: actor, workspace: claims.workspace, target: .init(type: "passport", id: claims.jti)) {
            $0.passport_jti = claims.jti
            $0.agent_id = claims.agent_id
        }
        return (token, claims)
    }

    /// Revokes a passport and everything delegated from it, for the OAuth server (a refresh-token
    /// family ended by reuse, a grant revoked, a client deleted): the caller has decided.
    func revokeGranted(jti: String) async throws {
        try await store.revoke(jti: jti, at: clock.now())
        statusLists.invalidate()
        revocations.clear()
        logger.notice("passport revoked", metadata: ["jti": "\(jti)", "by": "oauth"])
        recordRevoked(jti: jti, workspace: try? await store.passport(jti: jti)?.workspace, actor: AuditStreamEvent.Actor(type: "system", id: "oauth"))
    }

    /// Verifies a passport: `invalidToken` for anything that does not verify, `passportRevoked`
    /// for a revoked one (or one delegated from a revoked one).
    public func verify(_ token: String) async throws -> PassportClaims {
        guard Telemetry.isTracing else { return try await verifyPassport(token) }
        return try await Telemetry.span("tessera.passport.verify") { span in
            let claims = try await verifyPassport(token)
            span.attributes["tessera.passport.jti"] = claims.jti
            span.attributes["tessera.workspace"] = claims.workspace
            return claims
        }
    }

    private func verifyPassport(_ token: String) async throws -> PassportClaims {
        let claims: PassportClaims
        do {
            claims = try await keys.verify(token, as: PassportClaims.self, policy: passportPolicy, cache: verifiedPassports)
        } catch {
            throw GovernanceError.invalidToken
        }
        // On every use, cached or not.
        if try await isRevoked(claims) { throw GovernanceError.passportRevoked }
        return claims
    }

    func isRevoked(_ claims: PassportClaims) async throws -> Bool {
        if let cached = revocations.revoked(jti: claims.jti, parent: claims.parent_jti) { return cached }
        let generation = revocations.generation
        let revoked = try await store.isRevoked(jti: claims.jti, parentJTI: claims.parent_jti)
        revocations.remember(revoked, jti: claims.jti, parent: claims.parent_jti, readAtGeneration: generation)
        return revoked
    }

    /// Starts the one session a passport may have. Revocation is checked again inside the
    /// store's transaction, so a revocation racing this start is never missed.
    ///
    /// `possessionProven`: the caller has already verified a proof by the passport's `cnf` key
    /// for this very request (the MCP gateway's DPoP proof), so no passport proof is asked for.
    public func start(token: String, proof: String?, possessionProven: Bool = false) async throws -> SessionState {
        let claims = try await verify(token)
        if let jkt = claims.cnf?.jkt, !possessionProven {
            try await checkProof(proof, jkt: jkt, passport: claims, purpose: .sessionStart, childJKT: nil)
        }
        let session = SessionState(id: Self.newSessionID(), passport: claims, startedAt: clock.now())
        try await open(session)
        return session
    }

    /// Stores a new session (passport or AAT): its passport's one use, checked against
    /// revocation inside the store's transaction.
    func open(_ session: SessionState) async throws {
        do {
            try await store.startSession(session)
            let passport = session.passport
            auditLog.record(
                .sessionStarted, outcome: "success", actor: .init(type: "agent", id: passport.agent_id), workspace: passport.workspace,
                target: .init(type: "session", id: AuditLog.sessionRef(session.id))
            ) {
                $0.session_ref = AuditLog.sessionRef(session.id)
                $0.passport_jti = passport.jti
                $0.agent_id = passport.agent_id
            }
        } catch {
            switch error {
            case .conflict: throw GovernanceError.passportAlreadyUsed
            case .revoked: throw GovernanceError.passportRevoked
            default:
                logger.error("replay cache unavailable", metadata: ["error": "\(error)"])
                throw GovernanceError.replayCacheUnavailable
            }
        }
    }

    /// 256 random bits: the session id is a bearer capability for /evaluate and /end.
    static func newSessionID() -> String {
        "ses_" + Base64URL.random(byteCount: 32)
    }

    /// Checks a proof of possession for a key-bound passport (see ``PassportProofClaims/verify``:
    /// key, `typ`, signature, passport, `jti`, a 60 s lifetime with 5 s of future skew, purpose,
    /// and for delegation the child's key and `request_digest`), then spends it: its `jti` is
    /// recorded in the store's fleet-wide replay cache, so a captured proof cannot be presented
    /// again on any node (`proof_replayed`). Only a proof that verified is recorded, so nobody
    /// without the holder's key can fill the cache. A cache that cannot be written fails closed.
    func checkProof(
        _ proof: String?, jkt: String, passport: PassportClaims, purpose: PassportProofClaims.Purpose, childJKT: String?,
        requestDigest: String? = nil
    ) async throws {
        let now = clock.now()
        let use: PassportProofClaims.Use
        do {
            use = try PassportProofClaims.verify(
                proof, jkt: jkt, passportJTI: passport.jti, purpose: purpose, childJKT: childJKT, requestDigest: requestDigest,
                now: now.unixSeconds)
        } catch {
            logger.debug("passport proof refused", metadata: ["reason": "\(error)", "passport_jti": "\(passport.jti)"])
            throw GovernanceError.invalidToken
        }
        let first: Bool
        do {
            first = try await store.recordProofUse(
                key: use.replayKey, expiresAt: Date(timeIntervalSince1970: TimeInterval(use.expiresAt)), now: now)
        } catch {
            logger.error("proof replay cache unavailable", metadata: ["error": "\(error)"])
            throw GovernanceError.replayCacheUnavailable
        }
        guard first else {
            logger.notice("passport proof replayed", metadata: ["passport_jti": "\(passport.jti)", "purpose": "\(purpose.rawValue)"])
            throw GovernanceError.proofReplayed
        }
    }
}
