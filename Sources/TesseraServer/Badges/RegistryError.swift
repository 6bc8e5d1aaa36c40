import TesseraCore

/// What the agent registry and badge authority refuse, in their own terms; ``ErrorMapping`` turns
/// each into the typed error body and its status.
public enum RegistryError: Error, Equatable, Sendable {
    /// A proof or credential that does not verify; never says which check failed.
    case authFailed
    case accessDenied
    /// Bad input: the message names the field.
    case invalid(String)
    case notFound(String)
    case conflict(String)
    case rateLimited(String, retryAfter: Int)
    case unavailable
    /// An RFC-002/RFC-003 error by its code (`challenge_used`, `htu_mismatch`…), answered as
    /// `{"error":"code","message":"…"}` as the RFCs show; its status comes from ``ErrorMapping``.
    case rfc(RegistryErrorCode, message: String, retryAfter: Int? = nil)

    static func rfc(_ code: RegistryErrorCode, _ message: String) -> RegistryError {
        .rfc(code, message: message, retryAfter: nil)
    }
}
