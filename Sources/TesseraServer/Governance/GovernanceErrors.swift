import Hummingbird

/// The governance surface's error bodies (`{"error":"…"}`), as the seed fixes them.
extension APIError {
    static func governance(_ status: HTTPResponse.Status, _ message: String) -> APIError {
        APIError(status, type: message, message: message, shape: .flat)
    }

    static let passportRevoked = governance(.forbidden, "passport_revoked")
    static let replayCacheUnavailable = governance(.serviceUnavailable, "replay_cache_unavailable")
    static let unknownSession = governance(.notFound, "unknown_session")

    /// The same error in the flat shape; an authentication failure becomes `invalid_token`.
    var flattened: APIError {
        if shape == .flat { return self }
        switch status {
        case .unauthorized: return .invalidToken
        case .forbidden: return .governance(.forbidden, "access_denied")
        default: return .governance(status, message)
        }
    }
}

/// Puts every error of the governance routes into the flat shape.
struct FlatErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error.flattened
        }
    }
}
