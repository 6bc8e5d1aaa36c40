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
    /// An RFC-002/RFC-003 error: its HTTP status and code (`challenge_used`, `htu_mismatch`…),
    /// answered as `{"error":"code","message":"…"}` as the RFCs show.
    case rfc(status: Int, code: String, message: String, retryAfter: Int? = nil)

    static func rfc(_ status: Int, _ code: String, _ message: String) -> RegistryError {
        .rfc(status: status, code: code, message: message, retryAfter: nil)
    }
}
