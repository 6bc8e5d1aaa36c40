import Foundation
import Testing
import TesseraCore
import TesseraTestSupport

@testable import TesseraStore

/// The store backends, for the contract tests written once for both: one suite, two real databases.
///
/// Each contract test takes the backend as its argument and runs here on SQLite (always). Its
/// PostgreSQL run is a test of its own in a nested `OnPostgreSQL` suite enabled only with the
/// throwaway cluster `scripts/test` starts: without it, it is reported as skipped, not passed.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    /// A fresh, empty store, and a function opening a second handle on the same data (another
    /// process on the SQLite file, another node on the PostgreSQL database).
    func make() async throws -> (any TesseraStore, @Sendable () async throws -> any TesseraStore) {
        switch self {
        case .sqlite:
            let directory = makeStateDirectory("contract")
            return (try SQLiteStore(stateDirectory: directory), { try SQLiteStore(stateDirectory: directory) })
        case .postgres:
            let (url, open) = try await makeEmptyDatabase()
            return (try await PostgresStore(url: url), open)
        }
    }

    /// A new, empty PostgreSQL database nobody has migrated, and a function opening a node on it.
    func makeEmptyDatabase() async throws -> (String, @Sendable () async throws -> any TesseraStore) {
        let url = try await TestDatabase.makeEmptyDatabase()
        return (url, { try await PostgresStore(url: url) })
    }
}

@Suite("Store contract, on every backend")
struct StoreContractTests {
    @Test("migrations reach the latest version; a second handle (process or node) sees the same schema", arguments: [Backend.sqlite])
    func migrations(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        #expect(try await store.schemaVersion() == SQLiteMigrations.latestVersion)
        #expect(SQLiteMigrations.all.map(\.identifier) == PostgresMigrations.all.map(\.identifier))
        let handles = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 { group.addTask { try await another().schemaVersion() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(handles == Array(repeating: SQLiteMigrations.latestVersion, count: 3))
    }

    @Test("signing keys: one active key whoever starts first; rotation retires atomically", arguments: [Backend.sqlite])
    func signingKeys(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let results = try await withThrowingTaskGroup(of: [SigningKeyRecord].self) { group in
            for handle in [store, second] { group.addTask { try await handle.ensureActiveSigningKey(.generate(at: Date())) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.filter { $0.retiredAt == nil }.count == 1 })
        #expect(try await store.signingKeys().count == 1)
        let next = SigningKeyRecord.generate(at: Date().addingTimeInterval(1))
        let after = try await second.rotateSigningKey(to: next)
        #expect(after.filter { $0.retiredAt == nil }.map(\.kid) == [next.kid])
        #expect(try await store.signingKeys() == after)
    }

    @Test("identity: bootstrap once, conflicts, cascades, key resolution, audit", arguments: [Backend.sqlite])
    func identity(backend: Backend) async throws {
        let (store, _) = try await backend.make()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let workspace = WorkspaceRecord(id: "default", name: "Default", created: now)
        let admin = UserRecord(id: "u1", username: "admin", passwordHash: "", roles: ["admin"], defaultWorkspace: "default", created: now)
        let key = APIKeyRecord(id: "k1", userID: "u1", name: "boot", prefix: "tsk_abcd", hash: String(repeating: "a", count: 64), expires: nil, created: now)
        #expect(try await store.bootstrap(workspace: workspace, admin: admin, key: key))
        var other = admin
        other.id = "u2"
        other.username = "admin2"
        #expect(try await !store.bootstrap(workspace: workspace, admin: other, key: key))
        await #expect(throws: StoreError.self) { try await store.createWorkspace(workspace) }
        await #expect(throws: StoreError.self) { try await store.createUser(admin) }
        var bob = UserRecord(id: "u3", username: "bob", passwordHash: "x", roles: ["reader"], defaultWorkspace: "default", created: now)
        try await store.createUser(bob)
        bob.enabled = false
        bob.roles = ["writer@lab"]
        try await store.updateUser(bob)
        #expect(try await store.user(username: "bob") == bob)
        try await store.createAPIKey(APIKeyRecord(id: "k2", userID: "u3", name: "b", prefix: "tsk_bbbb", hash: String(repeating: "b", count: 64), expires: now, created: now))
        let resolved = try #require(try await store.resolveAPIKey(hash: String(repeating: "b", count: 64)))
        #expect(resolved.user.id == "u3")
        #expect(resolved.workspace?.id == "default")
        try await store.touchAPIKeys(["k2": now.addingTimeInterval(5)])
        #expect(try await store.apiKey(id: "k2")?.lastUsed == now.addingTimeInterval(5))
        try await store.revokeAPIKey(id: "k2")
        await #expect(throws: StoreError.notFound("api key k2")) { try await store.revokeAPIKey(id: "k2") }
        try await store.deleteUser(id: "u3")
        #expect(try await store.apiKey(id: "k2") == nil)
        #expect(try await store.listUsers(workspace: "default").map(\.username) == ["admin"])
        try await store.appendAudit(AuditEvent(at: now, actor: "u1", action: "a", target: "t", outcome: "ok"))
        try await store.appendAudit(AuditEvent(at: now, actor: "u1", action: "b", target: "t", outcome: "ok"))
        #expect(try await store.listAudit(limit: 10).map(\.action) == ["b", "a"])
    }

    @Test("credential changes: the database records user, workspace, key and passport revocation changes itself; last-use writes are not changes", arguments: [Backend.sqlite])
    func credentialChanges(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let now = Date()
        let workspace = WorkspaceRecord(id: "default", name: "Default", created: now)
        var admin = UserRecord(id: "u1", username: "admin", passwordHash: "", roles: ["admin"], defaultWorkspace: "default", created: now)
        let key = APIKeyRecord(id: "k1", userID: "u1", name: "boot", prefix: "tsk_abcd", hash: String(repeating: "a", count: 64), expires: nil, created: now)
        #expect(try await store.bootstrap(workspace: workspace, admin: admin, key: key))
        #expect(try await store.recentCredentialChanges(withinSeconds: 60).isEmpty)
        try await store.touchAPIKeys(["k1": now])
        #expect(try await store.recentCredentialChanges(withinSeconds: 60).isEmpty)

        admin.roles = ["reader"]
        try await store.updateUser(admin)
        var disabled = workspace
        disabled.enabled = false
        try await store.updateWorkspace(disabled)
        try await store.revokeAPIKey(id: "k1")
        let bob = UserRecord(id: "u2", username: "bob", passwordHash: "", roles: [], defaultWorkspace: "default", created: now)
        try await store.createUser(bob)
        try await store.deleteUser(id: "u2")
        // A passport revocation is a change too (a second revocation of the same jti is not).
        try await store.revoke(jti: "pp1", at: now)
        try await store.revoke(jti: "pp1", at: now)
        // Seen from another handle (process or node), in order.
        let changes = try await another().recentCredentialChanges(withinSeconds: 60)
        #expect(changes.map { "\($0.kind.rawValue):\($0.subject)" } == ["user:u1", "workspace:default", "key:k1", "user:u2", "revocation:pp1"])
        #expect(changes.map(\.seq) == changes.map(\.seq).sorted())
        // The window is by time; pruning keeps what is recent.
        try await store.pruneCredentialChanges(olderThanSeconds: 60)
        #expect(try await store.recentCredentialChanges(withinSeconds: 60).count == 5)
        try await store.pruneCredentialChanges(olderThanSeconds: -1)
        #expect(try await store.recentCredentialChanges(withinSeconds: 60).isEmpty)
    }

    @Test("passport lineage: a never-started passport is a link; session start re-checks revocation in its transaction; records carry the workspace", arguments: [Backend.sqlite])
    func passportLineage(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        // Whole seconds, as passports carry them (a sub-second Date does not round-trip exactly
        // through the epoch offset, whatever the store).
        let issued = Date(timeIntervalSince1970: 1_800_000_000), expires = Date(timeIntervalSince1970: 1_800_000_600)
        let root = PassportRecord(jti: "p-root", parentJTI: nil, workspace: "a", jkt: nil, issuedAt: issued, expiresAt: expires)
        let middle = PassportRecord(jti: "p-mid", parentJTI: "p-root", workspace: "a", jkt: "k", issuedAt: issued, expiresAt: expires)
        let leaf = PassportRecord(jti: "p-leaf", parentJTI: "p-mid", workspace: "a", jkt: nil, issuedAt: issued, expiresAt: expires)
        for record in [root, middle, leaf] { try await store.recordPassport(record) }
        #expect(try await second.passport(jti: "p-mid") == middle)
        #expect(try await second.passport(jti: "nope") == nil)
        #expect(try await !store.isRevoked(jti: "p-leaf"))
        try await second.revoke(jti: "p-root", at: Date())
        // Neither p-mid nor p-leaf ever started a session: the walk goes through the records.
        #expect(try await store.isRevoked(jti: "p-leaf"))
        var claims = PassportClaims(mission: Mission(agent_id: "a", mission: "m"), issuer: "t", workspace: "a", issuedAt: 1, ttl: 1_000_000_000, jti: "p-leaf", parentJTI: "p-mid")
        claims.delegation_depth = 2
        await #expect(throws: StoreError.revoked("p-leaf")) {
            try await store.startSession(SessionState(id: "s-leaf", passport: claims, startedAt: Date()))
        }
        #expect(try await store.session(id: "s-leaf") == nil)
    }

    @Test("console listings: a workspace's sessions newest first and bounded, each agent's latest badge, nothing of another workspace", arguments: [Backend.sqlite])
    func consoleListings(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for (index, workspace) in ["a", "a", "b", "a"].enumerated() {
            let claims = PassportClaims(
                mission: Mission(agent_id: "agent-\(index)", mission: "m"), issuer: "t", workspace: workspace, issuedAt: 1,
                ttl: 1_000_000_000, jti: "p-\(index)")
            let handle = index % 2 == 0 ? store : second
            try await handle.startSession(SessionState(id: "s-\(index)", passport: claims, startedAt: start.addingTimeInterval(Double(index))))
        }
        #expect(try await second.listSessions(workspace: "a", limit: 10).map(\.id) == ["s-3", "s-1", "s-0"])
        #expect(try await store.listSessions(workspace: "a", limit: 2).map(\.id) == ["s-3", "s-1"])
        #expect(try await store.listSessions(workspace: "b", limit: 10).map(\.passport.jti) == ["p-2"])
        #expect(try await store.listSessions(workspace: "c", limit: 10).isEmpty)

        let issued = Date(timeIntervalSince1970: 1_800_000_000)
        let badges = [
            BadgeRecord(jti: "b-old", agentID: "agt_1", workspace: "a", ial: "0", issuedAt: issued, expiresAt: issued.addingTimeInterval(300)),
            BadgeRecord(jti: "b-new", agentID: "agt_1", workspace: "a", ial: "1", issuedAt: issued.addingTimeInterval(60), expiresAt: issued.addingTimeInterval(360)),
            BadgeRecord(jti: "b-two", agentID: "agt_2", workspace: "a", ial: "0", issuedAt: issued, expiresAt: issued.addingTimeInterval(300)),
            BadgeRecord(jti: "b-other", agentID: "agt_3", workspace: "b", ial: "0", issuedAt: issued, expiresAt: issued.addingTimeInterval(300)),
        ]
        for badge in badges { try await store.recordBadge(badge) }
        try await second.revokeBadge(jti: "b-new", at: issued.addingTimeInterval(90))
        let latest = try await second.latestBadges(workspace: "a").sorted { $0.agentID < $1.agentID }
        #expect(latest.map(\.jti) == ["b-new", "b-two"])
        #expect(latest.first?.ial == "1" && latest.first?.revokedAt == issued.addingTimeInterval(90))
        #expect(try await store.latestBadges(workspace: "b").map(\.jti) == ["b-other"])
    }

    @Test(
        "first start: many nodes migrating one fresh PostgreSQL database at once all succeed, every time",
        .enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)"))
    func concurrentFirstStart() async throws {
        for _ in 0..<5 {
            let (first, another) = try await Backend.postgres.makeEmptyDatabase()
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await another().schemaVersion() } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(versions == Array(repeating: SQLiteMigrations.latestVersion, count: 8))
            _ = first
        }
    }

    @Test("governance: replay cache, and concurrent mutations on two handles never lose an update or fork the chain", arguments: [Backend.sqlite])
    func governance(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let key = Ed25519KeyPair()
        let passport = PassportClaims(mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["t"], max_tool_calls: 30), issuer: "t", workspace: "w", issuedAt: 1, ttl: 1_000_000_000)
        let session = SessionState(id: "s1", passport: passport, startedAt: Date())
        try await store.startSession(session)
        await #expect(throws: StoreError.self) { try await second.startSession(SessionState(id: "s2", passport: passport, startedAt: Date())) }
        let permits = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<60 {
                let handle = i % 2 == 0 ? store : second
                group.addTask {
                    try await handle.mutateSession(id: "s1", delegationRequestID: nil) { current, _ in
                        var next = current
                        let decision: Decision = (next.callsRemaining ?? 1) > 0 ? .permit : .deny("budget_exhausted", "x")
                        if decision == .permit { next.callsUsed += 1 } else { next.denies += 1 }
                        let receipt = try next.appendReceipt(tool: "t", decision: decision, arguments: .object([:]), issuer: "t", now: Date(), key: key)
                        return SessionMutation(session: next, receipts: [receipt], output: decision == .permit)
                    }
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(permits == 30)
        let receipts = try await store.receipts(sessionID: "s1")
        #expect(receipts.map(\.seq) == Array(0..<60))
        let verified = try await ReceiptChain.verify(receipts.map(\.jwt), verifier: await JWSVerifier(keys: [key.kid: key.publicKey]))
        #expect(verified.filter { $0.decision == "PERMIT" }.count == 30)
        #expect(try await second.session(id: "s1")?.callsUsed == 30)
        // A plan's own error aborts the transaction and passes through unchanged.
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await store.mutateSession(id: "s1", delegationRequestID: nil) { _, _ -> SessionMutation<Void> in throw Refused() }
        }
        await #expect(throws: StoreError.notFound("session nope")) {
            try await store.mutateSession(id: "nope", delegationRequestID: nil) { s, _ in SessionMutation(session: s, output: ()) }
        }
        // Sequential, alternating handles: each handle's view of the session is stale after the
        // other wrote (on PostgreSQL each node writes from its cached view when it can), yet every
        // plan sees the latest state — the receipt sequence stays contiguous.
        for i in 0..<6 {
            let handle = i % 2 == 0 ? store : second
            let seenSeq = try await handle.mutateSession(id: "s1", delegationRequestID: nil) { current, _ in
                var next = current
                next.denies += 1
                let receipt = try next.appendReceipt(tool: "t", decision: .deny("budget_exhausted", "x"), arguments: .object([:]), issuer: "t", now: Date(), key: key)
                return SessionMutation(session: next, receipts: [receipt], output: receipt.seq)
            }
            #expect(seenSeq == 60 + i)
        }
        // Two decisions in a row on one handle: the second is written from that handle's view
        // (one statement on PostgreSQL, outside the writer on SQLite) — the fast path is real.
        let hitsBefore = Self.viewHits(store)
        for _ in 0..<2 {
            _ = try await store.mutateSession(id: "s1", delegationRequestID: nil) { current, _ in
                var next = current
                next.denies += 1
                let receipt = try next.appendReceipt(tool: "t", decision: .deny("budget_exhausted", "x"), arguments: .object([:]), issuer: "t", now: Date(), key: key)
                return SessionMutation(session: next, receipts: [receipt], output: receipt.seq)
            }
        }
        #expect(Self.viewHits(store) > hitsBefore)
        try await second.revoke(jti: passport.jti, at: Date())
        #expect(try await store.isRevoked(jti: passport.jti))
        #expect(try await store.session(id: "s1")?.revoked == true)
        // The handle that wrote last before the revocation must still see it in its next plan.
        let sawRevocation = try await store.mutateSession(id: "s1", delegationRequestID: nil) { current, _ in
            var next = current
            next.denies += 1
            let receipt = try next.appendReceipt(tool: "t", decision: .deny("passport_revoked", "x"), arguments: .object([:]), issuer: "t", now: Date(), key: key)
            return SessionMutation(session: next, receipts: [receipt], output: current.revoked)
        }
        #expect(sawRevocation)
        #expect(try await store.receipts(sessionID: "s1").map(\.seq) == Array(0..<69))
    }

    static func challenge(_ id: String, expires: Date, now: Date) -> ChallengeRecord {
        ChallengeRecord(
            id: id, agentID: "agt_1", did: "did:key:z", nonce: "n", createdAt: now, expiresAt: expires, badgeAudience: ["https://api"],
            badgeTTL: 300, proofAudience: "https://r", htu: "https://r/v1/agents/x/badge", account: "u")
    }

    @Test("agents and badges: a challenge is consumed once across handles; status entries never reuse an index and report revocations and disabled agents", arguments: [Backend.sqlite])
    func agents(backend: Backend) async throws {
        let (store, another) = try await backend.make()
        let second = try await another()
        let key = Ed25519KeyPair()
        let agent = AgentRecord(id: "agt_1", workspace: "w", name: "bot", did: key.publicKey.did, publicJWK: key.publicKey.jwk, domain: "", created: Date())
        try await store.createAgent(agent)
        var clone = agent
        clone.id = "agt_2"
        await #expect(throws: StoreError.self) { try await second.createAgent(clone) }
        #expect(try await second.agents(did: key.publicKey.did).map(\.id) == ["agt_1"])
        // Whole seconds: a Date survives the store's Double round trip exactly.
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded())
        // At the limit the oldest open challenge makes room (a flood never locks the holder out).
        try await store.createChallenge(Self.challenge("c1", expires: now.addingTimeInterval(58), now: now), limit: 2, now: now)
        try await store.createChallenge(Self.challenge("c2", expires: now.addingTimeInterval(59), now: now), limit: 2, now: now)
        try await second.createChallenge(Self.challenge("c3", expires: now.addingTimeInterval(60), now: now), limit: 2, now: now)
        #expect(try await store.challenge(id: "c1") == nil)
        // What phase 1 bound is read back exactly.
        let read = try await second.challenge(id: "c3")
        #expect(read == Self.challenge("c3", expires: now.addingTimeInterval(60), now: now), "\(String(describing: read))")
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<10 {
                let handle = i % 2 == 0 ? store : second
                group.addTask { try await handle.markChallengeUsed(id: "c3", at: now, badgeJTI: "b\(i)") }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(winners == 1)
        #expect(try await store.challenge(id: "c3")?.used == true)

        // Indexes: distinct and increasing across handles.
        let first = try await store.allocateStatusIndex(StatusEntry(kind: "badge", jti: "b1", agentID: "agt_1", expiresAt: now.addingTimeInterval(600)))
        let other = try await second.allocateStatusIndex(StatusEntry(kind: "badge", jti: "b2", agentID: "agt_1", expiresAt: now.addingTimeInterval(600)))
        let passport = try await store.allocateStatusIndex(StatusEntry(kind: "passport", jti: "p1", agentID: nil, expiresAt: now.addingTimeInterval(600)))
        #expect(first < other && other < passport)
        try await store.recordBadge(BadgeRecord(jti: "b1", agentID: "agt_1", workspace: "w", ial: "1", issuedAt: now, expiresAt: now.addingTimeInterval(600)))
        try await second.revokeBadge(jti: "b1", at: now)
        var listed = try await store.statusEntries(in: 0...1_000_000, now: now)
        #expect(listed.highest == passport)
        #expect(listed.statuses == [first: 1])
        // A disabled agent's other badges are SUSPENDED (2); the revoked one stays INVALID.
        var disabled = agent
        disabled.status = "disabled"
        try await second.updateAgent(disabled)
        listed = try await store.statusEntries(in: 0...1_000_000, now: now)
        #expect(listed.statuses == [first: 1, other: 2])
        // Expired entries leave the list (after the 60 s of skew).
        listed = try await store.statusEntries(in: 0...1_000_000, now: now.addingTimeInterval(661))
        #expect(listed.statuses.isEmpty)
        #expect(listed.highest == passport)
    }

    static func viewHits(_ store: any TesseraStore) -> Int {
        if let sqlite = store as? SQLiteStore { return sqlite.sessionCache.hits.load(ordering: .relaxed) }
        if let postgres = store as? PostgresStore { return postgres.sessionCache.hits.load(ordering: .relaxed) }
        return 0
    }
}

/// The contract on PostgreSQL: each test runs the one of the same name above with `.postgres`.
extension StoreContractTests {
    @Suite("on PostgreSQL", .enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)"))
    struct OnPostgreSQL {
        let contract = StoreContractTests()

        @Test func migrations() async throws { try await contract.migrations(backend: .postgres) }
        @Test func signingKeys() async throws { try await contract.signingKeys(backend: .postgres) }
        @Test func identity() async throws { try await contract.identity(backend: .postgres) }
        @Test func credentialChanges() async throws { try await contract.credentialChanges(backend: .postgres) }
        @Test func passportLineage() async throws { try await contract.passportLineage(backend: .postgres) }
        @Test func consoleListings() async throws { try await contract.consoleListings(backend: .postgres) }
        @Test func governance() async throws { try await contract.governance(backend: .postgres) }
        @Test func agents() async throws { try await contract.agents(backend: .postgres) }
    }
}
