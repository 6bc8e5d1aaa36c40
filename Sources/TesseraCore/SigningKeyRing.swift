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

/// Which keys sign and which still verify, at a given instant.
///
/// A retired key keeps verifying for `gracePeriod` after retirement so that tokens it signed just
/// before a rotation stay valid until they can have expired (grace ≥ longest lifetime + leeway).
public struct SigningKeyRing: Sendable {
    public let records: [SigningKeyRecord]
    public let gracePeriod: TimeInterval

    public init(records: [SigningKeyRecord], gracePeriod: TimeInterval) {
        self.records = records.sorted { $0.createdAt < $1.createdAt }
        self.gracePeriod = gracePeriod
    }

    /// The newest key that has not been retired.
    public var active: SigningKeyRecord? { records.last { $0.retiredAt == nil } }

    /// The active key plus retired keys still inside their grace period, newest first.
    public func verificationRecords(at now: Date) -> [SigningKeyRecord] {
        records.filter { record in
            guard let retiredAt = record.retiredAt else { return true }
            return now < retiredAt.addingTimeInterval(gracePeriod)
        }.reversed()
    }

    /// The public JWK Set to publish at `/.well-known/jwks.json`.
    public func jwks(at now: Date) -> JWKSet {
        JWKSet(keys: verificationRecords(at: now).compactMap { record in
            guard var jwk = try? record.keyPair().publicKey.jwk else { return nil }
            jwk.alg = "EdDSA"
            jwk.use = "sig"
            return jwk
        })
    }

    public func verificationKeys(at now: Date) -> [String: Ed25519PublicKey] {
        var keys: [String: Ed25519PublicKey] = [:]
        for record in verificationRecords(at: now) {
            if let pair = try? record.keyPair() { keys[record.kid] = pair.publicKey }
        }
        return keys
    }
}
