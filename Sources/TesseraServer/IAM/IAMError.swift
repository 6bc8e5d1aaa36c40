/// What the IAM operations refuse, in their own terms; ``ErrorMapping`` turns each into the
/// TrustGraph-compatible `{"error":{"type","message"}}` body and its status.
public enum IAMError: Error, Equatable, Sendable {
    /// The one authentication failure: never says which check failed.
    case authFailed
    case accessDenied
    /// Bad input: the message names the field.
    case invalid(String)
    case weakPassword(String)
    case notFound(String)
    case conflict(String)
    /// Refused to protect the system (the last admin, the last admin's workspace).
    case notPermitted(String)
    case rateLimited(String, retryAfter: Int)
    /// The store did not answer.
    case unavailable
}
