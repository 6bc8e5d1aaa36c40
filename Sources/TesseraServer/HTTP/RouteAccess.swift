import Hummingbird

/// What a caller must prove to reach a route. Every route states one at registration: the only way
/// to add a route is ``SecuredRouter/on(_:method:access:use:)``, so a route without an access rule
/// cannot exist, and a rule the server cannot enforce stops it at start-up.
public enum RouteAccess: Sendable, Equatable, CustomStringConvertible {
    /// No credential (health, JWKS, login).
    case anonymous
    /// Any authenticated principal.
    case authenticated
    /// An authenticated principal holding this capability (`subsystem:verb`).
    case capability(String)
    /// A credential the handler itself checks, because its failures must be answered in its
    /// protocol's own shape (an RFC-003 error, an MCP resource server's 401 with its metadata):
    /// the named credential, for the route table and the OpenAPI check. The router adds no check.
    case handler(String)

    public var description: String {
        switch self {
        case .anonymous: "anonymous"
        case .authenticated: "authenticated"
        case .capability(let name): "capability \(name)"
        case .handler(let credential): "checked by the handler: \(credential)"
        }
    }

    /// Whether the router itself puts a check in front of the handler.
    var checkedByRouter: Bool {
        switch self {
        case .anonymous, .handler: false
        case .authenticated, .capability: true
        }
    }
}

/// A route as registered, for the start-up check and for tests.
public struct RouteDeclaration: Sendable, Equatable {
    public var method: HTTPRequest.Method
    public var path: String
    public var access: RouteAccess
}

/// Decides whether a request may reach a route that needs more than ``RouteAccess/anonymous``.
/// It throws ``APIError/authFailed`` or ``APIError/accessDenied``; any other error is a denial too.
public protocol RequestAuthorizer: Sendable {
    func authorize(_ request: Request, access: RouteAccess, context: TesseraRequestContext) async throws
        -> TesseraRequestContext
}

public enum RouteRegistrationError: Error, CustomStringConvertible {
    case unenforceable(RouteDeclaration)
    case malformedCapability(RouteDeclaration)

    public var description: String {
        switch self {
        case .unenforceable(let route):
            "route \(route.method) \(route.path) needs \(route.access) but no authorizer is configured"
        case .malformedCapability(let route):
            "route \(route.method) \(route.path) names a malformed capability (\(route.access))"
        }
    }
}

/// A Hummingbird router that accepts a route only with its access rule, and puts the
/// authorisation check in front of every handler that needs one.
public final class SecuredRouter: @unchecked Sendable {
    // Only mutated while the application is being built, on one task.
    public let router: any RouterMethods<TesseraRequestContext>
    public private(set) var declarations: [RouteDeclaration] = []
    let authorizer: (any RequestAuthorizer)?

    public init(router: any RouterMethods<TesseraRequestContext>, authorizer: (any RequestAuthorizer)?) {
        self.router = router
        self.authorizer = authorizer
    }

    @discardableResult
    public func on<Output: ResponseGenerator>(
        _ path: String, method: HTTPRequest.Method, access: RouteAccess,
        use handler: @escaping @Sendable (Request, TesseraRequestContext) async throws -> Output
    ) throws -> Self {
        let declaration = RouteDeclaration(method: method, path: path, access: access)
        if case .capability(let name) = access {
            let parts = name.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw RouteRegistrationError.malformedCapability(declaration)
            }
        }
        declarations.append(declaration)
        if !access.checkedByRouter {
            router.on(RouterPath(path), method: method, use: handler)
            return self
        }
        guard let authorizer else { throw RouteRegistrationError.unenforceable(declaration) }
        router.on(RouterPath(path), method: method) { request, context in
            let authorized: TesseraRequestContext
            do {
                authorized = try await authorizer.authorize(request, access: access, context: context)
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.authFailed
            }
            return try await handler(request, authorized)
        }
        return self
    }
}
