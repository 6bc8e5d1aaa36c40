/// Failures of the persistent store, as the server needs to tell them apart.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The store cannot be reached or answered with an I/O error: the server fails closed (503).
    case unavailable(String)
    /// A uniqueness or state conflict (409).
    case conflict(String)
    case notFound(String)
    /// The passport, or one it was delegated from, is revoked.
    case revoked(String)
    /// The state directory or database cannot be used as it is.
    case invalidState(String)

    public var description: String {
        switch self {
        case .unavailable(let why): "store unavailable: \(why)"
        case .conflict(let why): "conflict: \(why)"
        case .notFound(let what): "not found: \(what)"
        case .revoked(let what): "revoked: \(what)"
        case .invalidState(let why): "invalid state: \(why)"
        }
    }
}
