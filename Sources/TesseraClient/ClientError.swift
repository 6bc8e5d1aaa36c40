import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TesseraCore

/// Errors a client call can end with. `server` carries the status and the server's error body.
public enum ClientError: Error, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case transport(String)
    case server(status: Int, body: String)
    case invalidResponse(String)
    case tooLarge(limit: Int)
    /// The request cannot be sent as given (checked before anything goes out); names the field.
    case invalidRequest(String)

    /// `type: message` from either error shape, or the raw body.
    static func summary(of body: String) -> String {
        guard let object = try? StrictJSON.object(Array(body.utf8)) else { return body }
        func text(_ value: JSONValue?) -> String? { if case .string(let s)? = value { s } else { nil } }
        if case .object(let error)? = object["error"] {
            return "\(text(error["type"]) ?? "error"): \(text(error["message"]) ?? "")"
        }
        if let error = text(object["error"]) {
            // RFC-002/RFC-003 bodies: {"error":"code","message":"…"}.
            if let message = text(object["message"]) { return "\(error): \(message)" }
            return error
        }
        return body
    }

    public var description: String {
        switch self {
        case .invalidURL(let url): "invalid server URL \(url)"
        case .transport(let why): "cannot reach the server: \(why)"
        case .server(let status, let body): "HTTP \(status): \(Self.summary(of: body))"
        case .invalidResponse(let why): "unexpected response: \(why)"
        case .tooLarge(let limit): "response larger than \(limit) bytes"
        case .invalidRequest(let why): "invalid request: \(why)"
        }
    }
}
