import Crypto
import Foundation

/// A JSON Web Key (RFC 7517) as it appears on the wire or on disk.
///
/// Only the members Tessera reads are modelled. Private members (`d`) are never encoded unless the
/// value is explicitly a private key file: ``publicKey`` strips them.
public struct JWK: Codable, Sendable, Equatable, Hashable {
    public var kty: String
    public var crv: String?
    public var x: String?
    public var y: String?
    public var n: String?
    public var e: String?
    public var k: String?
    public var d: String?
    public var kid: String?
    public var alg: String?
    public var use: String?

    public init(
        kty: String, crv: String? = nil, x: String? = nil, y: String? = nil, n: String? = nil,
        e: String? = nil, k: String? = nil, d: String? = nil, kid: String? = nil, alg: String? = nil,
        use: String? = nil
    ) {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.y = y
        self.n = n
        self.e = e
        self.k = k
        self.d = d
        self.kid = kid
        self.alg = alg
        self.use = use
    }

    /// The same key without its private member.
    public var publicKey: JWK {
        var copy = self
        copy.d = nil
        return copy
    }

    public var isPrivate: Bool { d != nil || k != nil }
}

/// A JWK Set (RFC 7517 §5), the shape of `/.well-known/jwks.json`.
public struct JWKSet: Codable, Sendable, Equatable {
    public var keys: [JWK]
    public init(keys: [JWK]) { self.keys = keys }
}

/// Errors raised while reading keys. Messages name the member at fault; they never echo key material.
public enum KeyError: Error, Equatable, CustomStringConvertible {
    case unsupportedKeyType(String)
    case invalidMember(String)
    case missingMember(String)
    case publicKeyMismatch

    public var description: String {
        switch self {
        case .unsupportedKeyType(let type): "unsupported key type \(type): expected OKP/Ed25519"
        case .invalidMember(let name): "invalid JWK member \(name)"
        case .missingMember(let name): "missing JWK member \(name)"
        case .publicKeyMismatch: "the private key does not match its public key member x"
        }
    }
}

/// An Ed25519 public key, validated from a JWK.
public struct Ed25519PublicKey: Sendable, Equatable {
    public let raw: [UInt8]
    public let backing: Curve25519.Signing.PublicKey

    public init(raw: [UInt8]) throws(KeyError) {
        guard raw.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw .invalidMember("x")
        }
        self.raw = raw
        self.backing = key
    }

    public init(jwk: JWK) throws(KeyError) {
        guard jwk.kty == "OKP", jwk.crv == "Ed25519" else {
            throw .unsupportedKeyType("\(jwk.kty)/\(jwk.crv ?? "-")")
        }
        guard let x = jwk.x else { throw .missingMember("x") }
        guard let raw = Base64URL.decode(x) else { throw .invalidMember("x") }
        try self.init(raw: raw)
    }

    /// RFC 8037 form, with `kid` set to the RFC 7638 thumbprint.
    public var jwk: JWK {
        var jwk = JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(raw))
        jwk.kid = JWKThumbprint.sha256(jwk)
        return jwk
    }

    /// The bare RFC 8037 members (`kty`, `crv`, `x`): a badge's `key` claim and a DPoP `jwk`.
    public var publicJWK: JWK { JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(raw)) }

    /// RFC 7638 thumbprint, used as `kid` and as `cnf.jkt`.
    public var thumbprint: String { JWKThumbprint.sha256(JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(raw))) }

    public var did: String { DIDKey.encode(self) }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.raw == rhs.raw }
}

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
