import Foundation
import HummingbirdWebSocket
import Logging
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
        let credential = SharedMutex<String?>(nil)
        let watchdog = Task {
            try await Task.sleep(for: Self.authTimeout)
            if credential.withLock({ $0 }) == nil {
                try await outbound.close(.policyViolation, reason: "auth timeout")
            }
        }
        defer { watchdog.cancel() }
        for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
            guard case .text(let text) = message else {
                try await send(outbound, Reply(error: .typed("invalid-argument", "text frames only"), complete: true))
                continue
            }
            // Parsed once, by the strict parser (duplicate names, depth).
            guard case .object(let frame)? = try? StrictJSON.parse(Array(text.utf8), maximumDepth: JSONLimits.maxDepth) else {
                try await send(outbound, Reply(error: .typed("invalid-argument", "frame is not a JSON object"), complete: true))
                continue
            }
            if frame["type"] == .string("auth") {
                if case .string(let token)? = frame["token"], let identity = await authenticator.authenticate(bearer: token) {
                    credential.withLock { $0 = token }
                    try await send(outbound, Reply(type: "auth-ok", workspace: identity.workspace, default_workspace: identity.defaultWorkspace))
                } else {
                    credential.withLock { $0 = nil }
                    try await send(outbound, Reply(type: "auth-failed", error: .text("auth failure")))
                }
                continue
            }
            let id = frame["id"] ?? .null
            guard let token = credential.withLock({ $0 }), let identity = await authenticator.authenticate(bearer: token) else {
                try await send(outbound, Reply(id: id, error: .typed("auth-required", "auth failure"), complete: true))
                continue
            }
            try await send(outbound, await respond(to: frame, id: id, identity: identity))
        }
    }

    /// One frame the socket writes: a typed value, encoded with sorted members.
    struct Reply: Encodable {
        enum Failure: Encodable {
            /// `{"type":…,"message":…}`
            case typed(String, String)
            /// `"auth failure"` (the `auth-failed` answer's shape)
            case text(String)

            func encode(to encoder: any Encoder) throws {
                switch self {
                case .typed(let type, let message): try JSONValue.object(["type": .string(type), "message": .string(message)]).encode(to: encoder)
                case .text(let text): try text.encode(to: encoder)
                }
            }
        }

        var id: JSONValue?
        var type: String?
        var workspace: String?
        var default_workspace: String?
        var response: IAMResponse?
        var error: Failure?
        var complete: Bool?
    }

    /// Routes one request frame. `service: "iam"` runs the IAM operation with the same
    /// authorisation as `POST /api/v1/iam`.
    func respond(to frame: [String: JSONValue], id: JSONValue, identity: Identity) async -> Reply {
        func failure(_ error: APIError) -> Reply { Reply(id: id, error: .typed(error.type, error.message), complete: true) }
        guard case .string(let service)? = frame["service"] else { return failure(.badRequest("missing field service")) }
        guard service == "iam" else { return failure(.badRequest("unknown service \(service)")) }
        guard case .object(let body)? = frame["request"] else { return failure(.badRequest("missing field request")) }
        let request: IAMRequest
        do {
            // Decoded from Tessera's own serialisation of the member the strict parser produced.
            request = try StrictJSON.decode(IAMRequest.self, from: Array(CanonicalJSON.serialize(.object(body)).utf8))
        } catch let error as DecodingError {
            return failure(.badRequest(JSONLimits.describe(error)))
        } catch {
            return failure(.badRequest("invalid request"))
        }
        do {
            return Reply(id: id, response: try await iam.handle(request, identity: identity), complete: true)
        } catch {
            return failure(ErrorMapping.apiError(error))
        }
    }

    func send(_ outbound: WebSocketOutboundWriter, _ reply: Reply) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try await outbound.write(.text(String(decoding: try encoder.encode(reply), as: UTF8.self)))
    }
}
