import Hummingbird
import TesseraCore

/// Enforces ``RouteAccess`` with the IAM identity model: authenticates the bearer credential,
/// then, for a capability route, admits only a caller who holds that capability in some
/// workspace. The handler then asks the single authorisation test again in the workspace of the
/// resource it touches (an agent's, a session's), so both gates must pass.
/// A user who must change their password reaches only routes that merely need authentication
/// (their handlers apply the rule per operation).
public struct IAMAuthorizer: RequestAuthorizer {
    let authenticator: Authenticator

    public func authorize(_ request: Request, access: RouteAccess, context: TesseraRequestContext) async throws -> TesseraRequestContext {
        guard let identity = await authenticator.authenticate(bearer: Authenticator.credential(request.headers)) else {
            throw APIError.authFailed
        }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "user"] = .string(identity.userID)
        switch access {
        case .anonymous, .authenticated, .handler:
            return context
        case .capability(let capability):
            guard !identity.mustChangePassword, identity.holdsAnywhere(capability) else {
                throw APIError.accessDenied
            }
            return context
        }
    }
}
