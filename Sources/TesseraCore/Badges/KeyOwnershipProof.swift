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

/// A DPoP proof (RFC 9449) presented with a badge: header `typ` `dpop+jwt`, `alg` EdDSA, `jwk`
/// the agent's public key; claims `jti`, `htm`, `htu`, `iat`, and `ath` (the badge's SHA-256).
/// It makes an IAL-1 badge useless without the key it was issued to.
public struct DPoPProofClaims: JWSClaims, Equatable {
    public static let type = "dpop+jwt"
    /// How far `iat` may be from now, either way.
    public static let window: Int64 = 60

    public var jti: String
    public var htm: String
    public var htu: String
    public var iat: Int64?
    public var ath: String?
    public var iss: String? { nil }
    public var exp: Int64? { nil }

    public init(jti: String = UUID().uuidString.lowercased(), htm: String, htu: String, iat: Int64, ath: String?) {
        self.jti = jti
        self.htm = htm
        self.htu = htu
        self.iat = iat
        self.ath = ath
    }

    /// `ath`: base64url SHA-256 of the access token (here the badge) as ASCII.
    public static func ath(_ token: String) -> String { Base64URL.encode(SHA256.hash(data: Array(token.utf8))) }

    public static func sign(method: String, url: String, badge: String, key: Ed25519KeyPair, now: Int64) throws -> String {
        let claims = DPoPProofClaims(htm: method, htu: htuForm(url), iat: now, ath: ath(badge))
        return try CompactJWS.sign(claims, header: .init(typ: type, jwk: key.publicKey.publicJWK), key: key)
    }

    static func athHolds(_ claim: JSONValue?, _ badge: String?) -> Bool {
        guard let badge else { return claim == nil }
        guard case .string(let ath)? = claim else { return false }
        return ConstantTime.equals(Array(ath.utf8), Array(Self.ath(badge).utf8))
    }

    /// RFC 9449 §4.3: compared without query and fragment.
    public static func htuForm(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }

    /// Verifies a proof for this request, bound to `key` and `badge`; returns its `jti` and `iat`
    /// for the caller's replay cache. Any failure is `BADGE_PROOF_INVALID`.
    ///
    /// `badge` nil: a proof sent to a token endpoint (RFC 9449 §5), where no access token exists
    /// yet; `ath` must then be absent.
    public static func verify(_ proof: String, method: String, url: String, badge: String?, key: Ed25519PublicKey, now: Int64) throws(BadgeError) -> (jti: String, iat: Int64) {
        guard let parsed = try? JWSVerifier.parse(proof, policy: JWSPolicy(maxTokenBytes: 4 * 1024), kids: nil),
            parsed.header.typ == type, parsed.header.alg == "EdDSA", let headerBytes = Base64URL.decode(bytes: proof.utf8.prefix { $0 != UInt8(ascii: ".") }[...]),
            let header = try? StrictJSON.object(headerBytes, maximumDepth: 4), case .object(let jwk)? = header["jwk"], jwk["d"] == nil,
            case .string(let x)? = jwk["x"], case .string("OKP")? = jwk["kty"], case .string("Ed25519")? = jwk["crv"],
            let presented = try? Ed25519PublicKey(jwk: JWK(kty: "OKP", crv: "Ed25519", x: x)), presented == key,
            key.backing.isValidSignature(parsed.signature, for: parsed.signingInput),
            let o = try? StrictJSON.object(parsed.payload), case .string(let jti)? = o["jti"], !jti.isEmpty, jti.utf8.count <= 128,
            case .string(let htm)? = o["htm"], htm == method, case .string(let htu)? = o["htu"], htuForm(htu) == htuForm(url),
            let iat = try? o.optionalInt64("iat"), abs(now - iat) <= window,
            athHolds(o["ath"], badge)
        else { throw .proofInvalid }
        return (jti, iat)
    }
}
