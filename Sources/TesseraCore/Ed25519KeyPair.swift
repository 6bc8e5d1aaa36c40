import Crypto
import Foundation

/// An Ed25519 key pair: the server's signing keys and an agent's identity key.
public struct Ed25519KeyPair: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey
    public let publicKey: Ed25519PublicKey

    /// A new key from the system CSPRNG.
    public init() {
        self.init(backing: Curve25519.Signing.PrivateKey())
    }

    public init(backing: Curve25519.Signing.PrivateKey) {
        self.privateKey = backing
        // A 32-byte raw key from swift-crypto is always valid.
        self.publicKey = try! Ed25519PublicKey(raw: [UInt8](backing.publicKey.rawRepresentation))
    }

    /// Reads a private JWK, checking that `x` (when present) belongs to `d`.
    public init(jwk: JWK) throws(KeyError) {
        guard jwk.kty == "OKP", jwk.crv == "Ed25519" else {
            throw .unsupportedKeyType("\(jwk.kty)/\(jwk.crv ?? "-")")
        }
        guard let d = jwk.d else { throw .missingMember("d") }
        guard let raw = Base64URL.decode(d), raw.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else { throw .invalidMember("d") }
        self.init(backing: key)
        if let x = jwk.x, x != Base64URL.encode(publicKey.raw) { throw .publicKeyMismatch }
    }

    public var kid: String { publicKey.thumbprint }

    /// The private JWK (with `x` and `kid`), for a 0600 key file.
    public var privateJWK: JWK {
        var jwk = publicKey.jwk
        jwk.d = Base64URL.encode(privateKey.rawRepresentation)
        return jwk
    }
}
