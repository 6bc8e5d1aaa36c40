import Hummingbird
import TesseraCore

/// How the AuthZEN routes answer a failure. The spec fixes the status codes and says the body is
/// "an error message string"; Tessera sends it as `{"error":"<code>","message":"<text>"}` (the
/// `coded` shape its RFC routes already use), so a PEP can branch on a stable code and show the
/// text, which names the field at fault for a 400. A 401 carries `WWW-Authenticate: Bearer`
/// (the spec's "Sender Authentication Failure"). Every status is the one the same failure has on
/// `/evaluate`, so the two surfaces never disagree about what happened.
enum AuthZENErrors {
    /// The status code's stable name when the error does not carry a code of its own.
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "invalid_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "payload_too_large"
        case 429: "too_many_requests"
        case 503: "unavailable"
        default: "internal_error"
        }
    }

    /// Any error as an AuthZEN-shaped ``APIError``; one Tessera does not know is a masked 500.
    static func apiError(for error: any Error) -> APIError {
        if let error = error as? AuthZENRequestError {
            return APIError(.badRequest, type: "invalid_request", message: error.message, shape: .coded)
        }
        guard let mapped = ErrorMapping.apiError(for: error) else {
            return APIError(.internalServerError, type: "internal_error", message: "internal error", shape: .coded)
        }
        let code: String
        let message: String
        switch (mapped.status, mapped.shape) {
        case (.unauthorized, _):
            code = "unauthorized"; message = "authentication failed"
        case (.forbidden, _) where mapped.type == "passport_revoked":
            code = "passport_revoked"; message = "the subject's passport is revoked"
        case (_, .flat) where mapped.type.hasPrefix("aat_") || mapped.type.hasPrefix("mission_"):
            // An AAT session's own refusals (a key-bound session needs the holder's proof, which
            // an AuthZEN request cannot carry; a revoked mission): named, not "forbidden".
            code = String(mapped.type.prefix { $0 != ":" }); message = mapped.message
        case (.forbidden, _):
            code = "forbidden"; message = "the credential does not hold decisions:evaluate"
        case (.notFound, .flat) where mapped.type == AuthZENService.unknownSubject:
            code = AuthZENService.unknownSubject; message = "no such subject in a workspace this credential may evaluate in"
        case (.tooManyRequests, .flat):
            code = mapped.type; message = "this session was denied too often in the last minute; retry after Retry-After seconds"
        case (_, .flat) where !mapped.type.contains(" ") && mapped.status != .badRequest:
            code = mapped.type; message = mapped.message
        default:
            // A message (a 400 naming its field, a conflict naming the request_id): the code is the status's.
            code = Self.code(for: mapped.status); message = mapped.message
        }
        return APIError(mapped.status, type: code, message: message, shape: .coded, retryAfter: mapped.retryAfter)
    }

    /// The same failure as a boxcar item's `context.error`.
    static func itemError(for error: any Error) -> AuthZENItemError {
        let mapped = apiError(for: error)
        return AuthZENItemError(status: Int(mapped.status.code), code: mapped.type, message: mapped.message, retry_after: mapped.retryAfter)
    }
}
