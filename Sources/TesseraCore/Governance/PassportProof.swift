import Foundation

/// Proof of possession for a key-bound passport (`cnf.jkt`): a JWS whose header carries the
/// holder's public `jwk` (and `kid` = its RFC 7638 thumbprint), signed by that key.
///
/// `typ` is required so that no other token signed by the same key (a badge PoP proof, a DPoP
/// proof) can stand in for it, and `purpose` says which operation it authorises: a proof for
/// `/delegate` also names the key the child is bound to, so a captured proof cannot be replayed to
/// mint a child for somebody else's key.
public struct PassportProofClaims: JWSClaims, Equatable {
    public static let type = "tessera-passport-pop+jwt"
    /// Proof lifetime: `iat` at most this far from now.
    public static let maximumAge: Int64 = 60

    public enum Purpose: String, Codable, Sendable {
        case sessionStart = "session_start"
        case delegate
    }

    public var iss: String?
    public var iat: Int64?
    public var nbf: Int64?
    public var exp: Int64?
    public var jti: String?
    public var passport_jti: String
    /// Absent is accepted for session start only.
    public var purpose: Purpose?
    /// For `delegate`: the thumbprint the child passport will be bound to.
    public var child_cnf_jkt: String?

    public init(passportJTI: String, purpose: Purpose, iat: Int64, childJKT: String? = nil, jti: String = UUID().uuidString.lowercased()) {
        self.passport_jti = passportJTI
        self.purpose = purpose
        self.iat = iat
        self.child_cnf_jkt = childJKT
        self.jti = jti
    }

    /// The proof header: the holder's public key travels with the proof.
    public struct Header: Codable, Sendable {
        public var alg = "EdDSA"
        public var typ = PassportProofClaims.type
        public var kid: String
        public var jwk: JWK
    }

    /// Signs a proof with the holder's key (SDK, CLI and tests all build proofs here).
    public static func sign(_ claims: PassportProofClaims, key: Ed25519KeyPair) throws -> String {
        var jwk = key.publicKey.jwk
        jwk.kid = nil
        let header = Base64URL.encode(try CompactJWS.encoder.encode(Header(kid: key.kid, jwk: jwk)))
        let payload = Base64URL.encode(try CompactJWS.encoder.encode(claims))
        return try CompactJWS.sign(signingInput: header + "." + payload, key: key)
    }
}
