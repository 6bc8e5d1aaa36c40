import Foundation
import TesseraCore
import TesseraStore

/// What the operator console reads that no other route answers: the overview's counts, agents
/// with their latest badge, a workspace's sessions. Everything is read in the signed-in
/// identity's workspace, through the same `Identity.may` test as every other route — the
/// console holds no privilege of its own.
struct ConsoleService: Sendable {
    let store: any AgentStore & GovernanceStore
    let keys: SigningKeyService
    let badges: BadgeService
    let feed: DecisionFeed
    let clock: any TesseraClock

    /// Sessions a listing returns at most (newest first).
    static let sessionLimit = 500
    /// Keys older than this are flagged for rotation.
    static let recommendedKeyAge: TimeInterval = 90 * 86_400

    func overview(for identity: Identity) async throws -> ConsoleWire.Overview {
        let now = clock.now()
        let workspace = identity.workspace
        var overview = ConsoleWire.Overview(
            workspace: workspace, username: identity.username,
            capabilities: Capability.all.filter { identity.may($0, in: workspace) }.sorted(), server_time: WireTime.format(now))
        if identity.may(Capability.agentsRead, in: workspace) {
            let agents = try await store.listAgents(workspace: workspace)
            overview.agents = agents.count
            overview.agents_active = agents.count { $0.status == "active" }
        }
        if identity.may(Capability.sessionsRead, in: workspace) {
            let sessions = try await store.listSessions(workspace: workspace, limit: Self.sessionLimit)
            overview.sessions_active = sessions.count { Self.state(of: $0, now: now) == "active" }
        }
        if identity.may(Capability.receiptsRead, in: workspace) {
            let rates = feed.rates(workspace: workspace, now: now)
            overview.decisions_last_hour = rates.lastHour
            overview.decisions_per_second = rates.perSecond
        }
        if let active = keys.ring.active {
            overview.signing_key = .init(
                kid: active.kid, created: WireTime.format(active.createdAt),
                age_seconds: Int64(now.timeIntervalSince(active.createdAt).rounded(.down)),
                rotate_by: WireTime.format(active.createdAt.addingTimeInterval(Self.recommendedKeyAge)))
        }
        return overview
    }

    func agents(for identity: Identity) async throws -> [ConsoleWire.AgentSummary] {
        let agents = try await badges.list(workspace: identity.workspace, by: identity)
        let latest = Dictionary(
            try await store.latestBadges(workspace: identity.workspace).map { ($0.agentID, $0) }, uniquingKeysWith: { a, b in a.issuedAt >= b.issuedAt ? a : b })
        return agents.map { agent in
            ConsoleWire.AgentSummary(
                id: agent.id, name: agent.name, did: agent.did, domain: agent.domain, status: agent.status,
                created: WireTime.format(agent.created),
                last_badge: latest[agent.id].map {
                    .init(jti: $0.jti, ial: $0.ial, issued: WireTime.format($0.issuedAt), expires: WireTime.format($0.expiresAt), revoked: $0.revokedAt != nil)
                })
        }
    }

    func sessions(for identity: Identity) async throws -> [ConsoleWire.SessionSummary] {
        guard identity.may(Capability.sessionsRead, in: identity.workspace) else { throw GovernanceError.forbidden("access_denied") }
        let now = clock.now()
        return try await store.listSessions(workspace: identity.workspace, limit: Self.sessionLimit).map { session in
            let passport = session.passport
            return ConsoleWire.SessionSummary(
                passport_jti: passport.jti, parent_jti: passport.parent_jti, agent_id: passport.agent_id, mission: passport.mission,
                started: WireTime.format(session.startedAt), expires: Self.expiry(of: session).map(WireTime.format),
                state: Self.state(of: session, now: now), calls_used: session.callsUsed, max_tool_calls: passport.max_tool_calls,
                reserved_for_children: session.reservedForChildren, permits: session.permits, denies: session.denies,
                delegations: session.delegations, receipts: session.receiptCount, delegation_depth: passport.delegation_depth)
        }
    }

    /// The earlier of the passport's `exp` and the mission's duration from the start.
    static func expiry(of session: SessionState) -> Date? {
        let exp = session.passport.exp.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        let duration = session.passport.max_duration_s.map { session.startedAt.addingTimeInterval(TimeInterval($0)) }
        return [exp, duration].compactMap { $0 }.min()
    }

    static func state(of session: SessionState, now: Date) -> String {
        if session.revoked { return "revoked" }
        if session.endedAt != nil { return "ended" }
        if let expiry = expiry(of: session), expiry <= now { return "expired" }
        return "active"
    }
}
