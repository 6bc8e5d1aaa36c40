import Foundation
import TesseraCore

/// A registered agent: its key (public JWK), the DID derived from it, and its status.
public struct AgentRecord: Sendable, Equatable, Codable {
    public var id: String
    public var workspace: String
    public var name: String
    public var did: String
    public var publicJWK: JWK
    public var domain: String
    /// `active` or `disabled`.
    public var status: String
    public var created: Date

    public init(id: String, workspace: String, name: String, did: String, publicJWK: JWK, domain: String, status: String = "active", created: Date) {
        self.id = id
        self.workspace = workspace
        self.name = name
        self.did = did
        self.publicJWK = publicJWK
        self.domain = domain
        self.status = status
        self.created = created
    }
}

/// A single-use proof-of-possession challenge.
public struct ChallengeRecord: Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var nonce: String
    public var expiresAt: Date

    public init(id: String, agentID: String, nonce: String, expiresAt: Date) {
        self.id = id
        self.agentID = agentID
        self.nonce = nonce
        self.expiresAt = expiresAt
    }
}

/// A badge as issued (its id, owner and lifetime), for revocation and the status list.
public struct BadgeRecord: Sendable, Equatable {
    public var jti: String
    public var agentID: String
    public var workspace: String
    public var ial: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(jti: String, agentID: String, workspace: String, ial: String, issuedAt: Date, expiresAt: Date, revokedAt: Date? = nil) {
        self.jti = jti
        self.agentID = agentID
        self.workspace = workspace
        self.ial = ial
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// The agent registry and badge bookkeeping.
public protocol AgentStore: Sendable {
    /// `.conflict` when the workspace already has an agent with this DID.
    func createAgent(_ agent: AgentRecord) async throws(StoreError)
    func agent(id: String) async throws(StoreError) -> AgentRecord?
    func listAgents(workspace: String?) async throws(StoreError) -> [AgentRecord]
    /// `.notFound` when absent.
    func updateAgent(_ agent: AgentRecord) async throws(StoreError)

    /// Stores a challenge; when the agent already has `limit` open ones the oldest are dropped,
    /// so open challenges stay bounded and the newest request always gets one.
    func createChallenge(_ challenge: ChallengeRecord, limit: Int, now: Date) async throws(StoreError)
    /// Marks the challenge used and returns it, atomically; nil when unknown, used, expired or
    /// another agent's. A challenge can therefore be answered once only.
    func consumeChallenge(id: String, agentID: String, now: Date) async throws(StoreError) -> ChallengeRecord?

    func recordBadge(_ badge: BadgeRecord) async throws(StoreError)
    func badge(jti: String) async throws(StoreError) -> BadgeRecord?
    func revokeBadge(jti: String, at: Date) async throws(StoreError)
    /// Revoked badges not yet expired, and disabled agents.
    func badgeRevocations(now: Date) async throws(StoreError) -> (revoked: [String], disabledAgents: [String])
}
