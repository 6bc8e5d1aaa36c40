import Crypto
import Foundation
import TesseraCore
import TesseraStore

/// Sessions started from Attenuating Agent Tokens (draft-01) bound to Ardur mission
/// declarations. The chain is verified once at start; the session is then governed by a
/// passport built from the leaf's grant (``AATSessionGrant``), so every later decision,
/// budget, approval, delegation, revocation and receipt is the passport machinery's.
extension GovernanceService {
    /// `aat_tool` of the proof that starts a key-bound session (the session's first use of the
    /// key: a fresh, audience-bound, single-use signature by the holder over the token's id).
    public static let sessionStartTool = GovernanceWire.AATStartRequest.proofTool
    /// `aat_tool` of the proofs that end a key-bound AAT session and read its attestation: its id
    /// is the AAT's public `jti`, so knowing it must not be enough.
    public static let sessionEndTool = "tessera:session/end"
    public static let sessionAttestTool = "tessera:session/attest"

    /// For a key-bound AAT session, the holder's proof for `tool` (no-op for other sessions).
    func checkHolder(sessionID: String, proof: String?, tool: String) async throws {
        guard let session = try await store.session(id: sessionID), session.passport.aat?.holder_jwk != nil else { return }
        try await checkAATProof(proof, passport: session.passport, tool: tool, arguments: [:])
    }

    /// `aat_tool` of the proof that delegates from an AAT session.
    public static let delegateTool = "delegate_passport"
    /// Ardur's bound on a key-binding JWT (`kb_jwt`), checked before anything else.
    public static let maximumKeyBindingBytes = GovernanceWire.AATStartRequest.maximumKeyBindingBytes

    public struct AATStart: Sendable {
        public var token: String
        /// Ancestors, root first (empty: the token is its own root).
        public var chain: [String]
        /// nil: not said (then proof of possession is required).
        public var requirePop: Bool?
        public var proof: String?

        public init(token: String, chain: [String] = [], requirePop: Bool? = nil, proof: String? = nil) {
            self.token = token
            self.chain = chain
            self.requirePop = requirePop
            self.proof = proof
        }
    }

    /// Verifies the chain, the holder's proof (unless the opt-out is asked for and allowed), the
    /// mission declaration, then starts the one session the AAT may have: its id is the AAT's
    /// `jti`. Nothing is written unless every check passed.
    public func startAAT(_ request: AATStart) async throws -> SessionState {
        let now = clock.now()
        let holderBound: Bool
        switch request.requirePop {
        case false?:
            guard aat.popOptOut else {
                throw GovernanceError.aatProofRequired("this server does not accept require_pop:false (PoP opt-out); present a proof of possession")
            }
            holderBound = false
        default:
            holderBound = true
        }
        // Without a proof the holder key is not needed to answer: a genuine token is then told
        // it needs PoP (Ardur's answer), whatever its cnf holds.
        let verifier = AATVerifier(anchors: try await aatAnchors(), requireHolderKey: holderBound && request.proof != nil)
        let chain: AATChain
        do {
            chain = try verifier.verify(request.chain + [request.token], now: now.unixSeconds)
        } catch {
            throw GovernanceError.aatInvalid(error)
        }
        if !holderBound, chain.root.iss == aat.audience {
            throw GovernanceError.aatProofRequired("AATs this server issues are always bound to their holder's key: require_pop:false is not accepted for them")
        }
        if holderBound {
            guard let proof = request.proof else {
                throw GovernanceError.aatProofRequired("this AAT is bound to a key (cnf) but PoP inputs were not supplied: send pop, a PoP JWT signed by it (aat_tool \(Self.sessionStartTool)), or require_pop:false where the server allows it")
            }
            let accepted: AATProof.Accepted
            do {
                accepted = try AATProof.verify(proof, chain: chain, tool: Self.sessionStartTool, arguments: [:], audience: aat.audience, now: now.unixSeconds)
            } catch {
                throw GovernanceError.aatInvalid(error)
            }
            try await spendAATProof(accepted, key: chain.leaf.holderKey!, now: now)
        }
        var declaration: MissionDeclaration?
        let missionReference: JSONValue?
        do {
            missionReference = try chain.missionReference()
        } catch {
            throw GovernanceError.aatInvalid(error)
        }
        if let reference = missionReference {
            do {
                declaration = try await missions.resolve(reference, now: now)
            } catch {
                logger.notice("AAT mission refused", metadata: ["jti": "\(chain.leaf.jti)", "reason": "\(error.code)"])
                throw GovernanceError.missionRefused(error)
            }
        }
        // A root this server issued belongs to the workspace it was issued in.
        var workspace = aat.workspace
        if chain.root.iss == aat.audience, let record = try await store.passport(jti: chain.root.jti) { workspace = record.workspace }
        var passport: PassportClaims
        do {
            passport = try AATSessionGrant.passport(
                chain: chain, token: request.token, mission: declaration, holderBound: holderBound, workspace: workspace, now: now.unixSeconds)
        } catch {
            throw GovernanceError.missionRefused(error)
        }
        if chain.tokens.count > 1 { passport.parent_jti = chain.tokens[chain.tokens.count - 2].jti }
        let lineage = try await checkLineage(chain, workspace: workspace)
        let session = SessionState(id: passport.jti, passport: passport, startedAt: now)
        try await open(session)
        // The chain is the session's lineage, recorded once the session exists (a refused start
        // writes nothing): revoking any link's jti ends it, and children delegated from it.
        for record in lineage { try? await store.recordPassport(record) }
        logger.info("AAT session started", metadata: ["jti": "\(passport.jti)", "root_iss": "\(chain.root.iss)", "holder_bound": "\(holderBound)"])
        return session
    }

    /// A link's record as AAT lineage: marked so that it can never be mistaken for a Tessera
    /// passport's (whose `jkt` is a bare thumbprint or nothing).
    static func aatRecordMark(_ key: ForeignPublicKey?) -> String { "aat:" + (key?.thumbprint ?? "-") }

    /// Revocation and lineage are keyed by `jti`, which a token's signer chooses: every link of
    /// the verified chain must be unrevoked, and any record already held for a link's `jti` must
    /// say what this chain says (same parent, same holder mark). Otherwise someone else's token
    /// (or passport) with that `jti` was there first, and accepting this chain would let either
    /// escape the other's revocation. Returns the records to write once the session started.
    func checkLineage(_ chain: AATChain, workspace: String) async throws -> [PassportRecord] {
        if chain.leaf.jti.hasPrefix("ses_") {
            throw GovernanceError.aatInvalid(AATFailure(link: chain.link, step: "3j", "jti ses_… is reserved for Tessera's session ids"))
        }
        var records: [PassportRecord] = []
        for (index, link) in chain.tokens.enumerated() {
            let expected = PassportRecord(
                jti: link.jti, parentJTI: index == 0 ? nil : chain.tokens[index - 1].jti, workspace: workspace, jkt: Self.aatRecordMark(link.holderKey),
                issuedAt: Date(timeIntervalSince1970: TimeInterval(link.iat)), expiresAt: Date(timeIntervalSince1970: TimeInterval(link.exp)))
            if try await store.isRevoked(jti: link.jti, parentJTI: nil) { throw GovernanceError.passportRevoked }
            if let existing = try await store.passport(jti: link.jti) {
                guard existing.parentJTI == expected.parentJTI, existing.jkt == expected.jkt else {
                    throw GovernanceError.aatInvalid(AATFailure(
                        link: index, step: index == 0 ? "3j" : "4b1", "jti \(link.jti) already names another passport or token's lineage"))
                }
            }
            records.append(expected)
        }
        return records
    }

    /// The configured trust anchors, and this server's own signing keys for the root AATs it
    /// issues itself (`iss` = its public origin).
    func aatAnchors() async throws -> [AATTrustAnchor] {
        var anchors = aat.anchors
        for jwk in keys.jwks().keys {
            if let key = try? ForeignPublicKey(jwk: jwk.publicKey) { anchors.append(AATTrustAnchor(issuer: aat.audience, key: key)) }
        }
        return anchors
    }

    /// Mints a root AAT for `mission` bound to `holder` (`/issue` with `format` `aat`): signed by
    /// the server key, `iss` its public origin; recorded like a passport so it can be revoked.
    public func issueAAT(mission: Mission, ttl: Int, holder: JWK, by identity: Identity) async throws -> (String, [String: JSONValue]) {
        guard identity.may(Capability.passportsIssue, in: identity.workspace) else { throw GovernanceError.forbidden("access_denied") }
        // The same registry rules as a passport: a known agent must be active and in this workspace.
        if let agent = try await store.agent(id: mission.agent_id) {
            guard agent.workspace == identity.workspace else { throw GovernanceError.forbidden("agent \(mission.agent_id) belongs to another workspace") }
            guard agent.status == "active" else { throw GovernanceError.forbidden("agent \(mission.agent_id) is disabled") }
        }
        let holderKey: ForeignPublicKey
        do {
            holderKey = try ForeignPublicKey(jwk: holder)
        } catch {
            throw GovernanceError.invalid("holder_key must be a public Ed25519 or P-256 JWK (\(error))")
        }
        let now = clock.now()
        let claims: [String: JSONValue]
        do {
            claims = try AATIssuance.rootClaims(mission: mission, issuer: aat.audience, holder: holderKey, issuedAt: now.unixSeconds, ttl: Int64(ttl))
        } catch {
            throw GovernanceError.invalid(error.description)
        }
        let pair = keys.signer.keyPair
        let token = try AATIssuance.SigningKey.ed25519(pair, kid: pair.kid).sign(claims)
        guard case .string(let jti)? = claims["jti"], case .number(let e)? = claims["exp"], let exp = e.int else { throw GovernanceError.unavailable }
        try await store.recordPassport(PassportRecord(
            jti: jti, parentJTI: nil, workspace: identity.workspace, jkt: Self.aatRecordMark(holderKey), issuedAt: now,
            expiresAt: Date(timeIntervalSince1970: TimeInterval(exp))))
        return (token, claims)
    }

    /// The per-call proof of a key-bound AAT session (draft-01 §5.2): signed by the leaf's key,
    /// naming this tool, these arguments and this server; single use across the fleet.
    func checkAATProof(_ proof: String?, passport: PassportClaims, tool: String, arguments: [String: JSONValue]) async throws {
        guard let binding = passport.aat, let jwk = binding.holder_jwk else { return }
        guard let proof else {
            throw GovernanceError.aatProofRequired("this session is bound to the AAT holder's key: every call needs pop, a PoP JWT for this tool and these arguments")
        }
        let key: ForeignPublicKey
        do {
            key = try ForeignPublicKey(jwk: jwk)
        } catch {
            throw GovernanceError.unavailable
        }
        let now = clock.now()
        let accepted: AATProof.Accepted
        do {
            accepted = try AATProof.verify(
                proof, leafJTI: passport.jti, key: key, link: nil, tool: tool, arguments: arguments, audience: aat.audience, now: now.unixSeconds)
        } catch {
            throw GovernanceError.aatInvalid(error)
        }
        try await spendAATProof(accepted, key: key, now: now)
    }

    func spendAATProof(_ accepted: AATProof.Accepted, key: ForeignPublicKey, now: Date) async throws {
        // Hashed: the replay key has a bounded length whatever the jti.
        let replayKey = "aat:" + CompactJWS.hex(SHA256.hash(data: Array((key.thumbprint + "\u{0}" + accepted.jti).utf8)))
        let first: Bool
        do {
            first = try await store.recordProofUse(key: replayKey, expiresAt: Date(timeIntervalSince1970: TimeInterval(accepted.rememberUntil)), now: now)
        } catch {
            logger.error("proof replay cache unavailable", metadata: ["error": "\(error)"])
            throw GovernanceError.replayCacheUnavailable
        }
        guard first else { throw GovernanceError.proofReplayed }
    }

    /// The passport of the AAT session `token` started, when `token` is exactly that AAT (its
    /// chain was verified then; the bytes match, so it still is the same grant).
    func aatParent(_ token: String) async throws -> PassportClaims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]), let object = try? StrictJSON.object(payload, maximumDepth: 40),
            case .string(let jti)? = object["jti"], let session = try await store.session(id: jti), let binding = session.passport.aat
        else { return nil }
        let digest = CompactJWS.hex(SHA256.hash(data: Array(token.utf8)))
        guard digest.utf8.elementsEqual(binding.token_sha256.utf8) else { return nil }
        if let exp = session.passport.exp, exp <= clock.now().unixSeconds { return nil }
        return session.passport
    }
}
