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
}
