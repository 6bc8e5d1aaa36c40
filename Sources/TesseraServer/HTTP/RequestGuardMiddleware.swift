import HTTPTypes
import Hummingbird

/// First middleware on every request: refuses a declared body over the limit before reading it
/// (413), turns any error that is not already an ``APIError`` into a uniform body (never a stack
/// or an internal message), and echoes the request id so a client can quote it.
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Declared routes, so a known path with another method is a 405, not a 404.
    var routes: RouteTable? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > JSONLimits.maxBodyBytes {
            return try finish(APIError.payloadTooLarge.response(from: request, context: context), context)
        }
        do {
            return finish(try await next(request, context), context, request)
        } catch let error as HTTPError {
            let mapped: APIError
            switch error.status {
            case .notFound:
                let allowed = routes?.methods(for: request.uri.path) ?? []
                if !allowed.isEmpty {
                    var response = try APIError(.methodNotAllowed, type: "method-not-allowed", message: "method not allowed").response(
                        from: request, context: context)
                    response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                    return finish(response, context)
                }
                mapped = .notFound()
            case .contentTooLarge: mapped = .payloadTooLarge
            case .methodNotAllowed: mapped = APIError(.methodNotAllowed, type: "method-not-allowed", message: "method not allowed")
            case .badRequest: mapped = .badRequest(error.body ?? "bad request")
            default: mapped = APIError(error.status, type: "error", message: error.status.reasonPhrase)
            }
            return try finish(mapped.response(from: request, context: context), context)
        } catch {
            if let mapped = ErrorMapping.apiError(for: error) {
                return try finish(mapped.response(from: request, context: context), context)
            }
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            let internalError = APIError(.internalServerError, type: "internal", message: "internal error")
            return try finish(internalError.response(from: request, context: context), context)
        }
    }

    func finish(_ response: Response, _ context: Context, _ request: Request? = nil) -> Response {
        var response = response
        let field = HTTPField.Name("X-Request-Id")!
        // A route may answer with the caller's own id (the AuthZEN routes must echo a PEP's
        // X-Request-ID); only that exact echo is kept, anything else is replaced by ours.
        if let echoed = response.headers[field], echoed == request?.headers[field] { return response }
        response.headers[field] = context.id
        return response
    }
}
