import HTTPTypes
import Hummingbird
import TesseraCore
import TesseraStore

/// The one place where a failure becomes HTTP: each service's domain error, store errors and
/// framework errors map to a status and one of the two wire shapes here, and nowhere else.
enum ErrorMapping {
    /// The governance surface's error bodies (`{"error":"…"}`), as the seed fixes them.
    static func governance(_ status: HTTPResponse.Status, _ code: String) -> APIError {
        APIError(status, type: code, message: code, shape: .flat)
    }

    static func apiError(_ error: GovernanceError) -> APIError {
        switch error {
        case .invalidToken: .invalidToken
        case .passportRevoked: governance(.forbidden, "passport_revoked")
        case .unknownSession: governance(.notFound, "unknown_session")
        case .notFound(let code): governance(.notFound, code)
        case .passportAlreadyUsed: governance(.conflict, "passport_already_used")
        case .proofReplayed: governance(.conflict, "proof_replayed")
        case .replayCacheUnavailable: governance(.serviceUnavailable, "replay_cache_unavailable")
        case .sessionNotEnded: governance(.conflict, "session_not_ended")
        case .invalid(let message): governance(.badRequest, message)
        case .forbidden(let message): governance(.forbidden, message)
        case .conflict(let message): governance(.conflict, message)
        case .unavailable: APIError.unavailable()
        case .auditUnavailable:
            APIError(.serviceUnavailable, type: "audit_unavailable", message: "audit_unavailable", shape: .flat, retryAfter: 1)
        case .aatInvalid(let failure): governance(failure.credential ? .unauthorized : .forbidden, "aat_invalid: \(failure)")
        case .aatProofRequired(let why): governance(.forbidden, "aat_pop_required: \(why)")
        case .missionRefused(let refusal): governance(.forbidden, "\(refusal.code): \(refusal.detail)")
        case .tooManyDenials(let wait):
            APIError(.tooManyRequests, type: "deny_rate_exceeded", message: "deny_rate_exceeded", shape: .flat, retryAfter: wait)
        }
    }

    static func apiError(_ error: StoreError) -> APIError {
        switch error {
        case .conflict(let what): .conflict(what)
        case .notFound(let what): .notFound(what)
        case .revoked: governance(.forbidden, "passport_revoked")
        case .unavailable, .invalidState: .unavailable()
        }
    }

    static func apiError(_ error: IAMError) -> APIError {
        switch error {
        case .authFailed: .authFailed
        case .accessDenied: .accessDenied
        case .invalid(let message): .badRequest(message)
        case .weakPassword(let message): APIError(.badRequest, type: "weak-password", message: message)
        case .notFound(let message): .notFound(message)
        case .conflict(let message): .conflict(message)
        case .notPermitted(let message): APIError(.unprocessableContent, type: "operation-not-permitted", message: message)
        case .rateLimited(let message, let wait): APIError(.tooManyRequests, type: "rate-limited", message: message, retryAfter: wait)
        case .unavailable: .unavailable()
        }
    }

    static func apiError(_ error: RegistryError) -> APIError {
        switch error {
        case .authFailed: .authFailed
        case .accessDenied: .accessDenied
        case .invalid(let message): .badRequest(message)
        case .notFound(let message): .notFound(message)
        case .conflict(let message): .conflict(message)
        case .rateLimited(let message, let wait): APIError(.tooManyRequests, type: "rate-limited", message: message, retryAfter: wait)
        case .unavailable: .unavailable()
        case .rfc(let code, let message, let wait):
            APIError(status(of: code), type: code.rawValue, message: message, shape: .coded, retryAfter: wait)
        }
    }

    /// The status of each RFC-002/RFC-003 error code, by its kind.
    static func status(of code: RegistryErrorCode) -> HTTPResponse.Status {
        switch code.category {
        case .malformed: .badRequest
        case .unauthenticated: .unauthorized
        case .refused: .forbidden
        case .notFound: .notFound
        case .rateLimited: .tooManyRequests
        case .upstream: .badGateway
        case .unavailable: .serviceUnavailable
        }
    }

    /// An OAuth error at the token, registration, revocation and introspection endpoints: the
    /// RFC's status and JSON (RFC 6749 §5.2: 400, or 401 for a failed client authentication;
    /// RFC 7591 §3.2.2; RFC 9449 §5), never cached.
    static func oauth(_ failure: OAuthFailure, basicAuthentication: Bool = false) -> Response {
        let status: HTTPResponse.Status =
            switch failure {
            case .invalidClient: .unauthorized
            case .temporarilyUnavailable: .serviceUnavailable
            case .slowDown: .tooManyRequests
            default: .badRequest
            }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Pragma")!] = "no-cache"
        if case .invalidClient = failure { headers[.wwwAuthenticate] = basicAuthentication ? "Basic realm=\"tessera\"" : "Bearer realm=\"tessera\"" }
        if case .slowDown(_, let wait) = failure { headers[.retryAfter] = String(wait) }
        if case .invalidDPoPProof = failure { headers[.wwwAuthenticate] = "DPoP algs=\"EdDSA\", error=\"invalid_dpop_proof\"" }
        let body = CanonicalJSON.serialize(.object(["error": .string(failure.code), "error_description": .string(failure.description)]))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// Any error as an ``APIError`` (nil when it is not one of ours: the caller answers a masked 500).
    static func apiError(for error: any Error) -> APIError? {
        switch error {
        case let error as APIError: error
        case let error as GovernanceError: apiError(error)
        case let error as IAMError: apiError(error)
        case let error as RegistryError: apiError(error)
        case let error as StoreError: apiError(error)
        default: nil
        }
    }

    /// The same in a given shape; for the flat shape an authentication failure is `invalid_token`.
    static func apiError(for error: any Error, shape: APIError.Shape) -> any Error {
        guard let mapped = apiError(for: error) else { return error }
        guard shape == .flat, mapped.shape != .flat else { return mapped }
        switch mapped.status {
        case .unauthorized: return APIError.invalidToken
        case .forbidden: return governance(.forbidden, "access_denied")
        default: return governance(mapped.status, mapped.message)
        }
    }
}
