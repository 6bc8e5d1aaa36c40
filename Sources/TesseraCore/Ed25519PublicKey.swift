import Crypto
import Foundation

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
