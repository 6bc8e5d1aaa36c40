import HTTPTypes
import Hummingbird
import TesseraCore

/// In front of the AuthZEN routes (authentication included): answers every error in the
/// AuthZEN shape (``AuthZENErrors``), and echoes the PEP's `X-Request-ID`, which the spec
/// ("Request Identification") says the PDP MUST return unchanged. An id longer than 256 bytes is
/// refused (400) rather than echoed, so a response header stays bounded; the server's own id
/// stays in its log next to the PEP's.
struct AuthZENErrorMiddleware: RouterMiddleware {
    typealias Context = TesseraRequestContext
    static let requestIDField = HTTPField.Name("X-Request-Id")!
    static let maxRequestIDBytes = 256

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let pepID = request.headers[Self.requestIDField]
        if let pepID { context.logger[metadataKey: "pep_request_id"] = .string(String(pepID.prefix(Self.maxRequestIDBytes))) }
        var response: Response
        do {
            if let pepID, !(1...Self.maxRequestIDBytes).contains(pepID.utf8.count) {
                throw AuthZENRequestError("X-Request-ID must be 1-\(Self.maxRequestIDBytes) bytes")
            }
            response = try await next(request, context)
        } catch {
            let mapped = AuthZENErrors.apiError(for: error)
            response = try mapped.response(from: request, context: context)
            if mapped.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        }
        if let pepID, (1...Self.maxRequestIDBytes).contains(pepID.utf8.count) { response.headers[Self.requestIDField] = pepID }
        return response
    }
}
