import Foundation
import Hummingbird
import TesseraCore

/// An error answered to a client. Every failure on the wire goes through this type so bodies are
/// uniform: the IAM/gateway shape `{"error":{"type","message"}}`, or the governance shape
/// `{"error":"code"}` with `WWW-Authenticate` on 401, as the two seeds fix them.
public struct APIError: HTTPResponseError, Sendable, Equatable {
    public enum Shape: Sendable, Equatable {
        /// `{"error":{"type":…,"message":…}}`
        case typed
        /// `{"error":"…"}`
        case flat
        /// `{"error":"code","message":"…"}` (CapiscIO RFC-002/RFC-003 bodies)
        case coded
    }

    public var status: HTTPResponse.Status
    public var type: String
    public var message: String
    public var shape: Shape
    /// Seconds for a `Retry-After` header (429, 503).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, type: String, message: String, shape: Shape = .typed, retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.shape = shape
        self.retryAfter = retryAfter
    }

    /// The one authentication failure: never says which check failed.
    public static let authFailed = APIError(.unauthorized, type: "auth-failed", message: "auth failure")
    public static let accessDenied = APIError(.forbidden, type: "access-denied", message: "access denied")
    public static let invalidToken = APIError(.unauthorized, type: "invalid_token", message: "invalid_token", shape: .flat)

    public static func badRequest(_ message: String) -> APIError {
        APIError(.badRequest, type: "invalid-argument", message: message)
    }
    public static func notFound(_ message: String = "not found") -> APIError {
        APIError(.notFound, type: "not-found", message: message)
    }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, type: "duplicate", message: message) }
    public static func unavailable(_ message: String = "service unavailable") -> APIError {
        APIError(.serviceUnavailable, type: "unavailable", message: message)
    }
    public static let payloadTooLarge = APIError(
        .contentTooLarge, type: "payload-too-large", message: "request body exceeds 1 MiB")

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if shape == .flat, status == .unauthorized { headers[.wwwAuthenticate] = "Bearer error=\"\(message)\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: CanonicalJSON.serialize(body))))
    }

    /// The body in this error's shape (members sorted, as every Tessera error body is).
    public var body: JSONValue {
        switch shape {
        case .typed: .object(["error": .object(["type": .string(type), "message": .string(message)])])
        case .flat: .object(["error": .string(message)])
        case .coded: .object(["error": .string(type), "message": .string(message)])
        }
    }
}
