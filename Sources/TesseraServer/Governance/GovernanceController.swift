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
        switch body["format"] {
        case nil, .null?, .string("passport")?:
            if body["holder_key"] != nil { throw GovernanceError.invalid("holder_key is for format aat") }
        case .string("aat")?:
            for field in ["cnf_jkt", "audience"] where body[field] != nil {
                throw GovernanceError.invalid("\(field) cannot be expressed in an AAT: bind it with holder_key")
            }
            if case .object(let members)? = body["holder_key"],
                let stray = members.keys.sorted().first(where: { !["kty", "crv", "x", "y", "kid", "alg", "use"].contains($0) }) {
                throw GovernanceError.invalid("holder_key.\(stray) is not a public JWK member this server reads")
            }
            guard let holder = body["holder_key"], let jwk = try? StrictJSON.decode(JWK.self, from: Array(CanonicalJSON.serialize(holder).utf8)) else {
                throw GovernanceError.invalid("holder_key must be the holder's public JWK (format aat is always key-bound)")
            }
            let issue = try Self.issueRequest(body)
            let (token, claims) = try await governance.issueAAT(
                mission: issue.mission, ttl: issue.ttl, holder: jwk, by: try context.authenticatedIdentity())
            return try JSONResponse(AATIssueResponse(token: token, claims: claims)).response(from: request, context: context)
        default:
            throw GovernanceError.invalid("format must be passport or aat")
        }
        let issue = try Self.issueRequest(body)
        let (token, claims) = try await governance.issue(issue, by: try context.authenticatedIdentity())
        return try JSONResponse(IssueResult(token: token, claims: claims)).response(from: request, context: context)
    }

    @Sendable func verify(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<VerifyResult> {
        let body = try await Self.object(request, context)
        let claims = try await governance.verify(try Self.token(body, "token"))
        return JSONResponse(VerifyResult(valid: true, claims: claims))
    }

    /// `/session/start` and `/sessions`: a passport session, or an AAT one by `token_type`.
    @Sendable func startSession(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let body = try await Self.object(request, context)
        if let type = body["token_type"], type != .null {
            guard case .string(let name) = type else { throw GovernanceError.invalid("token_type must be a string") }
            switch name {
            case "aat": return try JSONResponse(try await startAAT(body)).response(from: request, context: context)
            case "passport": break
            default: throw GovernanceError.invalid("unsupported token_type: \(name) (expected passport or aat)")
            }
        }
        let proof: String? = if case .string(let p)? = body["proof"] { p } else { nil }
        let session = try await governance.start(token: try Self.token(body, "token"), proof: proof)
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
        return JSONResponse(try await governance.end(
            sessionID: try Self.string(body, "session_id"), proof: try Self.optionalString(body, "pop", maximum: AATProof.maximumBytes)))
    }

    /// `/end`: the session named by `session`.
    @Sendable func end(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.EndResult> {
        let body = try await Self.object(request, context)
        return JSONResponse(try await governance.end(
            sessionID: try Self.string(body, "session"), proof: try Self.optionalString(body, "pop", maximum: AATProof.maximumBytes)))
    }

    @Sendable func attest(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<GovernanceService.EndResult> {
        let body = try await Self.object(request, context)
        return JSONResponse(try await governance.attestation(
            sessionID: try Self.string(body, "session"), proof: try Self.optionalString(body, "pop", maximum: AATProof.maximumBytes)))
    }

    @Sendable func revoke(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<[String: Bool]> {
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

    /// `/session/start` with `token_type` `aat` (see ``GovernanceService/startAAT(_:)``).
    func startAAT(_ body: [String: JSONValue]) async throws -> AATStartResponse {
        // Ardur's edge bound, before any verification.
        if case .string(let kb)? = body["kb_jwt"], kb.utf8.count > GovernanceService.maximumKeyBindingBytes {
            throw GovernanceError.invalid("kb_jwt exceeds MAX_KB_JWT_BYTES=\(GovernanceService.maximumKeyBindingBytes); well-formed key-binding JWTs are small")
        }
        if body["kb_jwt"] != nil {
            throw GovernanceError.invalid("kb_jwt is not accepted: prove possession with pop, a draft-01 PoP JWT (aat_tool \(GovernanceService.sessionStartTool))")
        }
        let token = try Self.token(body, "token")
        var chain: [String] = []
        switch body["chain"] {
        case nil, .null?: break
        case .array(let items)?:
            guard items.count <= AATVerifier.maximumDelegationDepth else { throw GovernanceError.invalid("chain has more than \(AATVerifier.maximumDelegationDepth) tokens") }
            for item in items {
                guard case .string(let t) = item, !t.isEmpty else { throw GovernanceError.invalid("chain must be an array of compact JWTs, root first") }
                chain.append(t)
            }
        default: throw GovernanceError.invalid("chain must be an array of compact JWTs, root first")
        }
        var requirePop: Bool?
        switch body["require_pop"] {
        case nil, .null?: break
        case .bool(let b)?: requirePop = b
        default: throw GovernanceError.invalid("require_pop must be a boolean when token_type=aat")
        }
        let proof = try Self.optionalString(body, "pop", maximum: AATProof.maximumBytes)
        let session = try await governance.startAAT(.init(token: token, chain: chain, requirePop: requirePop, proof: proof))
        return AATStartResponse(session: session, startedAt: WireTime.format(session.startedAt))
    }

    /// Runs a read of the wire types' field rules, answering a field error as governance's 400.
    static func read<T>(_ body: () throws(WireFieldError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw GovernanceError.invalid(error.message)
        }
    }

    static func optionalString(_ body: [String: JSONValue], _ name: String, maximum: Int) throws -> String? {
        try read { () throws(WireFieldError) in try WireFields.optionalJWS(body, name, maximum: maximum) }
    }

    static func string(_ body: [String: JSONValue], _ name: String) throws -> String {
        try read { () throws(WireFieldError) in try WireFields.string(body, name) }
    }

    /// A token field: anything that is not a string is a malformed token (401), like the seed.
    static func token(_ body: [String: JSONValue], _ name: String) throws -> String {
        guard case .string(let value)? = body[name], !value.isEmpty else { throw GovernanceError.invalidToken }
        return value
    }

    static func integer(_ body: [String: JSONValue], _ name: String, range: ClosedRange<Int>) throws -> Int? {
        try read { () throws(WireFieldError) in try WireFields.integer(body, name, range: range) }
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
