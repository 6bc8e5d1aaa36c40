import Foundation
import JWTKit

/// Claims carried by every Tessera token. Time claims are whole seconds since the epoch.
///
/// Types adopt this and add their own claims; the verifier reads only these members, so the rules
/// for expiry, not-before, issuer and audience are written once.
public protocol JWSClaims: Codable, Sendable {
    var iss: String? { get }
    var aud: Audience? { get }
    var iat: Int64? { get }
    var nbf: Int64? { get }
    var exp: Int64? { get }
}

extension JWSClaims {
    public var aud: Audience? { nil }
    public var nbf: Int64? { nil }
}

/// The `aud` claim: one string or an array of strings (RFC 7519 §4.1.3).
public struct Audience: Codable, Sendable, Equatable, Hashable {
    public var values: [String]
    public init(_ values: [String]) { self.values = values }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) {
            values = [one]
        } else {
            values = try container.decode([String].self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
    }

    public func contains(_ audience: String) -> Bool { values.contains(audience) }
}

/// Bridges a ``JWSClaims`` value into jwt-kit without changing its JSON shape. Time rules are
/// applied by ``JWSVerifier`` with an injected clock, so jwt-kit's own check is a no-op here.
struct JWTKitPayload<Claims: JWSClaims>: JWTPayload {
    var claims: Claims

    init(_ claims: Claims) { self.claims = claims }

    init(from decoder: any Decoder) throws {
        claims = try Claims(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
