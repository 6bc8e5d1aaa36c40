import Hummingbird
import Logging
import NIOCore

/// The request context of every Tessera route. It caps bodies at 1 MiB (Hummingbird's default
/// is 2 MiB) so the limit holds on every route, not only on those that decode JSON, and carries
/// the authenticated identity once the authorizer has set it.
public struct TesseraRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, for per-address throttling.
    public let remoteAddress: String?
    /// Set by ``IAMAuthorizer`` on routes that need more than anonymous access.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    public var maxUploadSize: Int { JSONLimits.maxBodyBytes }

    /// The identity the authorizer set; a route that reaches here without one fails closed.
    public func authenticatedIdentity() throws -> Identity {
        guard let identity else { throw APIError.authFailed }
        return identity
    }
}
