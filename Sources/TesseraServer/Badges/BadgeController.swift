import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore
import TesseraStore

/// `/v1/agents…`, `/v1/badges…`, `/v1/status-lists/…` and `/agents/…/did.json`: the agent
/// registry and the badge authority, on CapiscIO's wire (RFC-002 §12, RFC-003 §5). Routes that
/// name an agent take its id (`agt_…`) or its URL-encoded DID.
struct BadgeController {
    let badges: BadgeService
    let authenticator: Authenticator

    typealias AgentBody = RegistryWire.Agent

    typealias RegisterBody = RegistryWire.RegisterAgentRequest
    typealias UpdateBody = RegistryWire.UpdateAgentRequest
    typealias IssueBody = RegistryWire.IssueBadgeRequest
    typealias ChallengeBody = RegistryWire.ChallengeRequest
    typealias LegacyPoPBody = RegistryWire.LegacyPoPRequest
    typealias RevokeBody = RegistryWire.RevokeRequest

    /// Reads the optional `{"reason": …}` body of a revocation or a disable (RFC-002 §7.5), so a
    /// malformed one is a 400 rather than ignored; at most 1024 characters (Unicode scalars, as
    /// JSON Schema's `maxLength` counts them).
    static func checkReason(_ request: inout Request, context: TesseraRequestContext) async throws {
        guard (request.headers[.contentLength].flatMap(Int.init) ?? 0) > 0 else { return }
        let body = try await request.decodeJSON(as: RevokeBody.self, context: context)
        if let reason = body.reason, reason.unicodeScalars.count > 1024 {
            throw APIError.badRequest("invalid field reason: at most 1024 characters")
        }
    }

    func register(on routes: SecuredRouter) throws {
        try routes.on("/v1/agents", method: .post, access: .capability(Capability.agentsWrite), use: registerAgent)
        try routes.on("/v1/agents", method: .get, access: .capability(Capability.agentsRead), use: listAgents)
        try routes.on("/v1/agents/:id", method: .get, access: .capability(Capability.agentsRead), use: getAgent)
        try routes.on("/v1/agents/:id", method: .patch, access: .capability(Capability.agentsWrite), use: updateAgent)
        try routes.on("/v1/agents/:id/disable", method: .post, access: .capability(Capability.agentsWrite), use: disableAgent)
        try routes.on("/v1/agents/:id/status", method: .get, access: .anonymous, use: agentStatus)
        // Anonymous at the router: IAL-1 is authenticated by its proof, IAL-0 by the credential
        // the handler checks (RFC-003 §5.2.1), so both answer in the RFC's error shape.
        try routes.on("/v1/agents/:id/badge", method: .post, access: .anonymous, use: issueBadge)
        try routes.on(
            "/v1/agents/:id/badge/challenge", method: .post, access: .handler("X-Capiscio-Registry-Key, a bearer API key or the agent's badge"),
            use: challenge)
        try routes.on("/v1/agents/:id/badge/pop", method: .post, access: .anonymous, use: legacyPoP)
        try routes.on("/v1/badges/:jti/revoke", method: .post, access: .capability(Capability.badgesRevoke), use: revoke)
        try routes.on("/v1/badges/:jti/status", method: .get, access: .anonymous, use: badgeStatus)
        try routes.on("/v1/badges/status", method: .get, access: .anonymous, use: legacyStatus)
        try routes.on("/v1/status-lists/:list", method: .get, access: .anonymous, use: statusList)
        try routes.on("/agents/:slug/did.json", method: .get, access: .anonymous, use: didDocument)
    }

    @Sendable func registerAgent(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<AgentBody> {
        var request = request
        let body = try await request.decodeJSON(as: RegisterBody.self, context: context)
        let identity = try context.authenticatedIdentity()
        let agent = try await badges.register(
            name: body.name, publicJWK: body.public_jwk, did: body.did, domain: body.domain, workspace: body.workspace ?? identity.workspace,
            by: identity)
        return JSONResponse(AgentBody(agent), status: .created)
    }

    @Sendable func listAgents(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<RegistryWire.AgentList> {
        let agents = try await badges.list(workspace: request.uri.queryParameters.get("workspace"), by: try context.authenticatedIdentity())
        return JSONResponse(RegistryWire.AgentList(agents: agents.map(AgentBody.init)))
    }

    @Sendable func getAgent(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<AgentBody> {
        JSONResponse(AgentBody(try await badges.agent(try Self.agentReference(context), Capability.agentsRead, by: try context.authenticatedIdentity())))
    }

    @Sendable func updateAgent(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<AgentBody> {
        var request = request
        let body = try await request.decodeJSON(as: UpdateBody.self, context: context)
        return JSONResponse(AgentBody(try await badges.update(
            try Self.agentReference(context), name: body.name, domain: body.domain, status: body.status, by: try context.authenticatedIdentity())))
    }

    @Sendable func disableAgent(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<AgentBody> {
        var request = request
        try await Self.checkReason(&request, context: context)
        return JSONResponse(AgentBody(try await badges.update(
            try Self.agentReference(context), name: nil, domain: nil, status: "disabled", by: try context.authenticatedIdentity())))
    }

    struct AgentStatusBody: Encodable {
        var did: String
        var status: String
        var disabledAt: String?
        var reason: String?
    }

    @Sendable func agentStatus(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<AgentStatusBody> {
        let agent = try await badges.agentStatus(try Self.agentReference(context))
        return JSONResponse(AgentStatusBody(did: agent.did, status: agent.status, disabledAt: nil, reason: nil), headers: [.cacheControl: "no-store"])
    }

    /// The issuance response: RFC-002 §12.1's `{badge, jti, expires_at}`, RFC-003 §5.2's
    /// `{success, data:{token, …}}`, and Tessera's earlier `{token, expires_at, ial}` — every
    /// client of any of the three reads its own members.
    struct IssuedBody: Encodable {
        struct Data: Encodable {
            var token: String
            var jti: String
            var subject: String
            var issuer: String
            var trust_level: String
            var issued_at: String
            var expires_at: String
            var assurance_level: String
            var cnf: BadgeClaims.Confirmation?
        }
        var badge: String
        var token: String
        var jti: String
        var expires_at: String
        var ial: String
        var success = true
        var data: Data
        var message: String

        init(_ issued: IssuedBadge) {
            let c = issued.claims
            let expires = WireTime.format(Date(timeIntervalSince1970: TimeInterval(c.exp ?? 0)))
            badge = issued.token
            token = issued.token
            jti = c.jti
            expires_at = expires
            ial = c.ial
            data = Data(
                token: issued.token, jti: c.jti, subject: c.sub, issuer: c.iss ?? "", trust_level: c.level,
                issued_at: WireTime.format(Date(timeIntervalSince1970: TimeInterval(c.iat ?? 0))), expires_at: expires,
                assurance_level: c.ial == "1" ? "IAL-1" : "IAL-0", cnf: c.cnf)
            message = c.ial == "1" ? "Badge issued with proof of possession" : "Badge issued"
        }
    }

    @Sendable func issueBadge(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<IssuedBody> {
        var request = request
        let body = try await request.decodeJSON(as: IssueBody.self, context: context)
        let reference = try Self.agentReference(context)
        // RFC-003 §5.2 migration note: without `mode`, a proof means IAL-1, its absence IAL-0.
        let mode = body.mode ?? (body.challenge_id != nil || body.proof_jws != nil ? "ial1" : "ial0")
        switch mode {
        case "ial1":
            guard let challengeID = body.challenge_id, let proof = body.proof_jws else {
                throw RegistryError.rfc(.invalidProof, "mode ial1 needs challenge_id and proof_jws")
            }
            return JSONResponse(IssuedBody(try await badges.issuePoP(reference, challengeID: challengeID, proof: proof, requester: context.remoteAddress)))
        case "ial0":
            guard case .principal(let identity) = try await caller(request, allowBadge: false) else {
                throw RegistryError.rfc(.unauthorized, "IAL-0 issuance needs X-Capiscio-Registry-Key (or a bearer API key)")
            }
            let issued = try await badges.issueCA(
                reference, lifetime: body.ttl ?? body.badge_ttl ?? body.exp_s, audience: body.badge_aud ?? body.aud, by: identity)
            return JSONResponse(IssuedBody(issued))
        default:
            throw RegistryError.rfc(.invalidMode, "mode must be \"ial0\" or \"ial1\"")
        }
    }

    @Sendable func challenge(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<PoPChallenge> {
        var request = request
        let reference = try Self.agentReference(context)
        // RFC-003 §3.3: anonymous challenges are not allowed.
        guard let caller = try await caller(request, allowBadge: true) else {
            throw RegistryError.rfc(.unauthorized, "a challenge needs X-Capiscio-Registry-Key, a bearer API key, or the agent's badge")
        }
        let body = try await request.decodeJSON(as: ChallengeBody.self, context: context)
        let (_, challenge) = try await badges.challenge(
            reference, badgeAudience: body.badge_aud, badgeTTL: body.badge_ttl, challengeTTL: body.challenge_ttl, by: caller,
            requester: context.remoteAddress)
        return JSONResponse(challenge, headers: [.cacheControl: "no-store"])
    }

    @Sendable func legacyPoP(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<IssuedBody> {
        var request = request
        let body = try await request.decodeJSON(as: LegacyPoPBody.self, context: context)
        return JSONResponse(IssuedBody(try await badges.issuePoP(
            try Self.agentReference(context), challengeID: body.challenge_id, proof: body.proof, requester: context.remoteAddress)))
    }

    struct RevokedBody: Encodable {
        var jti: String
        var revoked: Bool
        var revokedAt: String?
    }

    @Sendable func revoke(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<RevokedBody> {
        var request = request
        guard let jti = context.parameters.get("jti"), !jti.isEmpty, jti.utf8.count <= 128 else { throw APIError.badRequest("missing jti") }
        try await Self.checkReason(&request, context: context)
        let badge = try await badges.revoke(jti: jti, by: try context.authenticatedIdentity())
        return JSONResponse(RevokedBody(jti: jti, revoked: true, revokedAt: badge.revokedAt.map(WireTime.format)))
    }

    struct BadgeStatusBody: Encodable {
        var jti: String
        var sub: String
        var revoked: Bool
        var expires_at: String
        var revokedAt: String?
    }

    @Sendable func badgeStatus(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<BadgeStatusBody> {
        guard let jti = context.parameters.get("jti") else { throw RegistryError.rfc(.badgeNotFound, "badge not found") }
        let (badge, did) = try await badges.badgeStatus(jti: jti)
        return JSONResponse(
            BadgeStatusBody(
                jti: badge.jti, sub: did, revoked: badge.revokedAt != nil, expires_at: WireTime.format(badge.expiresAt),
                revokedAt: badge.revokedAt.map(WireTime.format)),
            headers: [.cacheControl: "no-store"])
    }

    /// The status list token (draft §8.2): `application/statuslist+jwt`, cacheable for its `ttl`.
    @Sendable func statusList(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        guard let text = context.parameters.get("list"), text.count <= 18, let n = Int64(text), n >= 0,
            let token = try await badges.statusLists.token(list: n)
        else { throw APIError.notFound("status list not found") }
        var headers = HTTPFields()
        headers[.contentType] = StatusListClaims.mediaType
        headers[.cacheControl] = "public, max-age=\(badges.statusLists.ttl)"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: token)))
    }

    struct LegacyStatusBody: Encodable {
        var token: String
        var ttl: Int
        var uri: String
    }

    /// `GET /v1/badges/status`, the route earlier verifiers read: now list 0 of the IETF lists.
    @Sendable func legacyStatus(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<LegacyStatusBody> {
        guard let token = try await badges.statusLists.token(list: 0) else { throw APIError.notFound("no status list yet") }
        return JSONResponse(
            LegacyStatusBody(token: token, ttl: badges.statusLists.ttl, uri: badges.statusLists.uri(list: 0)),
            headers: [.cacheControl: "public, max-age=\(badges.statusLists.ttl)"])
    }

    @Sendable func didDocument(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        guard let slug = context.parameters.get("slug"), !slug.isEmpty, slug.utf8.count <= 128 else { throw APIError.notFound() }
        let document = try await badges.didDocument(slug: slug)
        var headers = HTTPFields()
        headers[.contentType] = "application/did+json"
        headers[.cacheControl] = "public, max-age=300"
        let data = try CompactJWS.encoder.encode(document)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// RFC-003 §3.1 / §5.1 caller: `X-Capiscio-Registry-Key` (or Tessera's `Authorization: Bearer`
    /// API key or login token) as a principal, or — where allowed — the agent's own badge in
    /// `X-Capiscio-Badge` or `Authorization: Bearer`. A credential that is present but invalid is
    /// a 401, never silently ignored.
    func caller(_ request: Request, allowBadge: Bool) async throws -> RegistryCaller? {
        let unauthorized = RegistryError.rfc(.unauthorized, "missing or invalid authorization")
        if let key = request.headers[Authenticator.registryKeyHeader] {
            guard let identity = await authenticator.authenticate(bearer: key) else { throw unauthorized }
            return .principal(identity)
        }
        let explicitBadge = request.headers[HTTPField.Name("X-Capiscio-Badge")!]
        let bearer = Authenticator.bearer(request.headers[.authorization])
        if explicitBadge != nil, bearer != nil { throw unauthorized }
        if let bearer {
            if let identity = await authenticator.authenticate(bearer: bearer) { return .principal(identity) }
            guard allowBadge, let claims = await badges.authenticateBadge(bearer) else { throw unauthorized }
            return .badge(claims)
        }
        if let explicitBadge {
            guard allowBadge, let claims = await badges.authenticateBadge(explicitBadge) else { throw unauthorized }
            return .badge(claims)
        }
        return nil
    }

    /// The `:id` route parameter: an agent id or a DID (percent-decoded; `did%3Akey%3A…`).
    static func agentReference(_ context: TesseraRequestContext) throws -> String {
        guard var id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 1024 else {
            throw RegistryError.rfc(.invalidDID, "missing agent id or DID")
        }
        // Encoded (`did%3Aweb%3A…`, RFC-002 §6.3) is decoded once; a DID sent with its colons as
        // they are is taken as it is (a did:web's own `%3A` port separator must survive).
        if id.contains("%"), !id.hasPrefix("did:") {
            guard let decoded = id.removingPercentEncoding else { throw RegistryError.rfc(.invalidDID, "DID is not valid percent-encoding") }
            id = decoded
        }
        return id
    }
}

extension RegistryWire.Agent {
    /// The wire form of a stored agent.
    init(_ agent: AgentRecord) {
        self.init(
            id: agent.id, workspace: agent.workspace, name: agent.name, did: agent.did, public_jwk: agent.publicJWK, domain: agent.domain,
            status: agent.status, created: WireTime.format(agent.created))
    }
}
