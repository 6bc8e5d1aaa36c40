import Foundation
import Hummingbird
import TesseraCore
import TesseraStore

/// The governance routes (seed 004's paths and bodies). Errors are in the flat shape.
struct GovernanceController {
    let governance: GovernanceService
    let store: any TesseraStore

    func register(on routes: SecuredRouter) throws {
        try routes.on("/issue", method: .post, access: .capability(Capability.passportsIssue), use: issue)
        try routes.on("/verify", method: .post, access: .anonymous, use: verify)
        for path in ["/session/start", "/sessions"] {
            try routes.on(path, method: .post, access: .anonymous, use: startSession)
        }
        try routes.on("/evaluate", method: .post, access: .anonymous, use: evaluate)
        try routes.on("/delegate", method: .post, access: .anonymous, use: delegate)
        try routes.on("/session/end", method: .post, access: .anonymous, use: endSession)
        try routes.on("/end", method: .post, access: .anonymous, use: end)
        try routes.on("/attest", method: .post, access: .anonymous, use: attest)
        try routes.on("/revoke", method: .post, access: .capability(Capability.passportsRevoke), use: revoke)
        try routes.on("/approvals", method: .get, access: .capability(Capability.approvalsGrant), use: pendingApprovals)
        for (action, grant) in [("grant", true), ("deny", false)] {
            try routes.on("/approvals/:id/\(action)", method: .post, access: .capability(Capability.approvalsGrant)) { request, context in
                try await decideApproval(request, context: context, grant: grant)
            }
        }
        try routes.on("/receipts", method: .get, access: .capability(Capability.receiptsRead), use: receipts)
    }

    /// `/issue`: a passport, or with `format` `aat` an AAT bound to `holder_key`.
    @Sendable func issue(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let body = try await Self.object(request, context)
        let (wire, mission) = try Self.read { () throws(WireFieldError) in
            try GovernanceWire.IssueRequest.read(strict: body, maximumTTL: GovernanceService.maxTTL)
        }
        let ttl = wire.ttl_s ?? GovernanceService.defaultTTL
        let identity = try context.authenticatedIdentity()
        if let holder = wire.holder_key {
            let (token, claims) = try await governance.issueAAT(mission: mission, ttl: ttl, holder: holder, by: identity)
            return try JSONResponse(AATIssueResponse(token: token, claims: claims)).response(from: request, context: context)
        }
        let (token, claims) = try await governance.issue(
            GovernanceService.IssueRequest(mission: mission, ttl: ttl, jkt: wire.cnf_jkt, audience: wire.audience), by: identity)
        return try JSONResponse(IssueResult(token: token, claims: claims)).response(from: request, context: context)
    }

    @Sendable func verify(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<VerifyResult> {
        let body = try await Self.object(request, context)
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.VerifyRequest(strict: body) }
        return JSONResponse(VerifyResult(valid: true, claims: try await governance.verify(wire.token)))
    }

    /// `/session/start` and `/sessions`: a passport session, or an AAT one by `token_type`.
    @Sendable func startSession(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let body = try await Self.object(request, context)
        if case .string("aat")? = body["token_type"] { return try JSONResponse(try await startAAT(body)).response(from: request, context: context) }
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.StartRequest(strict: body) }
        let session = try await governance.start(token: wire.token, proof: wire.proof)
        return try JSONResponse(StartResult(
            session_id: session.id, claims: session.passport, started_at: WireTime.format(session.startedAt),
            calls_remaining: session.callsRemaining)).response(from: request, context: context)
    }

    @Sendable func evaluate(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.EvaluationResult> {
        let body = try await Self.object(request, context)
        let call = try Self.read { () throws(WireFieldError) in try GovernanceWire.EvaluateRequest(strict: body) }
        return JSONResponse(try await governance.evaluate(
            sessionID: call.session_id, tool: call.tool_name, arguments: call.arguments, requestID: call.request_id, proof: call.pop))
    }

    @Sendable func delegate(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.DelegationResult> {
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
        // An AAT session's holder signs the request it makes: `hta` is the body without the
        // token and the proof themselves.
        let pop = try Self.optionalString(body, "pop", maximum: AATProof.maximumBytes)
        var signed = body
        signed["parent_token"] = nil
        signed["pop"] = nil
        return JSONResponse(try await governance.delegate(delegation, aatProof: pop, aatProofArguments: signed))
    }

    /// `/session/end`: the session named by `session_id`.
    @Sendable func endSession(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.EndResult> {
        let body = try await Self.object(request, context)
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.EndRequest(strict: body) }
        return JSONResponse(try await governance.end(sessionID: wire.session_id, proof: wire.pop))
    }

    /// `/end`: the session named by `session`.
    @Sendable func end(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.EndResult> {
        let body = try await Self.object(request, context)
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.SessionRequest(strict: body) }
        return JSONResponse(try await governance.end(sessionID: wire.session, proof: wire.pop))
    }

    @Sendable func attest(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.EndResult> {
        let body = try await Self.object(request, context)
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.SessionRequest(strict: body) }
        return JSONResponse(try await governance.attestation(sessionID: wire.session, proof: wire.pop))
    }

    @Sendable func revoke(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<[String: Bool]> {
        let body = try await Self.object(request, context)
        let identity = try context.authenticatedIdentity()
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.RevokeRequest(strict: body) }
        if let sessionID = wire.session_id {
            try await governance.revoke(sessionID: sessionID, by: identity)
        } else if let jti = wire.jti {
            try await governance.revoke(jti: jti, by: identity)
        }
        return JSONResponse(["revoked": true])
    }

    @Sendable func pendingApprovals(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.ApprovalList> {
        JSONResponse(try await governance.pendingApprovals(for: try context.authenticatedIdentity()))
    }

    /// `/approvals/:id/grant` (`grant` true) and `/approvals/:id/deny` (false).
    func decideApproval(_ request: Request, context: TesseraRequestContext, grant: Bool) async throws -> JSONResponse<GovernanceService.ApprovalView> {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 128 else {
            throw GovernanceError.invalid("approval id is required")
        }
        return JSONResponse(try await governance.decideApproval(id: id, grant: grant, by: try context.authenticatedIdentity()))
    }

    /// `/receipts`: a session's receipts as NDJSON, by `session_id` or by passport `jti`.
    @Sendable func receipts(_ request: Request, context: TesseraRequestContext) async throws -> Response {
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

    typealias IssueResult = GovernanceWire.IssueResponse
    typealias VerifyResult = GovernanceWire.VerifyResponse
    typealias StartResult = GovernanceWire.StartResponse

    static func object(_ request: Request, _ context: TesseraRequestContext) async throws -> [String: JSONValue] {
        var request = request
        return try await request.decodeJSONObject(context: context)
    }

    /// `/session/start` with `token_type` `aat` (see ``GovernanceService/startAAT(_:)``).
    func startAAT(_ body: [String: JSONValue]) async throws -> AATStartResponse {
        let wire = try Self.read { () throws(WireFieldError) in try GovernanceWire.AATStartRequest(strict: body) }
        let session = try await governance.startAAT(.init(token: wire.token, chain: wire.chain ?? [], requirePop: wire.require_pop, proof: wire.pop))
        return AATStartResponse(session: session, startedAt: WireTime.format(session.startedAt))
    }

    /// Runs a read of the wire types' field rules, answering a field error as governance's 400.
    static func read<T>(_ body: () throws(WireFieldError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            switch error.kind {
            case .invalid: throw GovernanceError.invalid(error.message)
            case .malformedToken: throw GovernanceError.invalidToken
            }
        }
    }

    static func optionalString(_ body: [String: JSONValue], _ name: String, maximum: Int) throws -> String? {
        try read { () throws(WireFieldError) in try WireFields.optionalJWS(body, name, maximum: maximum) }
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
