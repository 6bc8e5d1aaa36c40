import Crypto
import Foundation

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
