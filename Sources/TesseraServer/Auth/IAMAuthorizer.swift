import Hummingbird
import TesseraCore

/// Enforces ``RouteAccess`` with the IAM identity model: authenticates the bearer credential,
/// then, for a capability route, asks the single authorisation test in the caller's workspace.
/// A user who must change their password reaches only routes that merely need authentication
/// (their handlers apply the rule per operation).
public struct IAMAuthorizer: RequestAuthorizer {
    let authenticator: Authenticator

    public func authorize(_ request: Request, access: RouteAccess, context: TesseraRequestContext) async throws -> TesseraRequestContext {
        let credential = Authenticator.bearer(request.headers[.authorization])
        guard let identity = await authenticator.authenticate(bearer: credential) else { throw APIError.authFailed }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "user"] = .string(identity.userID)
        switch access {
        case .anonymous, .authenticated:
            return context
        case .capability(let capability):
            guard !identity.mustChangePassword, identity.may(capability, in: identity.workspace) else {
                throw APIError.accessDenied
            }
            return context
        }
    }
}
