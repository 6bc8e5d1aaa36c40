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

/// A single-use RFC-003 challenge, with everything phase 1 bound (§8.1): the badge it leads
/// to takes its audience and TTL from here, never from the phase-2 request.
public struct ChallengeRecord: Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var did: String
    public var nonce: String
    public var createdAt: Date
    public var expiresAt: Date
    public var badgeAudience: [String]?
    public var badgeTTL: Int
    public var proofAudience: String
    public var htu: String
    /// The principal that asked for it (phase 1 is authenticated).
    public var account: String
    public var used: Bool

    public init(
        id: String, agentID: String, did: String, nonce: String, createdAt: Date, expiresAt: Date, badgeAudience: [String]?,
        badgeTTL: Int, proofAudience: String, htu: String, account: String, used: Bool = false
    ) {
        self.id = id
        self.agentID = agentID
        self.did = did
        self.nonce = nonce
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.badgeAudience = badgeAudience
        self.badgeTTL = badgeTTL
        self.proofAudience = proofAudience
        self.htu = htu
        self.account = account
        self.used = used
    }
}

/// A token that has a place in a status list: a badge or a passport.
public struct StatusEntry: Sendable, Equatable {
    public var kind: String
    public var jti: String
    /// For badges: their agent, whose disabling suspends them.
    public var agentID: String?
    public var expiresAt: Date

    public init(kind: String, jti: String, agentID: String?, expiresAt: Date) {
        self.kind = kind
        self.jti = jti
        self.agentID = agentID
        self.expiresAt = expiresAt
    }
}

/// One status list's worth of entries: the highest index allocated in the range, and every
/// entry whose status is not VALID (revoked: 1; a disabled agent's badge: 2).
public struct StatusEntries: Sendable, Equatable {
    public var highest: Int64?
    public var statuses: [Int64: UInt8]
    public init(highest: Int64?, statuses: [Int64: UInt8]) {
        self.highest = highest
        self.statuses = statuses
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

/// Everything one badge issuance writes, as one unit: the RFC-003 challenge it consumes (IAL-1),
/// the badge's status-list entry and its record. See ``AgentStore/issueBadge(_:sign:)``.
public struct BadgeIssuance: Sendable, Equatable {
    /// The challenge to mark used (RFC-003 §5.2.2 step 24); nil for an IAL-0 badge.
    public var challengeID: String?
    /// When the challenge is marked used.
    public var at: Date
    public var status: StatusEntry
    public var record: BadgeRecord

    public init(challengeID: String?, at: Date, status: StatusEntry, record: BadgeRecord) {
        self.challengeID = challengeID
        self.at = at
        self.status = status
        self.record = record
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

    /// Agents registered under this DID (one per workspace at most).
    func agents(did: String) async throws(StoreError) -> [AgentRecord]

    /// Stores a challenge; when its principal (`account`) already has `limit` open ones for the
    /// agent the oldest of those are dropped, so open challenges stay bounded per principal, the
    /// newest request always gets one, and no principal can displace another's.
    func createChallenge(_ challenge: ChallengeRecord, limit: Int, now: Date) async throws(StoreError)
    func challenge(id: String) async throws(StoreError) -> ChallengeRecord?
    /// Marks the challenge used, atomically (RFC-003 §5.2.2 step 24): false when it already was,
    /// so of two concurrent answers exactly one wins.
    func markChallengeUsed(id: String, at: Date, badgeJTI: String) async throws(StoreError) -> Bool

    /// Gives the token its status-list index: never reused, even after the entry expires.
    func allocateStatusIndex(_ entry: StatusEntry) async throws(StoreError) -> Int64
    /// Entries with index in `range` that are not VALID at `now` (expired ones omitted).
    func statusEntries(in range: ClosedRange<Int64>, now: Date) async throws(StoreError) -> StatusEntries

    func recordBadge(_ badge: BadgeRecord) async throws(StoreError)
    /// Issues a badge in one transaction: marks `issuance.challengeID` used (if any), allocates
    /// the status-list index, calls `sign` with it (pure and synchronous: it runs inside the
    /// transaction) and records the badge. Either all of it is written or none of it: a failure
    /// anywhere — the signer's too, as `.invalidState` — leaves the challenge unused, no index
    /// taken and no record. nil, with nothing written, when the challenge was already used (of
    /// two concurrent answers exactly one wins). Returns the index and the signed token.
    func issueBadge(
        _ issuance: BadgeIssuance, sign: @escaping @Sendable (_ statusIndex: Int64) throws -> String
    ) async throws(StoreError) -> (statusIndex: Int64, token: String)?
    func badge(jti: String) async throws(StoreError) -> BadgeRecord?
    /// Each agent's most recently issued badge in a workspace (the console's Agents view).
    func latestBadges(workspace: String) async throws(StoreError) -> [BadgeRecord]
    /// Revokes the badge and marks its status-list entry INVALID, in one transaction.
    func revokeBadge(jti: String, at: Date) async throws(StoreError)
}
