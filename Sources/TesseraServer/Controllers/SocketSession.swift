import Foundation
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import TesseraCore

/// `/api/v1/socket`: WebSocket with first-frame authentication (TrustGraph protocol).
///
/// The upgrade always succeeds (a browser treats a handshake-time 401 as final). The first frame
/// must be `{"type":"auth","token":…}`; a failure answers `auth-failed` and keeps the socket
/// open for another try; any other frame before success is answered `auth-required` and not
/// processed. No successful auth within 10 s closes the socket. The credential is re-checked on
/// every request, so an expired, revoked or disabled identity is asked to re-authenticate
/// instead of being silently kept; a later auth frame re-authenticates mid-session.
struct SocketSession {
    static let path = "/api/v1/socket"
    static let authTimeout: Duration = .seconds(10)
    static let maxMessageBytes = JSONLimits.maxBodyBytes

    let authenticator: Authenticator
    let iam: IAMService
    let logger: Logger

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let credential = NIOLockedValueBox<String?>(nil)
        let watchdog = Task {
            try await Task.sleep(for: Self.authTimeout)
            if credential.withLockedValue({ $0 }) == nil {
                try await outbound.close(.policyViolation, reason: "auth timeout")
            }
        }
        defer { watchdog.cancel() }
        for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
            guard case .text(let text) = message else {
                try await send(outbound, ["error": ["type": "invalid-argument", "message": "text frames only"], "complete": true])
                continue
            }
            let bytes = Array(text.utf8)
            // The strict parser first (duplicate names, depth), then the loose object view.
            guard (try? StrictJSON.parse(bytes, maximumDepth: JSONLimits.maxDepth)) != nil,
                let frame = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
            else {
                try await send(outbound, ["error": ["type": "invalid-argument", "message": "frame is not a JSON object"], "complete": true])
                continue
            }
            if frame["type"] as? String == "auth" {
                let token = frame["token"] as? String
                if let token, let identity = await authenticator.authenticate(bearer: token) {
                    credential.withLockedValue { $0 = token }
                    try await send(outbound, ["type": "auth-ok", "workspace": identity.workspace, "default_workspace": identity.defaultWorkspace])
                } else {
                    credential.withLockedValue { $0 = nil }
                    try await send(outbound, ["type": "auth-failed", "error": "auth failure"])
                }
                continue
            }
            let id = frame["id"] ?? NSNull()
            guard let token = credential.withLockedValue({ $0 }), let identity = await authenticator.authenticate(bearer: token) else {
                try await send(outbound, ["id": id, "error": ["type": "auth-required", "message": "auth failure"], "complete": true])
                continue
            }
            try await send(outbound, await respond(to: frame, id: id, identity: identity))
        }
    }

    /// Routes one request frame. `service: "iam"` runs the IAM operation with the same
    /// authorisation as `POST /api/v1/iam`.
    func respond(to frame: [String: Any], id: Any, identity: Identity) async -> [String: Any] {
        func failure(_ error: APIError) -> [String: Any] {
            ["id": id, "error": ["type": error.type, "message": error.message], "complete": true]
        }
        guard let service = frame["service"] as? String else { return failure(.badRequest("missing field service")) }
        guard service == "iam" else { return failure(.badRequest("unknown service \(service)")) }
        guard let body = frame["request"] as? [String: Any], let data = try? JSONSerialization.data(withJSONObject: body) else {
            return failure(.badRequest("missing field request"))
        }
        let request: IAMRequest
        do {
            request = try StrictJSON.decode(IAMRequest.self, from: data)
        } catch let error as DecodingError {
            return failure(.badRequest(JSONLimits.describe(error)))
        } catch {
            return failure(.badRequest("invalid request"))
        }
        do {
            let response = try await iam.handle(request, identity: identity)
            let object = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(response))) ?? [:]
            return ["id": id, "response": object, "complete": true]
        } catch {
            return failure(ErrorMapping.apiError(error))
        }
    }

    func send(_ outbound: WebSocketOutboundWriter, _ object: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }
}
