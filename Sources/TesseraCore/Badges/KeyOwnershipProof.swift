import Crypto
import Foundation

/// The RFC-003 proof JWS (§6): header `alg` EdDSA, `typ` `pop+jwt`, `kid` a DID URL of the agent's
/// key; claims `cid`, `nonce`, `sub`, `aud` (one string, the registry origin), `htu`, `htm`,
/// `iat`, `exp` (≤ `iat` + 60), `jti`.
public struct KeyOwnershipProofClaims: JWSClaims, Equatable {
    public static let type = "pop+jwt"

    public var cid: String
    public var nonce: String
    public var sub: String
    public var audience: String
    public var htu: String
    public var htm: String
    public var iat: Int64?
    public var exp: Int64?
    public var jti: String

    public var iss: String? { nil }
    public var aud: Audience? { Audience([audience]) }

    enum CodingKeys: String, CodingKey {
        case cid, nonce, sub, audience = "aud", htu, htm, iat, exp, jti
    }

    public init(cid: String, nonce: String, sub: String, audience: String, htu: String, htm: String = "POST", iat: Int64, exp: Int64, jti: String = UUID().uuidString.lowercased()) {
        self.cid = cid
        self.nonce = nonce
        self.sub = sub
        self.audience = audience
        self.htu = htu
        self.htm = htm
        self.iat = iat
        self.exp = exp
        self.jti = jti
    }

    /// The proof an agent sends for a challenge, signed with its key (`kid` = the DID URL of the
    /// key's verification method).
    public static func sign(challenge: PoPChallenge, did: String, key: Ed25519KeyPair, now: Int64) throws -> String {
        let claims = KeyOwnershipProofClaims(
            cid: challenge.challenge_id, nonce: challenge.nonce, sub: did, audience: challenge.proof_aud, htu: challenge.htu,
            htm: challenge.htm, iat: now, exp: now + 60)
        return try CompactJWS.sign(claims, header: .init(typ: type, kid: DIDs.keyID(did: did, key: key.publicKey)), key: key)
    }

    /// The proof read without verifying it (RFC-003 §5.2.2 checks its claims before resolving the
    /// key); nil for anything that is not a well-formed `pop+jwt` with every required claim.
    public struct Unverified: Sendable {
        public var kid: String?
        public var claims: KeyOwnershipProofClaims
        let parsed: JWSVerifier.Parsed

        /// Step 23: the signature, with the key resolved for `kid`.
        public func isSigned(by key: Ed25519PublicKey) -> Bool {
            key.backing.isValidSignature(parsed.signature, for: parsed.signingInput)
        }
    }

    public enum ReadFailure: Error, Equatable {
        /// Not a compact JWS, wrong `typ` or `alg`, or a claim missing or of the wrong type.
        case invalidProof
        case missingCID
        case missingExp
    }

    public static func read(_ token: String) throws(ReadFailure) -> Unverified {
        guard let parsed = try? JWSVerifier.parse(token, policy: JWSPolicy(maxTokenBytes: 8 * 1024), kids: nil),
            parsed.header.typ == type, let o = try? StrictJSON.object(parsed.payload)
        else { throw .invalidProof }
        guard case .string(let cid)? = o["cid"] else { throw .missingCID }
        guard let exp = try? o.optionalInt64("exp") else { throw .missingExp }
        guard case .string(let nonce)? = o["nonce"], case .string(let sub)? = o["sub"], case .string(let aud)? = o["aud"],
            case .string(let htu)? = o["htu"], case .string(let htm)? = o["htm"], let iat = try? o.optionalInt64("iat"),
            case .string(let jti)? = o["jti"], !jti.isEmpty
        else { throw .invalidProof }
        return Unverified(
            kid: parsed.header.kid,
            claims: KeyOwnershipProofClaims(cid: cid, nonce: nonce, sub: sub, audience: aud, htu: htu, htm: htm, iat: iat, exp: exp, jti: jti),
            parsed: parsed)
    }
}

/// The challenge an agent receives (RFC-003 §5.1 response), shared by the server and the SDK.
public struct PoPChallenge: Codable, Sendable, Equatable {
    public var challenge_id: String
    public var nonce: String
    public var challenge_expires_at: String
    public var proof_aud: String
    public var htu: String
    public var htm: String
    public var badge_aud: [String]?
    public var badge_ttl: Int

    public init(
        challenge_id: String, nonce: String, challenge_expires_at: String, proof_aud: String, htu: String, htm: String,
        badge_aud: [String]?, badge_ttl: Int
    ) {
        self.challenge_id = challenge_id
        self.nonce = nonce
        self.challenge_expires_at = challenge_expires_at
        self.proof_aud = proof_aud
        self.htu = htu
        self.htm = htm
        self.badge_aud = badge_aud
        self.badge_ttl = badge_ttl
    }
}

