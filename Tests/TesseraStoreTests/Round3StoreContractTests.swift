import Foundation
import Testing
import TesseraCore
import TesseraTestSupport

@testable import TesseraStore

/// Issue 23 findings 13 and 17 at the store, on every backend: the approval listing filtered in
/// the query, the per-workspace approval cap decided inside the transaction, and badge issuance
/// as one transaction. On SQLite here; on PostgreSQL in `OnPostgreSQL` (skipped without a cluster).
@Suite("Store contract: issue 23 (fairness, atomic issuance)")
struct Round3StoreContractTests {
    struct Refused: Error {}

    static func session(_ id: String, workspace: String) -> SessionState {
        let passport = PassportClaims(
            mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["t"]), issuer: "t", workspace: workspace, issuedAt: 1, ttl: 1_000_000_000)
        return SessionState(id: id, passport: passport, startedAt: Date())
    }

    @Test("round3 13: open approvals are filtered by workspace in the query; a full workspace gets the alternative, in the same transaction", arguments: [Backend.sqlite])
    func approvals(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
        let flood = Self.session("s-flood", workspace: "other")
        let mine = Self.session("s-mine", workspace: "default")
        try await store.startSession(flood)
        try await store.startSession(mine)
        // The other workspace at its cap, every entry expiring before this workspace's one.
        let cap = SessionState.maximumOpenApprovalsPerWorkspace
        let index = (0..<cap).map {
            ApprovalIndexRecord(id: "apr_o\($0)", sessionID: flood.id, workspace: "other", status: "pending", expiresAt: now.addingTimeInterval(60))
        }
        try await store.mutateSession(id: flood.id, request: nil) { _, _ in SessionMutation(session: nil, approvals: index, output: ()) }
        try await second.mutateSession(id: mine.id, request: nil) { _, _ in
            SessionMutation(
                session: nil,
                approvals: [ApprovalIndexRecord(id: "apr_mine", sessionID: mine.id, workspace: "default", status: "pending", expiresAt: now.addingTimeInterval(900))],
                output: ())
        }
        #expect(try await second.openApprovals(workspaces: ["default"], now: now, limit: 1_000).map(\.id) == ["apr_mine"])
        #expect(try await store.openApprovals(workspaces: [], now: now, limit: 1_000).isEmpty)
        #expect(try await store.openApprovals(workspaces: ["other", "default"], now: now, limit: 2_000).count == cap + 1)
        #expect(try await store.openApprovals(workspaces: nil, now: now, limit: 1_000).allSatisfy { $0.workspace == "other" })

        // Opening one more in the full workspace writes the alternative; in the other, the change itself.
        func opening(_ session: SessionState, _ id: String) async throws -> String {
            try await store.mutateSession(id: session.id, request: nil) { _, _ in
                var mutation = SessionMutation(
                    session: nil,
                    approvals: [ApprovalIndexRecord(id: id, sessionID: session.id, workspace: session.passport.workspace, status: "pending", expiresAt: now.addingTimeInterval(60))],
                    output: "opened")
                mutation.approvalCapacity = .init(workspace: session.passport.workspace, now: now) { SessionMutation(session: nil, output: "full") }
                return mutation
            }
        }
        #expect(try await opening(flood, "apr_over") == "full")
        #expect(try await store.approvalSession(id: "apr_over") == nil, "nothing of the refused change is written")
        #expect(try await opening(mine, "apr_mine2") == "opened")
        // Expired entries no longer count: the same workspace has room later.
        #expect(try await store.openApprovals(workspaces: ["other"], now: now.addingTimeInterval(61), limit: 10).isEmpty)
    }

    @Test("round3 13: racing to open the workspace's last approval, across handles (processes, nodes), exactly one wins", arguments: [Backend.sqlite])
    func approvalCapRace(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
        let base = Self.session("s-base", workspace: "w")
        try await store.startSession(base)
        let index = (0..<(SessionState.maximumOpenApprovalsPerWorkspace - 1)).map {
            ApprovalIndexRecord(id: "apr_\($0)", sessionID: base.id, workspace: "w", status: "pending", expiresAt: now.addingTimeInterval(60))
        }
        try await store.mutateSession(id: base.id, request: nil) { _, _ in SessionMutation(session: nil, approvals: index, output: ()) }
        let racers = (0..<6).map { Self.session("s-\($0)", workspace: "w") }
        for racer in racers { try await store.startSession(racer) }
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for (n, racer) in racers.enumerated() {
                let handle = n % 2 == 0 ? store : second
                group.addTask {
                    try await handle.mutateSession(id: racer.id, request: nil) { _, _ in
                        var mutation = SessionMutation(
                            session: nil,
                            approvals: [ApprovalIndexRecord(id: "apr_r\(n)", sessionID: racer.id, workspace: "w", status: "pending", expiresAt: now.addingTimeInterval(60))],
                            output: "opened")
                        mutation.approvalCapacity = .init(workspace: "w", now: now) { SessionMutation(session: nil, output: "full") }
                        return mutation
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == "opened" }.count == 1, "\(outcomes)")
        #expect(try await store.openApprovals(workspaces: ["w"], now: now, limit: 2_000).count == SessionState.maximumOpenApprovalsPerWorkspace)
    }

    @Test("round3 17: badge issuance is all or nothing; a used challenge issues nothing", arguments: [Backend.sqlite])
    func issuance(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let key = Ed25519KeyPair()
        try await store.createAgent(AgentRecord(id: "agt_1", workspace: "w", name: "bot", did: key.publicKey.did, publicJWK: key.publicKey.jwk, domain: "", created: Date()))
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
        let challenge = ChallengeRecord(
            id: "c1", agentID: "agt_1", did: key.publicKey.did, nonce: "n", createdAt: now, expiresAt: now.addingTimeInterval(300),
            badgeAudience: nil, badgeTTL: 300, proofAudience: "https://r", htu: "https://r/v1/agents/x/badge", account: "u")
        try await store.createChallenge(challenge, limit: 16, now: now)
        func issuance(_ jti: String, challenge: String?) -> BadgeIssuance {
            BadgeIssuance(
                challengeID: challenge, at: now, status: StatusEntry(kind: "badge", jti: jti, agentID: "agt_1", expiresAt: now.addingTimeInterval(300)),
                record: BadgeRecord(jti: jti, agentID: "agt_1", workspace: "w", ial: "1", issuedAt: now, expiresAt: now.addingTimeInterval(300)))
        }
        let probe = try await store.allocateStatusIndex(StatusEntry(kind: "passport", jti: "p0", agentID: nil, expiresAt: now.addingTimeInterval(300)))

        // The signer fails after the challenge was marked and the index taken: all of it is undone.
        await #expect(throws: StoreError.self) {
            _ = try await store.issueBadge(issuance("b1", challenge: "c1")) { _ in throw Refused() }
        }
        #expect(try await store.challenge(id: "c1")?.used == false)
        #expect(try await store.badge(jti: "b1") == nil)
        let entries = try await store.statusEntries(in: 0...Int64.max / 2, now: now)
        #expect(entries.highest == probe, "no status index was kept for the failed issuance")

        // Then it issues, once, across handles.
        let results = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<6 {
                let handle = i % 2 == 0 ? store : second
                group.addTask { try await handle.issueBadge(issuance("b\(i + 2)", challenge: "c1")) { index in "token-\(index)" }?.token }
            }
            return try await group.reduce(into: [String]()) { if let token = $1 { $0.append(token) } }
        }
        #expect(results.count == 1)
        #expect(try await store.challenge(id: "c1")?.used == true)
        // An IAL-0 issuance (no challenge) writes its index and record together.
        let ial0 = try #require(try await second.issueBadge(issuance("b-ial0", challenge: nil)) { index in "token-\(index)" })
        #expect(ial0.token == "token-\(ial0.statusIndex)")
        #expect(try await store.badge(jti: "b-ial0") != nil)
    }
}

/// The same on PostgreSQL: each test runs the one of the same name above with `.postgres`.
extension Round3StoreContractTests {
    @Suite("on PostgreSQL", .enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)"))
    struct OnPostgreSQL {
        let contract = Round3StoreContractTests()

        @Test func approvals() async throws { try await contract.approvals(backend: .postgres) }
        @Test func approvalCapRace() async throws { try await contract.approvalCapRace(backend: .postgres) }
        @Test func issuance() async throws { try await contract.issuance(backend: .postgres) }
    }
}
