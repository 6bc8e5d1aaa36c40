import Foundation

/// RFC 7523 §2.2 / §3 client authentication by a JWT the client signed (`private_key_jwt`): here
/// the client is a registered Tessera agent and the key its registered key, so an agent's badge
/// key is also its OAuth credential.
public enum ClientAssertion {
    public static let maximumBytes = 8 * 1024
    /// An assertion may be valid for at most this long (its `exp` no further ahead).
    public static let maximumLifetime: Int64 = 300
    public static let skew: Int64 = 30

    public struct Verified: Sendable, Equatable {
        public var clientID: String
        public var jti: String
        public var expiresAt: Int64
    }

    /// The `iss` (= `sub`) an assertion claims, read before the key is chosen.
    public static func claimedClient(_ assertion: String) -> String? {
        guard let jws = try? ForeignJWS(assertion, maximumBytes: maximumBytes), case .string(let iss)? = jws.unverified("iss") else { return nil }
        return iss
    }

    /// Verifies `assertion` for `clientID` with `key`: signature, `iss` = `sub` = client, `aud`
    /// naming this server (its issuer, with or without a trailing slash, or its token endpoint),
    /// `exp` in the future and at most five minutes away, `iat`/`nbf` not in the future, a `jti`.
    /// The caller spends the `jti` in the replay cache.
    public static func verify(_ assertion: String, clientID: String, key: ForeignPublicKey, audiences: Set<String>, now: Int64) throws(OAuthFailure) -> Verified {
        let jws: ForeignJWS
        let claims: [String: JSONValue]
        do {
            jws = try ForeignJWS(assertion, maximumBytes: maximumBytes)
            try jws.verify(with: key)
            claims = try jws.claims()
        } catch {
            throw .invalidClient("client_assertion: \(error.description)")
        }
        guard case .string(let iss)? = claims["iss"], iss == clientID, case .string(let sub)? = claims["sub"], sub == clientID else {
            throw .invalidClient("client_assertion: iss and sub must both be the client_id")
        }
        let audience: [String]
        switch claims["aud"] {
        case .string(let one)?: audience = [one]
        case .array(let many)?: audience = many.compactMap { if case .string(let s) = $0 { s } else { nil } }
        default: audience = []
        }
        guard audience.contains(where: audiences.contains) else {
            throw .invalidClient("client_assertion: aud must name this authorization server (its issuer or token endpoint)")
        }
        guard case .number(let expNumber)? = claims["exp"], let exp = expNumber.int.map(Int64.init) else {
            throw .invalidClient("client_assertion: exp is required")
        }
        guard exp > now - skew else { throw .invalidClient("client_assertion: expired") }
        guard exp <= now + maximumLifetime + skew else { throw .invalidClient("client_assertion: exp is more than \(maximumLifetime) s away") }
        for name in ["iat", "nbf"] {
            if case .number(let n)? = claims[name] {
                guard let t = n.int.map(Int64.init), t <= now + skew else { throw .invalidClient("client_assertion: \(name) is in the future") }
            } else if claims[name] != nil {
                throw .invalidClient("client_assertion: \(name) must be a number")
            }
        }
        guard case .string(let jti)? = claims["jti"], !jti.isEmpty, jti.utf8.count <= 256 else {
            throw .invalidClient("client_assertion: jti is required (it is single use)")
        }
        return Verified(clientID: clientID, jti: jti, expiresAt: exp)
    }
}

/// An OAuth error: the RFC's `error` code and a description; its HTTP form (status, JSON body or
/// redirect) is decided by the server in one place.
public enum OAuthFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidRequest(String)
    case invalidClient(String)
    case invalidGrant(String)
    case unauthorizedClient(String)
    case unsupportedGrantType(String)
    case invalidScope(String)
    case invalidTarget(String)
    case invalidDPoPProof(String)
    case accessDenied(String)
    case unsupportedResponseType(String)
    case invalidRedirectURI(String)
    case invalidClientMetadata(String)
    case temporarilyUnavailable(String)
    case slowDown(String, retryAfter: Int)

    /// The RFC's error code (RFC 6749 §4.1.2.1, §5.2; RFC 7591 §3.2.2; RFC 8707 §2; RFC 9449 §5).
    public var code: String {
        switch self {
        case .invalidRequest: "invalid_request"
        case .invalidClient: "invalid_client"
        case .invalidGrant: "invalid_grant"
        case .unauthorizedClient: "unauthorized_client"
        case .unsupportedGrantType: "unsupported_grant_type"
        case .invalidScope: "invalid_scope"
        case .invalidTarget: "invalid_target"
        case .invalidDPoPProof: "invalid_dpop_proof"
        case .accessDenied: "access_denied"
        case .unsupportedResponseType: "unsupported_response_type"
        case .invalidRedirectURI: "invalid_redirect_uri"
        case .invalidClientMetadata: "invalid_client_metadata"
        case .temporarilyUnavailable: "temporarily_unavailable"
        case .slowDown: "slow_down"
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let d), .invalidClient(let d), .invalidGrant(let d), .unauthorizedClient(let d), .unsupportedGrantType(let d),
            .invalidScope(let d), .invalidTarget(let d), .invalidDPoPProof(let d), .accessDenied(let d), .unsupportedResponseType(let d),
            .invalidRedirectURI(let d), .invalidClientMetadata(let d), .temporarilyUnavailable(let d), .slowDown(let d, _):
            d
        }
    }
}
