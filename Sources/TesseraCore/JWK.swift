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

