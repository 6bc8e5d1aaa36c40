import Foundation
import NIOHTTP1
import TesseraCore

/// The registry surface: agents and badges, on CapiscIO's routes (RFC-002 §12, RFC-003 §5),
/// keyed by the agent's DID (or its Tessera id).
extension TesseraHTTPClient {
    public typealias Agent = RegistryWire.Agent

    /// What issuance answers (the members every client generation reads).
    public struct IssuedBadge: Codable, Sendable, Equatable {
        public var badge: String
        public var jti: String
        public var expires_at: String
        public var ial: String
        public var token: String { badge }
    }

    public func registerAgent(name: String, publicJWK: JWK, domain: String?, workspace: String?, did: String? = nil) async throws(ClientError) -> Agent {
        try await send(
            .POST, "/v1/agents", body: RegistryWire.RegisterAgentRequest(name: name, public_jwk: publicJWK, did: did, domain: domain, workspace: workspace),
            as: Agent.self)
    }

    public func agents(workspace: String? = nil) async throws(ClientError) -> [Agent] {
        let query = workspace.map { "?workspace=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
        return try await send(.GET, "/v1/agents" + query, body: Optional<[String: String]>.none, as: RegistryWire.AgentList.self).agents
    }

    public func agent(_ id: String) async throws(ClientError) -> Agent {
        try await send(.GET, "/v1/agents/\(Self.segment(id))", body: Optional<[String: String]>.none, as: Agent.self)
    }

    public func disableAgent(_ id: String) async throws(ClientError) -> Agent {
        try await send(.POST, "/v1/agents/\(Self.segment(id))/disable", body: [String: String](), as: Agent.self)
    }

    /// A CA-issued (IAL-0) badge (`mode` `ial0`); needs a credential with `badges:issue`.
    /// `agent` is the agent's DID or id.
    public func issueBadge(agent: String, lifetime: Int?, audience: [String]?) async throws(ClientError) -> IssuedBadge {
        try await send(
            .POST, "/v1/agents/\(Self.segment(agent))/badge", body: RegistryWire.IssueBadgeRequest(mode: "ial0", ttl: lifetime, badge_aud: audience),
            as: IssuedBadge.self)
    }

    /// RFC-003 phase 1 (authenticated with this client's credential).
    public func badgeChallenge(agent: String, lifetime: Int?, audience: [String]?) async throws(ClientError) -> PoPChallenge {
        try await send(
            .POST, "/v1/agents/\(Self.segment(agent))/badge/challenge", body: RegistryWire.ChallengeRequest(badge_aud: audience, badge_ttl: lifetime),
            as: PoPChallenge.self)
    }

    /// A proof-of-possession (IAL-1) badge: challenge, proof signed with the agent key (`sub` and
    /// `kid` from `did`), answer. Phase 2 carries no credential: the proof is the authentication.
    /// `agent` (default `did`) is the route key: the DID, or the agent's Tessera id.
    public func issuePoPBadge(did: String, agent: String? = nil, key: Ed25519KeyPair, lifetime: Int?, audience: [String]?) async throws(ClientError) -> IssuedBadge {
        let route = agent ?? did
        let challenge = try await badgeChallenge(agent: route, lifetime: lifetime, audience: audience)
        let proof: String
        do {
            proof = try KeyOwnershipProofClaims.sign(challenge: challenge, did: did, key: key, now: Date().unixSeconds)
        } catch {
            throw .invalidResponse("cannot sign the proof: \(error)")
        }
        let (status, bytes) = try await raw(
            .POST, "/v1/agents/\(Self.segment(route))/badge",
            body: RegistryWire.IssueBadgeRequest(mode: "ial1", challenge_id: challenge.challenge_id, proof_jws: proof), authenticate: false)
        guard (200..<300).contains(status) else { throw .server(status: status, body: String(decoding: bytes, as: UTF8.self)) }
        do {
            return try StrictJSON.decode(IssuedBadge.self, from: Data(bytes))
        } catch {
            throw .invalidResponse(String(describing: error))
        }
    }

    public func revokeBadge(jti: String, reason: String? = nil) async throws(ClientError) {
        _ = try await send(.POST, "/v1/badges/\(Self.segment(jti))/revoke", body: RegistryWire.RevokeRequest(reason: reason), as: [String: JSONValue].self)
    }

    /// A status list token (`application/statuslist+jwt`) at `path` on this server.
    public func statusListToken(path: String) async throws(ClientError) -> String {
        let (status, bytes) = try await raw(
            .GET, path, body: Optional<[String: String]>.none, headers: [("Accept", StatusListClaims.mediaType)], authenticate: false)
        guard status == 200 else { throw .server(status: status, body: String(decoding: bytes.prefix(512), as: UTF8.self)) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The DID document at `path` on this server (a `did:web` agent it hosts).
    public func didDocument(path: String) async throws(ClientError) -> DIDDocument {
        let (status, bytes) = try await raw(.GET, path, body: Optional<[String: String]>.none, authenticate: false)
        guard status == 200 else { throw .server(status: status, body: String(decoding: bytes.prefix(512), as: UTF8.self)) }
        do {
            return try StrictJSON.decode(DIDDocument.self, from: Data(bytes))
        } catch {
            throw .invalidResponse(String(describing: error))
        }
    }

    static func segment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? value
    }
}
