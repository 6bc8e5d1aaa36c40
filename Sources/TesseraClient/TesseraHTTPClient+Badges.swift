import Foundation
import NIOHTTP1
import TesseraCore

/// The registry surface: agents and badges.
extension TesseraHTTPClient {
    public struct Agent: Codable, Sendable, Equatable {
        public var id: String
        public var workspace: String
        public var name: String
        public var did: String
        public var public_jwk: JWK
        public var domain: String
        public var status: String
        public var created: String
    }

    public struct IssuedBadge: Codable, Sendable, Equatable {
        public var token: String
        public var expires_at: String
        public var ial: String
    }

    public struct Challenge: Codable, Sendable, Equatable {
        public var challenge_id: String
        public var nonce: String
        public var expires_at: String
    }

    public struct StatusList: Codable, Sendable {
        public var token: String
        public var ttl: Int
    }

    public func registerAgent(name: String, publicJWK: JWK, domain: String?, workspace: String?) async throws(ClientError) -> Agent {
        struct Body: Encodable { var name: String; var public_jwk: JWK; var domain: String?; var workspace: String? }
        return try await send(.POST, "/v1/agents", body: Body(name: name, public_jwk: publicJWK, domain: domain, workspace: workspace), as: Agent.self)
    }

    public func agents(workspace: String? = nil) async throws(ClientError) -> [Agent] {
        struct List: Decodable { var agents: [Agent] }
        let query = workspace.map { "?workspace=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
        return try await send(.GET, "/v1/agents" + query, body: Optional<[String: String]>.none, as: List.self).agents
    }

    public func agent(_ id: String) async throws(ClientError) -> Agent {
        try await send(.GET, "/v1/agents/\(Self.segment(id))", body: Optional<[String: String]>.none, as: Agent.self)
    }

    public func disableAgent(_ id: String) async throws(ClientError) -> Agent {
        try await send(.POST, "/v1/agents/\(Self.segment(id))/disable", body: [String: String](), as: Agent.self)
    }

    /// A CA-issued (IAL-0) badge; needs a credential with `badges:issue`.
    public func issueBadge(agentID: String, lifetime: Int?, audience: [String]?) async throws(ClientError) -> IssuedBadge {
        struct Body: Encodable { var exp_s: Int?; var aud: [String]? }
        return try await send(.POST, "/v1/agents/\(Self.segment(agentID))/badge", body: Body(exp_s: lifetime, aud: audience), as: IssuedBadge.self)
    }

    /// A proof-of-possession (IAL-1) badge: challenge, sign with the agent key, answer.
    public func issuePoPBadge(agentID: String, key: Ed25519KeyPair, registry: String, lifetime: Int?, audience: [String]?) async throws(ClientError) -> IssuedBadge {
        let challenge = try await send(
            .POST, "/v1/agents/\(Self.segment(agentID))/badge/challenge", body: [String: String](), as: Challenge.self)
        let proof: String
        do {
            proof = try CompactJWS.sign(
                PoPProofClaims(nonce: challenge.nonce, audience: registry, iat: Date().unixSeconds), type: PoPProofClaims.type, key: key)
        } catch {
            throw .invalidResponse("cannot sign the proof: \(error)")
        }
        struct Body: Encodable { var challenge_id: String; var proof: String; var exp_s: Int?; var aud: [String]? }
        return try await send(
            .POST, "/v1/agents/\(Self.segment(agentID))/badge/pop",
            body: Body(challenge_id: challenge.challenge_id, proof: proof, exp_s: lifetime, aud: audience), as: IssuedBadge.self)
    }

    public func revokeBadge(jti: String) async throws(ClientError) {
        _ = try await send(.POST, "/v1/badges/\(Self.segment(jti))/revoke", body: [String: String](), as: [String: Bool].self)
    }

    public func badgeStatus() async throws(ClientError) -> StatusList {
        try await send(.GET, "/v1/badges/status", body: Optional<[String: String]>.none, as: StatusList.self)
    }

    static func segment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? value
    }
}
