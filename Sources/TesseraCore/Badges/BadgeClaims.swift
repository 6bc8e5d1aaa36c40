import Foundation

/// A CapiscIO trust badge (RFC-002 §4): header `alg` EdDSA, `typ` `JWT`, `kid`; claims `jti`
/// (UUID), `iss` (registry origin, or the agent's own `did:key` for a self-signed level-0 badge),
/// `sub` (agent DID), `aud` (always an array), `iat`/`nbf`/`exp`, `ial`, `key` (the agent's
/// public JWK), `cnf.kid` on IAL-1 badges only, `vc` with `credentialSubject.level` and `domain`,
/// and the IETF status-list reference `status.status_list {idx, uri}`.
///
/// Tessera's own facts (`workspace`, `agent_id`) ride along as private claims; verifiers that do
/// not know them ignore them, as RFC-002 §4.3.4 requires of unknown members.
public struct BadgeClaims: StrictClaims, Equatable {
    /// RFC-002 §4.2: badges say `typ` `JWT`.
    public static let type = "JWT"

    public struct Confirmation: Codable, Sendable, Equatable {
        /// A DID URL naming the verification method that was proven (RFC-002 §4.3.3).
        public var kid: String
        public init(kid: String) { self.kid = kid }
    }

    public struct Credential: Codable, Sendable, Equatable {
        public struct Subject: Codable, Sendable, Equatable {
            public var domain: String?
            /// Trust level "0"–"4", a string (RFC-002 §3).
            public var level: String
            public var issuance_profile: String?
            public init(domain: String?, level: String, issuanceProfile: String? = nil) {
                self.domain = domain
                self.level = level
                self.issuance_profile = issuanceProfile
            }
        }
        public var type: [String]
        public var credentialSubject: Subject
        public init(domain: String?, level: String) {
            self.type = ["VerifiableCredential", "AgentIdentity"]
            self.credentialSubject = Subject(domain: domain, level: level)
        }
    }

    public var jti: String
    public var iss: String?
    public var sub: String
    /// `aud`, written as an array whatever its length (RFC-002 §4.3.1).
    public var audience: [String]?
    public var iat: Int64?
    public var nbf: Int64?
    public var exp: Int64?
    /// "0": account-attested; "1": proof of possession (RFC-002 §7.2.1).
    public var ial: String
    public var key: JWK?
    public var cnf: Confirmation?
    public var vc: Credential
    public var pop_challenge_id: String?
    public var status: StatusClaim?
    public var workspace: String?
    public var agent_id: String?

    public var aud: Audience? { audience.map(Audience.init) }
    /// The trust level, `vc.credentialSubject.level`.
    public var level: String { vc.credentialSubject.level }
    public var domain: String? { vc.credentialSubject.domain }

    public init(
        jti: String = UUID().uuidString.lowercased(), iss: String, sub: String, audience: [String]?, iat: Int64, exp: Int64,
        ial: String, key: JWK, cnf: Confirmation?, level: String, domain: String?, status: StatusClaim?,
        popChallengeID: String? = nil, workspace: String? = nil, agentID: String? = nil
    ) {
        self.jti = jti
        self.iss = iss
        self.sub = sub
        self.audience = audience.flatMap { $0.isEmpty ? nil : $0 }
        self.iat = iat
        self.nbf = iat
        self.exp = exp
        self.ial = ial
        self.key = key
        self.cnf = cnf
        self.vc = Credential(domain: domain.flatMap { $0.isEmpty ? nil : $0 }, level: level)
        self.status = status
        self.pop_challenge_id = popChallengeID
        self.workspace = workspace
        self.agent_id = agentID
    }

    enum CodingKeys: String, CodingKey {
        case jti, iss, sub, aud, iat, nbf, exp, ial, key, cnf, vc, pop_challenge_id, status, workspace, agent_id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(jti, forKey: .jti)
        try c.encodeIfPresent(iss, forKey: .iss)
        try c.encode(sub, forKey: .sub)
        try c.encodeIfPresent(audience, forKey: .aud)
        try c.encodeIfPresent(iat, forKey: .iat)
        try c.encodeIfPresent(nbf, forKey: .nbf)
        try c.encodeIfPresent(exp, forKey: .exp)
        try c.encode(ial, forKey: .ial)
        try c.encodeIfPresent(key, forKey: .key)
        try c.encodeIfPresent(cnf, forKey: .cnf)
        try c.encode(vc, forKey: .vc)
        try c.encodeIfPresent(pop_challenge_id, forKey: .pop_challenge_id)
        try c.encodeIfPresent(status, forKey: .status)
        try c.encodeIfPresent(workspace, forKey: .workspace)
        try c.encodeIfPresent(agent_id, forKey: .agent_id)
    }

    public init(from decoder: any Decoder) throws {
        let object = try [String: JSONValue](from: decoder)
        try self.init(strict: object)
    }

    /// Reads the claims, enforcing RFC-002's structure (§8.1 step 3); any violation is
    /// `BADGE_CLAIMS_INVALID`. The rules of the *combination* (ial/cnf/level) are in
    /// ``BadgeVerification``.
    public init(strict o: [String: JSONValue]) throws(JWSError) {
        func string(_ name: String) throws(JWSError) -> String {
            guard case .string(let value)? = o[name], !value.isEmpty else { throw .missingClaim(name) }
            return value
        }
        func int(_ name: String) throws(JWSError) -> Int64 {
            guard let value = try o.optionalInt64(name) else { throw .missingClaim(name) }
            return value
        }
        jti = try string("jti")
        guard Self.isUUID(jti) else { throw .missingClaim("jti (a UUID)") }
        iss = try string("iss")
        sub = try string("sub")
        switch o["aud"] {
        case nil: audience = nil
        case .array(let items)?:
            var values: [String] = []
            for item in items {
                guard case .string(let value) = item else { throw .missingClaim("aud (an array of strings)") }
                values.append(value)
            }
            audience = values
        default: throw .missingClaim("aud (an array of strings)")
        }
        iat = try int("iat")
        exp = try int("exp")
        nbf = try o.optionalInt64("nbf")
        ial = try string("ial")
        switch o["key"] {
        case nil: key = nil
        case .object(let members)?:
            guard case .string(let kty)? = members["kty"], case .string(let crv)? = members["crv"], case .string(let x)? = members["x"],
                members["d"] == nil
            else { throw .missingClaim("key (a public OKP JWK)") }
            key = JWK(kty: kty, crv: crv, x: x)
        default: throw .missingClaim("key (a public OKP JWK)")
        }
        if let cnf = try o.optionalObject("cnf") {
            guard case .string(let kid)? = cnf["kid"], !kid.isEmpty else { throw .missingClaim("cnf.kid") }
            self.cnf = Confirmation(kid: kid)
        } else {
            cnf = nil
        }
        guard let vc = try o.optionalObject("vc"), let subject = try vc.optionalObject("credentialSubject"),
            case .string(let level)? = subject["level"]
        else { throw .missingClaim("vc.credentialSubject.level") }
        if case .array(let types)? = vc["type"] {
            let names = types.compactMap { if case .string(let s) = $0 { s } else { nil } }
            guard names.contains("VerifiableCredential"), names.contains("AgentIdentity") else { throw .missingClaim("vc.type") }
        } else {
            throw .missingClaim("vc.type")
        }
        self.vc = Credential(domain: try subject.optionalString("domain"), level: level)
        self.vc.credentialSubject.issuance_profile = try subject.optionalString("issuance_profile")
        pop_challenge_id = try o.optionalString("pop_challenge_id")
        status = try StatusClaim.strict(o)
        workspace = try o.optionalString("workspace")
        agent_id = try o.optionalString("agent_id")
    }
}

extension BadgeClaims {
    /// 8-4-4-4-12 hexadecimal digits (either case), checked on bytes: Foundation's `UUID` parser
    /// allocated on every verification.
    static func isUUID(_ value: String) -> Bool {
        var count = 0
        for (i, byte) in value.utf8.enumerated() {
            count += 1
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte) else { return false }
            }
        }
        return count == 36
    }
}

/// The one error code a badge verification ends with: RFC-002 §8.5's, plus two of Tessera's
/// (`BADGE_IAL_INSUFFICIENT` when a verifier demands IAL-1, `BADGE_REVOCATION_UNAVAILABLE` when it
/// demands a fresh status list and has none).
public enum BadgeError: String, Error, Sendable, Equatable, CustomStringConvertible {
    case malformed = "BADGE_MALFORMED"
    case signatureInvalid = "BADGE_SIGNATURE_INVALID"
    case expired = "BADGE_EXPIRED"
    case notYetValid = "BADGE_NOT_YET_VALID"
    case issuerUntrusted = "BADGE_ISSUER_UNTRUSTED"
    case audienceMismatch = "BADGE_AUDIENCE_MISMATCH"
    case revoked = "BADGE_REVOKED"
    case claimsInvalid = "BADGE_CLAIMS_INVALID"
    case agentDisabled = "BADGE_AGENT_DISABLED"
    case ialInsufficient = "BADGE_IAL_INSUFFICIENT"
    case revocationUnavailable = "BADGE_REVOCATION_UNAVAILABLE"
    /// The presentation proof (DPoP, RFC 9449) required by the verifier is missing or wrong.
    case proofInvalid = "BADGE_PROOF_INVALID"

    public var description: String { rawValue }
}

/// The claims of a badge in the format Tessera used before RFC-002 (`typ` `tessera-badge+jwt`).
/// Still verified until the last of them expires (at most 24 h after an upgrade); never issued.
public struct LegacyBadgeClaims: StrictClaims, Equatable {
    public static let type = "tessera-badge+jwt"

    public var iss: String?
    public var sub: String
    public var aud: Audience?
    public var iat: Int64?
    public var nbf: Int64?
    public var exp: Int64?
    public var jti: String
    public var ial: String
    public var domain: String
    public var workspace: String
    public var agent_id: String

    public init(strict object: [String: JSONValue]) throws(JWSError) {
        iss = try object.optionalString("iss")
        sub = try object.required("sub")
        aud = try object.optionalAudience("aud")
        iat = try object.optionalInt64("iat")
        nbf = try object.optionalInt64("nbf")
        exp = try object.optionalInt64("exp")
        jti = try object.required("jti")
        ial = try object.required("ial")
        domain = try object.required("domain")
        workspace = try object.required("workspace")
        agent_id = try object.required("agent_id")
    }
}

/// RFC-002 §13.1 self-signed badges: level 0, IAL-0, `iss` = `sub` = the key's `did:key`, signed
/// by the agent itself, for development. Verifiers refuse them unless told otherwise.
public enum SelfSignedBadge {
    public static func issue(key: Ed25519KeyPair, lifetime: Int, audience: [String]?, domain: String?, now: Int64 = Date().unixSeconds) throws -> String {
        let did = key.publicKey.did
        let claims = BadgeClaims(
            iss: did, sub: did, audience: audience, iat: now, exp: now + Int64(lifetime), ial: "0", key: key.publicKey.publicJWK, cnf: nil,
            level: "0", domain: domain, status: nil)
        return try CompactJWS.sign(claims, header: .init(typ: BadgeClaims.type, kid: DIDs.keyID(did: did, key: key.publicKey)), key: key)
    }
}
