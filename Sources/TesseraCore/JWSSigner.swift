import Foundation

/// Signs compact JWS with one Ed25519 key (`alg` EdDSA, `kid` = the key's RFC 7638 thumbprint).
///
/// A thin holder of the key for asynchronous callers: the signing itself is ``CompactJWS``, the
/// one signer, so every Tessera token is produced by the same code whichever path issues it.
public struct JWSSigner: Sendable {
    public let keyPair: Ed25519KeyPair

    public var kid: String { keyPair.kid }

    public init(keyPair: Ed25519KeyPair) {
        self.keyPair = keyPair
    }

    /// - Parameter type: the `typ` header, so that one kind of token can never be accepted as
    ///   another (RFC 8725 §3.11).
    public func sign<Claims: JWSClaims>(_ claims: Claims, type: String) throws(JWSError) -> String {
        do {
            return try CompactJWS.sign(claims, type: type, key: keyPair)
        } catch {
            throw .signingFailed(String(describing: error))
        }
    }
}
