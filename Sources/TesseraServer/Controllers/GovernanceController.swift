import Foundation
import Hummingbird
import TesseraCore
import TesseraStore

/// The governance routes (seed 004's paths and bodies). Errors are in the flat shape.
struct GovernanceController {
    let governance: GovernanceService
    let store: any TesseraStore

    func register(on routes: SecuredRouter) throws {
        try routes.on("/issue", method: .post, access: .capability(Capability.passportsIssue)) { request, context in
            let body = try await Self.object(request, context)
            let issue = try Self.issueRequest(body)
            let (token, claims) = try await governance.issue(issue, by: try context.authenticatedIdentity())
            return JSONResponse(IssueResult(token: token, claims: claims))
        }

        try routes.on("/verify", method: .post, access: .anonymous) { request, context in
            let body = try await Self.object(request, context)
            let claims = try await governance.verify(try Self.token(body, "token"))
            return JSONResponse(VerifyResult(valid: true, claims: claims))
        }

        for path in ["/session/start", "/sessions"] {
            try routes.on(path, method: .post, access: .anonymous) { request, context in
                let body = try await Self.object(request, context)
                let proof: String? = if case .string(let p)? = body["proof"] { p } else { nil }
                let session = try await governance.start(token: try Self.token(body, "token"), proof: proof)
                return JSONResponse(StartResult(
                    session_id: session.id, claims: session.passport, started_at: WireTime.format(session.startedAt),
                    calls_remaining: session.callsRemaining))
            }
        }

        try routes.on("/evaluate", method: .post, access: .anonymous) { request, context in
            let body = try await Self.object(request, context)
            let sessionID = try Self.string(body, "session_id")
            let tool = try Self.string(body, "tool_name")
            var arguments: [String: JSONValue] = [:]
            if let value = body["arguments"], value != .null {
                guard case .object(let object) = value else {
                    throw GovernanceError.invalid("arguments must be a JSON object")
                }
                arguments = object
            }
            var requestID: String?
            if let value = body["request_id"], value != .null {
                guard case .string(let id) = value, (1...256).contains(id.utf8.count) else {
                    throw GovernanceError.invalid("request_id must be a string of 1-256 bytes")
                }
                requestID = id
            }
            return JSONResponse(try await governance.evaluate(sessionID: sessionID, tool: tool, arguments: arguments, requestID: requestID))
        }

        try routes.on("/delegate", method: .post, access: .anonymous) { request, context in
            let body = try await Self.object(request, context)
            let delegation: DelegationRequest
            do {
                delegation = try DelegationRequest.parse(body)
            } catch {
                if case .string(let token)? = body["parent_token"], token.split(separator: ".").count != 3 {
                    throw GovernanceError.invalidToken
                }
                throw GovernanceError.invalid(String(describing: error))
            }
            return JSONResponse(try await governance.delegate(delegation))
        }

        try routes.on("/session/end", method: .post, access: .anonymous) { request, context in
            let body = try await Self.object(request, context)
            return JSONResponse(try await governance.end(sessionID: try Self.string(body, "session_id")))
        }

        try routes.on("/end", method: .post, access: .anonymous) { request, context in
            let body = try await Self.object(request, context)
            return JSONResponse(try await governance.end(sessionID: try Self.string(body, "session")))
        }

        try routes.on("/attest", method: .post, access: .anonymous) { request, context in
            let body = try await Self.object(request, context)
            return JSONResponse(try await governance.attestation(sessionID: try Self.string(body, "session")))
        }

        try routes.on("/revoke", method: .post, access: .capability(Capability.passportsRevoke)) { request, context in
            let body = try await Self.object(request, context)
            let identity = try context.authenticatedIdentity()
            for name in ["session_id", "jti"] {
                switch body[name] {
                case nil, .null?, .string?: continue
                default: throw GovernanceError.invalid("\(name) must be a string")
                }
            }
            if case .string(let sessionID)? = body["session_id"], !sessionID.isEmpty {
                try await governance.revoke(sessionID: sessionID, by: identity)
            } else if case .string(let jti)? = body["jti"], !jti.isEmpty {
                try await governance.revoke(jti: jti, by: identity)
            } else {
                throw GovernanceError.invalid("session_id or jti is required")
            }
            return JSONResponse(["revoked": true])
        }

        try routes.on("/approvals", method: .get, access: .capability(Capability.approvalsGrant)) { _, context in
            JSONResponse(try await governance.pendingApprovals(for: try context.authenticatedIdentity()))
        }

        for (action, grant) in [("grant", true), ("deny", false)] {
            try routes.on("/approvals/:id/\(action)", method: .post, access: .capability(Capability.approvalsGrant)) { _, context in
                guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 128 else {
                    throw GovernanceError.invalid("approval id is required")
                }
                return JSONResponse(try await governance.decideApproval(id: id, grant: grant, by: try context.authenticatedIdentity()))
            }
        }

        try routes.on("/receipts", method: .get, access: .capability(Capability.receiptsRead)) { request, context in
            let identity = try context.authenticatedIdentity()
            var sessionID: String? = request.uri.queryParameters.get("session_id").map { String($0) }
            // By passport: what a gateway's operator knows (the session id is the agent's secret).
            if sessionID == nil, let jti = request.uri.queryParameters.get("jti"), !jti.isEmpty {
                sessionID = try await governance.sessionID(forPassport: String(jti), by: identity)
            }
            guard let sessionID, !sessionID.isEmpty else {
                throw GovernanceError.invalid("session_id (or jti) query parameter is required")
            }
            let lines = try await governance.receiptLines(sessionID: sessionID, by: identity)
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: lines)))
        }
    }

    typealias IssueResult = GovernanceWire.IssueResponse
    typealias VerifyResult = GovernanceWire.VerifyResponse
    typealias StartResult = GovernanceWire.StartResponse

    static func object(_ request: Request, _ context: TesseraRequestContext) async throws -> [String: JSONValue] {
        var request = request
        return try await request.decodeJSONObject(context: context)
    }

    /// `/issue`'s body: the mission (strict, every error naming its field), `ttl_s`, `cnf_jkt`.
    static func issueRequest(_ body: [String: JSONValue]) throws -> GovernanceService.IssueRequest {
        guard case .object(let missionObject)? = body["mission"] else {
            throw GovernanceError.invalid("mission must be a JSON object")
        }
        let mission: Mission
        do {
            mission = try Mission.parse(missionObject)
        } catch {
            throw GovernanceError.invalid(String(describing: error))
        }
        let ttl = try integer(body, "ttl_s", range: 1...GovernanceService.maxTTL) ?? GovernanceService.defaultTTL
        var jkt: String?
        if let value = body["cnf_jkt"] {
            guard case .string(let thumbprint) = value, thumbprint == "agent" || Base64URL.decode(thumbprint)?.count == 32 else {
                throw GovernanceError.invalid("cnf_jkt must be an RFC 7638 SHA-256 thumbprint or \"agent\"")
            }
            jkt = thumbprint
        }
        var audience: [String]?
        switch body["audience"] {
        case nil, .null?: break
        case .string(let one)?: audience = [one]
        case .array(let many)?:
            audience = []
            for case .string(let one) in many { audience?.append(one) }
            guard audience?.count == many.count, !many.isEmpty, many.count <= 16 else {
                throw GovernanceError.invalid("audience must be a URI or an array of 1-16 URIs")
            }
        default: throw GovernanceError.invalid("audience must be a URI or an array of 1-16 URIs")
        }
        for uri in audience ?? [] where uri.isEmpty || uri.utf8.count > 2048 || !uri.contains("://") {
            throw GovernanceError.invalid("audience entries must be absolute URIs (RFC 8707)")
        }
        return GovernanceService.IssueRequest(mission: mission, ttl: ttl, jkt: jkt, audience: audience)
    }

    static func string(_ body: [String: JSONValue], _ name: String) throws -> String {
        guard case .string(let value)? = body[name], !value.isEmpty, value.utf8.count <= 16 * 1024 else {
            throw GovernanceError.invalid("\(name) must be a non-empty string")
        }
        return value
    }

    /// A token field: anything that is not a string is a malformed token (401), like the seed.
    static func token(_ body: [String: JSONValue], _ name: String) throws -> String {
        guard case .string(let value)? = body[name], !value.isEmpty else { throw GovernanceError.invalidToken }
        return value
    }

    static func integer(_ body: [String: JSONValue], _ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let value = body[name], value != .null else { return nil }
        guard case .number(let n) = value, let integer = n.int, range.contains(integer) else {
            throw GovernanceError.invalid("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }
}

/// Encodes any `Encodable` as a JSON response with sorted keys.
struct JSONResponse<Value: Encodable>: ResponseGenerator {
    let value: Value
    let status: HTTPResponse.Status
    let headers: HTTPFields

    init(_ value: Value, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) {
        self.value = value
        self.status = status
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try CompactJWS.encoder.encode(value))))
    }
}
