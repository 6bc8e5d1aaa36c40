import Foundation
import Hummingbird
import TesseraCore
import TesseraStore

/// `/v1/agents…` and `/v1/badges…`: the agent registry and the badge authority.
struct BadgeController {
    let badges: BadgeService

    struct AgentBody: Encodable {
        var id: String
        var workspace: String
        var name: String
        var did: String
        var public_jwk: JWK
        var domain: String
        var status: String
        var created: String

        init(_ agent: AgentRecord) {
            self.init(
                id: agent.id, workspace: agent.workspace, name: agent.name, did: agent.did, public_jwk: agent.publicJWK,
                domain: agent.domain, status: agent.status, created: WireTime.format(agent.created))
        }

        init(id: String, workspace: String, name: String, did: String, public_jwk: JWK, domain: String, status: String, created: String) {
            self.id = id
            self.workspace = workspace
            self.name = name
            self.did = did
            self.public_jwk = public_jwk
            self.domain = domain
            self.status = status
            self.created = created
        }
    }

    struct RegisterBody: Decodable {
        var name: String
        var public_jwk: JWK
        var did: String?
        var domain: String?
        var workspace: String?
    }

    struct UpdateBody: Decodable {
        var name: String?
        var domain: String?
        var status: String?
    }

    struct IssueBody: Decodable {
        var exp_s: Int?
        var aud: [String]?
    }

    struct PoPBody: Decodable {
        var challenge_id: String
        var proof: String
        var exp_s: Int?
        var aud: [String]?
    }

    struct BadgeBody: Encodable {
        var token: String
        var expires_at: String
        var ial: String
    }

    func register(on routes: SecuredRouter) throws {
        try routes.on("/v1/agents", method: .post, access: .capability(Capability.agentsWrite)) { request, context in
            var request = request
            let body = try await request.decodeJSON(as: RegisterBody.self, context: context)
            let identity = try context.authenticatedIdentity()
            let agent = try await badges.register(
                name: body.name, publicJWK: body.public_jwk, did: body.did, domain: body.domain,
                workspace: body.workspace ?? identity.workspace, by: identity)
            return JSONResponse(AgentBody(agent), status: .created)
        }

        try routes.on("/v1/agents", method: .get, access: .capability(Capability.agentsRead)) { request, context in
            let agents = try await badges.list(workspace: request.uri.queryParameters.get("workspace"), by: try context.authenticatedIdentity())
            return JSONResponse(["agents": agents.map(AgentBody.init)])
        }

        try routes.on("/v1/agents/:id", method: .get, access: .capability(Capability.agentsRead)) { _, context in
            JSONResponse(AgentBody(try await badges.agent(try Self.id(context), Capability.agentsRead, by: try context.authenticatedIdentity())))
        }

        try routes.on("/v1/agents/:id", method: .patch, access: .capability(Capability.agentsWrite)) { request, context in
            var request = request
            let body = try await request.decodeJSON(as: UpdateBody.self, context: context)
            return JSONResponse(AgentBody(try await badges.update(
                try Self.id(context), name: body.name, domain: body.domain, status: body.status, by: try context.authenticatedIdentity())))
        }

        try routes.on("/v1/agents/:id/disable", method: .post, access: .capability(Capability.agentsWrite)) { _, context in
            JSONResponse(AgentBody(try await badges.update(try Self.id(context), name: nil, domain: nil, status: "disabled", by: try context.authenticatedIdentity())))
        }

        try routes.on("/v1/agents/:id/badge", method: .post, access: .capability(Capability.badgesIssue)) { request, context in
            var request = request
            let body = try await request.decodeJSON(as: IssueBody.self, context: context)
            let (token, expires) = try await badges.issueCA(
                agentID: try Self.id(context), lifetime: body.exp_s, audience: body.aud, by: try context.authenticatedIdentity())
            return JSONResponse(BadgeBody(token: token, expires_at: WireTime.format(expires), ial: "0"))
        }

        // The agent's own key is the credential for PoP issuance.
        try routes.on("/v1/agents/:id/badge/challenge", method: .post, access: .anonymous) { _, context in
            let challenge = try await badges.challenge(agentID: try Self.id(context), requester: context.remoteAddress)
            return JSONResponse([
                "challenge_id": challenge.id, "nonce": challenge.nonce, "expires_at": WireTime.format(challenge.expiresAt),
            ])
        }

        try routes.on("/v1/agents/:id/badge/pop", method: .post, access: .anonymous) { request, context in
            var request = request
            let body = try await request.decodeJSON(as: PoPBody.self, context: context)
            let (token, expires) = try await badges.issuePoP(
                agentID: try Self.id(context), challengeID: body.challenge_id, proof: body.proof, lifetime: body.exp_s, audience: body.aud)
            return JSONResponse(BadgeBody(token: token, expires_at: WireTime.format(expires), ial: "1"))
        }

        try routes.on("/v1/badges/:jti/revoke", method: .post, access: .capability(Capability.badgesRevoke)) { _, context in
            guard let jti = context.parameters.get("jti") else { throw APIError.badRequest("missing jti") }
            try await badges.revoke(jti: jti, by: try context.authenticatedIdentity())
            return JSONResponse(["revoked": true])
        }

        try routes.on("/v1/badges/status", method: .get, access: .anonymous) { _, _ in
            let (token, ttl) = try await badges.status()
            return JSONResponse(StatusBody(token: token, ttl: ttl), headers: [.cacheControl: "public, max-age=\(ttl)"])
        }
    }

    struct StatusBody: Encodable {
        var token: String
        var ttl: Int
    }

    static func id(_ context: TesseraRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 128 else { throw APIError.badRequest("missing agent id") }
        return id
    }
}
