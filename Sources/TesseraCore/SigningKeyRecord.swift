import Foundation

/// One of the server's signing keys as persisted by the store.
public struct SigningKeyRecord: Sendable, Equatable, Codable {
    public var kid: String
    public var privateJWK: JWK
    public var createdAt: Date
    /// When this key stopped signing; nil for the active key.
    public var retiredAt: Date?

    public init(kid: String, privateJWK: JWK, createdAt: Date, retiredAt: Date? = nil) {
        self.kid = kid
        self.privateJWK = privateJWK
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }

    /// A record for a freshly generated key.
    public static func generate(at now: Date) -> SigningKeyRecord {
        let pair = Ed25519KeyPair()
        return SigningKeyRecord(kid: pair.kid, privateJWK: pair.privateJWK, createdAt: now)
    }

    public func keyPair() throws(KeyError) -> Ed25519KeyPair { try Ed25519KeyPair(jwk: privateJWK) }
}
