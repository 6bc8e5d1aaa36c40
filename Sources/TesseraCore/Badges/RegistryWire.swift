/// The registry's request bodies (CapiscIO RFC-002 §12, RFC-003 §5, and Tessera's agent routes),
/// shared by the server, which decodes them through the strict parser, and the SDK, which sends
/// them: one contract, so neither builds this JSON by hand.
public enum RegistryWire {
    /// An agent as the registry answers it (registration, lookup, listing, update, disable).
    public struct Agent: Codable, Sendable, Equatable {
        public var id: String
        public var workspace: String
        public var name: String
        public var did: String
        public var public_jwk: JWK
        public var domain: String
        public var status: String
        /// RFC 3339, seconds.
        public var created: String
        public init(id: String, workspace: String, name: String, did: String, public_jwk: JWK, domain: String, status: String, created: String) {
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

    /// `GET /v1/agents`.
    public struct AgentList: Codable, Sendable {
        public var agents: [Agent]
        public init(agents: [Agent]) { self.agents = agents }
    }

    /// `POST /v1/agents`.
    public struct RegisterAgentRequest: Codable, Sendable {
        public var name: String
        public var public_jwk: JWK
        public var did: String?
        public var domain: String?
        public var workspace: String?
        public init(name: String, public_jwk: JWK, did: String? = nil, domain: String? = nil, workspace: String? = nil) {
            self.name = name
            self.public_jwk = public_jwk
            self.did = did
            self.domain = domain
            self.workspace = workspace
        }
    }

    /// `PATCH /v1/agents/{id}`.
    public struct UpdateAgentRequest: Codable, Sendable {
        public var name: String?
        public var domain: String?
        public var status: String?
        public init(name: String? = nil, domain: String? = nil, status: String? = nil) {
            self.name = name
            self.domain = domain
            self.status = status
        }
    }

    /// `POST /v1/agents/{did}/badge` (RFC-002 §12.1 / RFC-003 §5.2): `mode` `ial0` with a
    /// credential, or `ial1` with `challenge_id` and `proof_jws`. `exp_s` and `aud` are Tessera's
    /// earlier names for `ttl` and `badge_aud`, still read.
    public struct IssueBadgeRequest: Codable, Sendable {
        public var mode: String?
        public var ttl: Int?
        public var badge_ttl: Int?
        public var exp_s: Int?
        public var badge_aud: [String]?
        public var aud: [String]?
        public var domain: String?
        public var challenge_id: String?
        public var proof_jws: String?
        public init(
            mode: String? = nil, ttl: Int? = nil, badge_ttl: Int? = nil, exp_s: Int? = nil, badge_aud: [String]? = nil, aud: [String]? = nil,
            domain: String? = nil, challenge_id: String? = nil, proof_jws: String? = nil
        ) {
            self.mode = mode
            self.ttl = ttl
            self.badge_ttl = badge_ttl
            self.exp_s = exp_s
            self.badge_aud = badge_aud
            self.aud = aud
            self.domain = domain
            self.challenge_id = challenge_id
            self.proof_jws = proof_jws
        }
    }

    /// `POST /v1/agents/{did}/badge/challenge` (RFC-003 phase 1).
    public struct ChallengeRequest: Codable, Sendable {
        public var badge_aud: [String]?
        public var badge_ttl: Int?
        public var challenge_ttl: Int?
        public init(badge_aud: [String]? = nil, badge_ttl: Int? = nil, challenge_ttl: Int? = nil) {
            self.badge_aud = badge_aud
            self.badge_ttl = badge_ttl
            self.challenge_ttl = challenge_ttl
        }
    }

    /// `POST /v1/agents/{did}/badge/pop`, the earlier PoP route, answered by the same implementation.
    public struct LegacyPoPRequest: Codable, Sendable {
        public var challenge_id: String
        public var proof: String
        public init(challenge_id: String, proof: String) {
            self.challenge_id = challenge_id
            self.proof = proof
        }
    }

    /// The optional body of a badge revocation or an agent disable (RFC-002 §7.5).
    public struct RevokeRequest: Codable, Sendable {
        public var reason: String?
        public init(reason: String? = nil) { self.reason = reason }
    }
}
