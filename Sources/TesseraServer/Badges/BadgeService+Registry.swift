import Foundation
import TesseraCore
import TesseraStore

/// The agent registry: registration, the agents a route's reference names, listing, update
/// (and disabling), and an agent's public status.
extension BadgeService {
    /// Registers an agent. Its DID is the key's `did:key`, or — if asked for — a `did:web` this
    /// registry hosts (`did:web:<registry host>:agents:<slug>`, document at
    /// `/agents/<slug>/did.json`).
    public func register(name: String, publicJWK: JWK, did: String?, domain: String?, workspace: String, by identity: Identity) async throws -> AgentRecord {
        guard identity.may(Capability.agentsWrite, in: workspace) else { throw RegistryError.accessDenied }
        guard (1...128).contains(name.count) else { throw RegistryError.invalid("invalid field name: 1-128 characters") }
        guard publicJWK.d == nil, publicJWK.k == nil else { throw RegistryError.invalid("invalid field public_jwk: a private key was sent") }
        let key: Ed25519PublicKey
        do {
            key = try Ed25519PublicKey(jwk: publicJWK)
        } catch {
            throw RegistryError.invalid("invalid field public_jwk: \(error)")
        }
        if let kid = publicJWK.kid, kid != key.thumbprint { throw RegistryError.invalid("invalid field public_jwk.kid: not the key's RFC 7638 thumbprint") }
        var agentDID = key.did
        if let did, did != key.did {
            guard let web = DIDWeb(did), web.path.count == 2, web.path[0] == "agents", DIDWeb.agentDID(registryOrigin: origin.current, slug: web.path[1]) == did
            else {
                throw RegistryError.invalid(
                    "invalid field did: the key's did:key, or did:web for this registry (\(DIDWeb.agentDID(registryOrigin: origin.current, slug: "<name>") ?? "did:web:<host>:agents:<name>"))")
            }
            guard try await store.agents(did: did).isEmpty else { throw RegistryError.conflict("an agent with did \(did) is already registered") }
            agentDID = did
        }
        guard try await store.workspace(id: workspace)?.enabled == true else { throw RegistryError.notFound("workspace not found") }
        let agent = AgentRecord(
            id: "agt_" + UUID().uuidString.lowercased(), workspace: workspace, name: name, did: agentDID, publicJWK: key.jwk,
            domain: domain ?? "", created: clock.now())
        do {
            try await store.createAgent(agent)
        } catch {
            if case .conflict(let why) = error { throw RegistryError.conflict(why) }
            throw error
        }
        await audit(identity, "register-agent", agent.id)
        return agent
    }

    /// The agent a route names — by id (`agt_…`) or by DID (RFC-002 §6.3: routes are keyed by
    /// the URL-encoded DID) — if the caller holds `capability` in its workspace. Out of scope
    /// looks unknown.
    public func agent(_ reference: String, _ capability: String, by identity: Identity?) async throws -> AgentRecord {
        let candidates = try await agents(named: reference)
        guard let identity else {
            guard let first = candidates.first else { throw RegistryError.notFound("agent not found") }
            return first
        }
        guard let visible = candidates.first(where: { identity.may(capability, in: $0.workspace) }) else {
            throw RegistryError.notFound("agent not found")
        }
        return visible
    }

    /// The agents a route's reference names: by DID (one per workspace at most), or by id.
    func agents(named reference: String) async throws -> [AgentRecord] {
        if reference.hasPrefix("did:") { return try await store.agents(did: reference) }
        return try await store.agent(id: reference).map { [$0] } ?? []
    }

    /// The RFC-003 routes' reference check: an id or a DID of a supported method (`invalid_did`,
    /// 400, otherwise). A did:key that does not decode passes and then names no agent (404).
    static func checkReference(_ reference: String) throws {
        guard reference.hasPrefix("did:key:") || reference.hasPrefix("did:web:") || reference.hasPrefix("agt_"), reference.utf8.count <= 512 else {
            throw RegistryError.rfc(.invalidDID, "DID is malformed or unsupported")
        }
    }

    public func list(workspace: String?, by identity: Identity) async throws -> [AgentRecord] {
        let target = workspace ?? identity.workspace
        guard identity.may(Capability.agentsRead, in: target) else { throw RegistryError.accessDenied }
        return try await store.listAgents(workspace: target)
    }

    public func update(_ reference: String, name: String?, domain: String?, status: String?, by identity: Identity) async throws -> AgentRecord {
        var agent = try await agent(reference, Capability.agentsWrite, by: identity)
        if let name {
            guard (1...128).contains(name.count) else { throw RegistryError.invalid("invalid field name: 1-128 characters") }
            agent.name = name
        }
        if let domain { agent.domain = domain }
        if let status {
            guard ["active", "disabled"].contains(status) else { throw RegistryError.invalid("invalid field status: active or disabled") }
            agent.status = status
        }
        try await store.updateAgent(agent)
        // A disabled agent's badges are SUSPENDED in the status list (and VALID again on enable).
        if status != nil { statusLists.invalidate() }
        await audit(identity, status == "disabled" ? "disable-agent" : "update-agent", agent.id)
        return agent
    }

    /// RFC-002 §7.5 `GET /v1/agents/{did}/status`.
    public func agentStatus(_ reference: String) async throws -> AgentRecord {
        try Self.checkReference(reference)
        guard let agent = try await agents(named: reference).first else { throw RegistryError.rfc(.agentNotFound, "agent not found") }
        return agent
    }
}
