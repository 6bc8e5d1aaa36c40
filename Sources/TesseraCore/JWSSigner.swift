import Foundation
import JWTKit

/// Signs compact JWS with one Ed25519 key (`alg` EdDSA, `kid` = the key's RFC 7638 thumbprint).
public struct JWSSigner: Sendable {
    public let keyPair: Ed25519KeyPair
    let collection: JWTKeyCollection

    public var kid: String { keyPair.kid }

    public init(keyPair: Ed25519KeyPair) async {
        self.keyPair = keyPair
        self.collection = JWTKeyCollection()
        await collection.add(
            eddsa: EdDSA.PrivateKey(backing: keyPair.privateKey),
            kid: JWKIdentifier(string: keyPair.kid)
        )
    }

    /// - Parameter type: the `typ` header, so that one kind of token can never be accepted as
    ///   another (RFC 8725 §3.11).
    public func sign<Claims: JWSClaims>(_ claims: Claims, type: String) async throws(JWSError) -> String {
        var header = JWTHeader()
        header.alg = "EdDSA"
        header.typ = type
        do {
            return try await collection.sign(
                JWTKitPayload(claims), kid: JWKIdentifier(string: keyPair.kid), header: header)
        } catch {
            throw .signingFailed(String(describing: error))
        }
    }
}
