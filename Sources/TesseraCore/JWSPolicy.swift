import Crypto
import Foundation

/// What a verifier demands beyond a good signature.
public struct JWSPolicy: Sendable {
    /// Tokens longer than this are refused before any parsing.
    public var maxTokenBytes: Int = 16 * 1024
    /// Clock skew tolerated on `exp`, `nbf` and `iat`; capped at 60 s.
    public var leewaySeconds: Int64 = 60
    /// Required `typ` header, or nil to accept any.
    public var type: String?
    /// Whether a token without `exp` is refused. Every Tessera token has one.
    public var requireExpiry: Bool = true
    /// Accepted issuers, or nil to accept any.
    public var issuers: Set<String>?
    /// Required audience, or nil when the verifier has none.
    public var audience: String?

    public init(
        type: String? = nil, issuers: Set<String>? = nil, audience: String? = nil,
        leewaySeconds: Int64 = 60, maxTokenBytes: Int = 16 * 1024, requireExpiry: Bool = true
    ) {
        self.type = type
        self.issuers = issuers
        self.audience = audience
        self.leewaySeconds = min(max(leewaySeconds, 0), 60)
        self.maxTokenBytes = maxTokenBytes
        self.requireExpiry = requireExpiry
    }
}
