import Foundation

/// What a session started from an AAT remembers of it, on its passport: the format, the grant's
/// mission binding (for receipts), and — when proof of possession is required — the holder key
/// every call must be signed with.
public struct AATBinding: Codable, Sendable, Equatable {
    public static let credentialFormat = "aat-compatible-jwt"

    public var credential_format: String = AATBinding.credentialFormat
    /// The root's issuer (a configured trust anchor).
    public var root_iss: String
    /// The leaf token's SHA-256 (hex): `/delegate` recognises the very token the session was
    /// started with (its chain was verified then) without being sent the chain again.
    public var token_sha256: String
    /// The AAT's `mission_ref`, verbatim, and the declaration's digest, when it has one.
    public var mission_ref: JSONValue?
    public var mission_digest: String?
    public var mission_id: String?
    /// Where the declaration's revocation status is published (`uri#idx=N`).
    public var revocation_ref: String?
    /// The holder key, when every call must carry a proof of possession signed with it.
    public var holder_jwk: JWK?

    public init(rootIssuer: String, tokenSHA256: String) {
        self.root_iss = rootIssuer
        self.token_sha256 = tokenSHA256
    }

    public var popRequired: Bool { holder_jwk != nil }

    /// A receipt's `evidence_proof_ref` (Ardur's shape).
    public var evidence: JSONValue? {
        guard let mission_digest else { return nil }
        var object: [String: JSONValue] = ["type": .string("mission_binding"), "mission_digest": .string(mission_digest)]
        if let mission_ref { object["mission_ref"] = mission_ref }
        return .object(object)
    }
}
