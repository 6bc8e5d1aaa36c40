import Crypto
import Foundation

/// A public key Tessera did not mint and only verifies with: an AAT holder's `cnf.jwk`, a trust
/// anchor, a mission-declaration issuer. AATs are EdDSA (Ed25519) by requirement and ES256
/// (P-256) by permission (draft-01 §5.1); nothing else is accepted, and the JWS `alg` must be the
/// one the key's type implies, so a key can never be used with an algorithm it was not made for.
public struct ForeignPublicKey: Sendable, Equatable {
    public enum Backing: Sendable {
        case ed25519(Curve25519.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
    }

    public let backing: Backing
    /// The public members only (`kty`, `crv`, `x`, `y`), as they hash for the thumbprint.
    public let jwk: JWK
    /// RFC 7638 SHA-256 thumbprint, base64url.
    public let thumbprint: String

    /// Reads a public JWK; a private member (`d`) is refused — a holder key in a token must never
    /// carry its secret, and a trust anchor file holding one is a mistake worth stopping on.
    public init(jwk: JWK) throws(KeyError) {
        guard jwk.d == nil, jwk.k == nil else { throw .invalidMember("d") }
        switch (jwk.kty, jwk.crv) {
        case ("OKP", "Ed25519"):
            guard let x = jwk.x else { throw .missingMember("x") }
            guard let raw = Base64URL.decode(x), raw.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                throw .invalidMember("x")
            }
            backing = .ed25519(key)
            self.jwk = JWK(kty: "OKP", crv: "Ed25519", x: x)
        case ("EC", "P-256"):
            guard let x = jwk.x else { throw .missingMember("x") }
            guard let y = jwk.y else { throw .missingMember("y") }
            guard let rx = Base64URL.decode(x), rx.count == 32 else { throw .invalidMember("x") }
            guard let ry = Base64URL.decode(y), ry.count == 32 else { throw .invalidMember("y") }
            // x962 uncompressed point: swift-crypto checks the point is on the curve.
            guard let key = try? P256.Signing.PublicKey(x963Representation: [0x04] + rx + ry) else { throw .invalidMember("x") }
            backing = .p256(key)
            self.jwk = JWK(kty: "EC", crv: "P-256", x: x, y: y)
        default:
            throw .unsupportedKeyType("\(jwk.kty)/\(jwk.crv ?? "-")")
        }
        thumbprint = JWKThumbprint.sha256(self.jwk)
    }

    /// The keys of a JWK or JWKS document (a trust-anchor or issuer key file, a JWKS URL's body).
    public static func keys(jwkOrJWKS data: Data) throws -> [ForeignPublicKey] {
        let object = try StrictJSON.object(Array(data))
        if object["keys"] != nil { return try StrictJSON.decode(JWKSet.self, from: data).keys.map { try ForeignPublicKey(jwk: $0) } }
        return [try ForeignPublicKey(jwk: StrictJSON.decode(JWK.self, from: data))]
    }

    /// The only JWS `alg` this key verifies.
    public var algorithm: String {
        switch backing {
        case .ed25519: "EdDSA"
        case .p256: "ES256"
        }
    }

    /// Verifies a JWS signature (Ed25519: 64 bytes; ES256: the 64-byte `r || s` of RFC 7518 §3.4,
    /// never DER) over the signing input.
    public func isValidSignature(_ signature: [UInt8], for input: some DataProtocol) -> Bool {
        guard signature.count == 64 else { return false }
        switch backing {
        case .ed25519(let key):
            return key.isValidSignature(signature, for: input)
        case .p256(let key):
            guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(ecdsa, for: input)
        }
    }

    public static func == (a: Self, b: Self) -> Bool { a.jwk == b.jwk }
}
