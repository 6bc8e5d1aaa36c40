import Crypto
import Foundation

/// A JWK Set (RFC 7517 §5), the shape of `/.well-known/jwks.json`.
public struct JWKSet: Codable, Sendable, Equatable {
    public var keys: [JWK]
    public init(keys: [JWK]) { self.keys = keys }
}
