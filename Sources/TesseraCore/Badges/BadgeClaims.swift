import Foundation

/// Claims of a trust badge (`typ` `tessera-badge+jwt`): who the agent is (its DID), how sure the
/// registry is (`ial`), and the key it proved (`cnf.jkt`).
public struct BadgeClaims: JWSClaims, Equatable {
    public static let type = "tessera-badge+jwt"

    public var iss: String?
    public var sub: String
    public var aud: Audience?
    public var iat: Int64?
    public var nbf: Int64?
    public var exp: Int64?
    public var jti: String
    /// "0": issued by the registry (CA); "1": the agent proved possession of its key.
    public var ial: String
    public var domain: String
    public var workspace: String
    public var agent_id: String
    public var cnf: PassportClaims.Confirmation?

    public init(
        iss: String, sub: String, aud: [String]?, iat: Int64, exp: Int64, jti: String = UUID().uuidString.lowercased(),
        ial: String, domain: String, workspace: String, agentID: String, jkt: String?
    ) {
        self.iss = iss
        self.sub = sub
        self.aud = aud.flatMap { $0.isEmpty ? nil : Audience($0) }
        self.iat = iat
        self.nbf = iat
        self.exp = exp
        self.jti = jti
        self.ial = ial
        self.domain = domain
        self.workspace = workspace
        self.agent_id = agentID
        self.cnf = jkt.map(PassportClaims.Confirmation.init)
    }
}

/// The one error code a badge verification ends with.
public enum BadgeError: String, Error, Sendable, Equatable, CustomStringConvertible {
    case malformed = "BADGE_MALFORMED"
    case signatureInvalid = "BADGE_SIGNATURE_INVALID"
    case expired = "BADGE_EXPIRED"
    case notYetValid = "BADGE_NOT_YET_VALID"
    case issuerUntrusted = "BADGE_ISSUER_UNTRUSTED"
    case audienceMismatch = "BADGE_AUDIENCE_MISMATCH"
    case ialInsufficient = "BADGE_IAL_INSUFFICIENT"
    case revoked = "BADGE_REVOKED"
    case revocationUnavailable = "BADGE_REVOCATION_UNAVAILABLE"

    public var description: String { rawValue }

    init(_ error: JWSError) {
        switch error {
        case .tooLarge, .malformed, .wrongType, .missingClaim: self = .malformed
        case .unsupportedAlgorithm, .missingKeyID, .unknownKeyID, .signatureInvalid, .signingFailed: self = .signatureInvalid
        case .expired: self = .expired
        case .notYetValid, .issuedInFuture: self = .notYetValid
        case .issuerUntrusted: self = .issuerUntrusted
        case .audienceMismatch: self = .audienceMismatch
        }
    }
}

/// The registry's signed revocation list (`typ` `tessera-badge-status+jwt`): revoked badge ids
/// (kept until the badge would have expired) and disabled agents (all their badges).
public struct BadgeStatusClaims: JWSClaims, Equatable {
    public static let type = "tessera-badge-status+jwt"

    public var iss: String?
    public var iat: Int64?
    public var exp: Int64?
    /// Seconds a verifier may use this list before fetching a new one.
    public var ttl: Int
    public var revoked: [String]
    public var disabled_agents: [String]

    public init(iss: String, iat: Int64, ttl: Int, revoked: [String], disabledAgents: [String]) {
        self.iss = iss
        self.iat = iat
        self.exp = iat + Int64(ttl) * 10
        self.ttl = ttl
        self.revoked = revoked.sorted()
        self.disabled_agents = disabledAgents.sorted()
    }
}

/// Offline badge verification in the spec's order: size and shape → header (`EdDSA`, known
/// `kid`) → signature → `iss` trusted → `nbf`/`exp` (≤ 60 s leeway) → `aud` → minimum `ial` →
/// revocation. Used by the CLI, the SDK and the server's middleware alike.
public struct BadgeVerification: Sendable {
    public var trustedIssuers: Set<String>?
    public var audience: String?
    public var minimumIAL: Int
    /// Fail closed (`BADGE_REVOCATION_UNAVAILABLE`) when no fresh status list is at hand.
    public var requireFreshStatus: Bool

    public init(trustedIssuers: Set<String>? = nil, audience: String? = nil, minimumIAL: Int = 0, requireFreshStatus: Bool = false) {
        self.trustedIssuers = trustedIssuers
        self.audience = audience
        self.minimumIAL = minimumIAL
        self.requireFreshStatus = requireFreshStatus
    }

    /// - Parameters:
    ///   - status: the verified status list, if any, and whether it is still fresh.
    public func verify(
        _ token: String, keys: JWSVerifier, status: (list: BadgeStatusClaims, fresh: Bool)?, clock: any TesseraClock = SystemClock()
    ) async throws(BadgeError) -> BadgeClaims {
        let claims: BadgeClaims
        do {
            claims = try await keys.verify(
                token, as: BadgeClaims.self, policy: JWSPolicy(type: BadgeClaims.type, issuers: trustedIssuers, audience: audience),
                clock: clock)
        } catch {
            throw BadgeError(error)
        }
        guard let ial = Int(claims.ial), ial >= minimumIAL else { throw .ialInsufficient }
        if ial >= 1, claims.cnf == nil { throw .malformed }
        guard let status, status.fresh || !requireFreshStatus else {
            if requireFreshStatus { throw .revocationUnavailable }
            return claims
        }
        if status.list.revoked.contains(claims.jti) || status.list.disabled_agents.contains(claims.agent_id) { throw .revoked }
        return claims
    }
}

/// Claims of a proof of possession for a PoP badge: signed by the agent's own key.
public struct PoPProofClaims: JWSClaims, Equatable {
    public var iss: String?
    public var aud: Audience?
    public var iat: Int64?
    /// Checked like every token's: a proof that is not yet valid is refused.
    public var nbf: Int64?
    public var exp: Int64?
    public var nonce: String
    public var jti: String

    public init(nonce: String, audience: String, iat: Int64, jti: String = UUID().uuidString.lowercased()) {
        self.aud = Audience([audience])
        self.iat = iat
        self.nonce = nonce
        self.jti = jti
    }

    public static let type = "tessera-pop+jwt"
}
