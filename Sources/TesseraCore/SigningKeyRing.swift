import Foundation

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
