import Foundation

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
