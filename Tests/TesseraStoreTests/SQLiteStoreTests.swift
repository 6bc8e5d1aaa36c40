import Foundation
import GRDB
import Testing
import TesseraCore
import TesseraFileSystem
import TesseraTestSupport

@testable import TesseraStore

/// A fresh state directory, `state` in a temporary folder of its own (which the caller removes).
func makeStateDirectory(_ name: String = #function) -> String {
    makeTemporaryDirectory(name) + "/state"
}

@Suite("SQLite store on a real file")
struct SQLiteStoreTests {
    @Test("a new store is 0700 / 0600 under umask 022, and an existing loose folder is tightened")
    func permissions() throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let directory = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        let store = try SQLiteStore(stateDirectory: directory)
        #expect(PrivateFiles.mode(of: directory) == 0o700)
        for suffix in ["", "-wal", "-shm"] {
            #expect(PrivateFiles.mode(of: store.path + suffix) == 0o600, "\(suffix)")
        }
        let loose = makeStateDirectory("loose")
        try FileManager.default.createDirectory(atPath: loose, withIntermediateDirectories: true)
        chmod(loose, 0o755)
        _ = try SQLiteStore(stateDirectory: loose)
        #expect(PrivateFiles.mode(of: loose) == 0o700)
    }

    @Test("migrations reach the latest version and data survives a reopen")
    func migrationsAndRestart() async throws {
        let directory = makeStateDirectory()
        var store: SQLiteStore? = try SQLiteStore(stateDirectory: directory)
        #expect(try await store!.schemaVersion() == SQLiteMigrations.latestVersion)
        let first = try await store!.ensureActiveSigningKey(.generate(at: Date()))
        try await store!.appendAudit(AuditEvent(at: Date(), actor: "u1", action: "create-user", target: "u2", outcome: "ok"))
        store = nil

        let reopened = try SQLiteStore(stateDirectory: directory)
        #expect(try await reopened.schemaVersion() == SQLiteMigrations.latestVersion)
        #expect(try await reopened.signingKeys() == first)
        let events = try await reopened.listAudit(limit: 10)
        #expect(events.map(\.action) == ["create-user"])
    }

    @Test("ensureActiveSigningKey keeps the first key; rotation retires it atomically")
    func signingKeys() async throws {
        let store = try SQLiteStore(stateDirectory: makeStateDirectory())
        let a = SigningKeyRecord.generate(at: Date(timeIntervalSince1970: 1000))
        let b = SigningKeyRecord.generate(at: Date(timeIntervalSince1970: 2000))
        #expect(try await store.ensureActiveSigningKey(a).map(\.kid) == [a.kid])
        #expect(try await store.ensureActiveSigningKey(b).map(\.kid) == [a.kid])
        let c = SigningKeyRecord.generate(at: Date(timeIntervalSince1970: 3000))
        let after = try await store.rotateSigningKey(to: c)
        #expect(after.map(\.kid) == [a.kid, c.kid])
        #expect(after[0].retiredAt == Date(timeIntervalSince1970: 3000))
        #expect(after[1].retiredAt == nil)
        #expect(try after[1].keyPair().kid == c.kid)
    }

    @Test("several processes' handles open one file at once: migrations race safely")
    func concurrentOpen() async throws {
        let directory = makeStateDirectory()
        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let store = try SQLiteStore(stateDirectory: directory)
                    return try await store.schemaVersion()
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions == Array(repeating: SQLiteMigrations.latestVersion, count: 6))
    }

    @Test("two handles writing concurrently lose nothing and agree on one active key")
    func concurrentWriters() async throws {
        let directory = makeStateDirectory()
        let one = try SQLiteStore(stateDirectory: directory)
        let two = try SQLiteStore(stateDirectory: directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in [one, two].enumerated() {
                group.addTask {
                    for n in 0..<150 {
                        try await store.appendAudit(
                            AuditEvent(at: Date(), actor: "writer\(index)", action: "write", target: "\(n)", outcome: "ok"))
                    }
                }
                group.addTask {
                    _ = try await store.ensureActiveSigningKey(.generate(at: Date()))
                }
            }
            try await group.waitForAll()
        }
        let events = try await one.listAudit(limit: 1000)
        #expect(events.count == 300)
        #expect(Set(events.map(\.id)).count == 300)
        let keys = try await two.signingKeys()
        #expect(keys.count == 1)
        #expect(keys.filter { $0.retiredAt == nil }.count == 1)
    }

    @Test("a state path that is a file is refused with a clear error")
    func stateDirIsAFile() throws {
        let directory = makeStateDirectory()
        try FileManager.default.createDirectory(
            atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: directory, contents: Data("x".utf8)))
        #expect(throws: StoreError.self) { try SQLiteStore(stateDirectory: directory) }
    }
}

@Suite("Private files")
struct PrivateFilesTests {
    @Test("atomic writes are 0600 under umask 022 and replace the content whole")
    func atomicWrite() throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let directory = makeStateDirectory()
        try PrivateFiles.ensureDirectory(directory)
        let path = directory + "/badge.jwt"
        try PrivateFiles.writeAtomically(Array("first".utf8), to: path)
        try PrivateFiles.writeAtomically(Array("second".utf8), to: path)
        #expect(PrivateFiles.mode(of: path) == 0o600)
        #expect(PrivateFiles.mode(of: directory) == 0o700)
        #expect(FileManager.default.contents(atPath: path) == Data("second".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test("a session changed behind this process's back (an older binary that does not bump the version) is never decided on a stale view")
    func staleViewAfterForeignWrite() async throws {
        let directory = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        let store = try SQLiteStore(stateDirectory: directory)
        let key = Ed25519KeyPair()
        var state = SessionState(
            id: "s1", passport: PassportClaims(mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["t"], max_tool_calls: 10), issuer: "t", workspace: "w", issuedAt: 1, ttl: 1_000_000_000),
            startedAt: Date())
        try await store.startSession(state)
        @Sendable func decide() async throws -> (Int, Bool) {
            try await store.mutateSession(id: "s1", delegationRequestID: nil) { current, _ in
                var next = current
                next.callsUsed += 1
                let receipt = try next.appendReceipt(tool: "t", decision: .permit, arguments: .object([:]), issuer: "t", now: Date(), key: key)
                return SessionMutation(session: next, receipts: [receipt], output: (current.callsUsed, current.revoked))
            }
        }
        #expect(try await decide() == (0, false))
        #expect(try await decide() == (1, false))  // from this process's cached view
        // Another writer marks the session revoked with a plain UPDATE, leaving `version` alone.
        state = try #require(try await store.session(id: "s1"))
        state.revoked = true
        let foreign = try DatabaseQueue(path: store.path)
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        try await foreign.write { db in try db.execute(sql: "UPDATE gov_sessions SET state = ? WHERE id = 's1'", arguments: [json]) }
        // The trigger moved the version, so the next plan sees the revocation.
        #expect(try await decide() == (2, true))
    }

    @Test("group commit: in a batch, a write whose statement fails is undone alone — its session update rolled back, the others committed")
    func batchIsolation() async throws {
        let fixture = try await OneSessionStore()
        defer { fixture.remove() }
        let store = fixture.store, key = fixture.key
        // 200 concurrent writes; every fourth one carries a receipt that collides with seq 0, so
        // its INSERT fails after its UPDATE ran.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    await fixture.decide { current, receipt in
                        i % 4 == 3 && current.receiptCount > 0 ? ReceiptRecord(sessionID: "s1", seq: 0, jwt: receipt.jwt) : receipt
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        let succeeded = outcomes.filter { $0 }.count
        #expect(succeeded < 200 && succeeded >= 150)
        let state = try #require(try await store.session(id: "s1"))
        let receipts = try await store.receipts(sessionID: "s1")
        // Nothing of a failed write survives, and nothing of a successful one is lost.
        #expect(state.callsUsed == succeeded)
        #expect(receipts.count == succeeded)
        #expect(receipts.map(\.seq) == Array(0..<succeeded))
        let verified = try await ReceiptChain.verify(receipts.map(\.jwt), verifier: await JWSVerifier(keys: [key.kid: key.publicKey]))
        #expect(verified.count == succeeded)
        // Batches really formed (several writes per transaction), or this tested nothing.
        #expect(store.groupCommit.batchesCommitted < store.groupCommit.writesCommitted)
    }

    @Test("pipeline: a hot session's decisions are planned ahead of their commits; when one write fails, every decision planned on it is decided again on what committed — counts equal receipts, the chain is whole")
    func pipelineRedecidesAfterAFailedWrite() async throws {
        let fixture = try await OneSessionStore()
        defer { fixture.remove() }
        let store = fixture.store, key = fixture.key
        // One write is poisoned when planned: its receipt collides with seq 0, so its INSERT fails
        // inside the writer after its UPDATE ran (the failure a full disk or a constraint gives).
        let poisoned = SharedMutex(false)
        @Sendable func decide() async -> Bool {
            await fixture.decide { current, receipt in
                guard current.callsUsed == 5, poisoned.withLock({ old in defer { old = true }; return !old }) else { return receipt }
                return ReceiptRecord(sessionID: "s1", seq: 0, jwt: receipt.jwt)
            }
        }
        #expect(await decide())  // seq 0, and the process's view of the session
        // The next 40 decisions are all planned, in order, on their predecessors before any commits.
        let outcomes = try await fixture.decideWhileTheWriterWaits(40, decide)
        // Exactly the poisoned decision failed (its caller got the error, nothing of it was kept);
        // the 35 planned on it found their predecessor not committed and were decided again.
        #expect(outcomes.filter { !$0 }.count == 1)
        #expect(store.pipelines.redecided.load(ordering: .relaxed) == 35)
        let state = try #require(try await store.session(id: "s1"))
        let receipts = try await store.receipts(sessionID: "s1")
        #expect(state.callsUsed == 40)
        #expect(receipts.map(\.seq) == Array(0..<40))
        let verified = try await ReceiptChain.verify(receipts.map(\.jwt), verifier: await JWSVerifier(keys: [key.kid: key.publicKey]))
        #expect(verified.count == 40)
    }

    @Test("pipeline: another writer's update between planned decisions produces the very version a planned-ahead write expects — it still writes nothing, because its predecessor never committed")
    func pipelineRefusesAReusedVersion() async throws {
        let fixture = try await OneSessionStore()
        defer { fixture.remove() }
        let store = fixture.store
        @Sendable func decide() async -> Bool { await fixture.decide() }
        #expect(await decide())  // version 1, and this process's view of it
        let revoked = try #require(try await store.session(id: "s1")).revoking()
        // 10 decisions are planned while the writer waits, on versions 1, 2, … 10; meanwhile another
        // writer revokes the session in place (the trigger moves the version 1 → 2).
        let json = String(decoding: try JSONEncoder().encode(revoked), as: UTF8.self)
        let outcomes = try await fixture.decideWhileTheWriterWaits(10, decide) { db in
            try db.execute(sql: "UPDATE gov_sessions SET state = ? WHERE id = 's1'", arguments: [json])
        }
        // The first planned write finds version 2, not 1. The second expects exactly 2 — the
        // number matches, but it was planned on the first, which never committed: nothing is
        // written on a pre-revocation state, and every one is decided again and refused.
        #expect(outcomes.allSatisfy { !$0 })
        let state = try #require(try await store.session(id: "s1"))
        #expect(state.revoked)
        #expect(state.callsUsed == 1)
        #expect(try await store.receipts(sessionID: "s1").count == 1)
        #expect(store.pipelines.redecided.load(ordering: .relaxed) == 10)
    }
}

/// A store on a fresh file with one started session, `s1` (the group-commit and pipeline tests).
struct OneSessionStore {
    struct Revoked: Error {}
    let store: SQLiteStore
    let key = Ed25519KeyPair()
    let directory: String

    init(_ name: String = #function) async throws {
        directory = makeStateDirectory(name)
        store = try SQLiteStore(stateDirectory: directory)
        let passport = PassportClaims(
            mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["t"]), issuer: "t", workspace: "w", issuedAt: 1, ttl: 1_000_000_000)
        try await store.startSession(SessionState(id: "s1", passport: passport, startedAt: Date()))
    }

    func remove() { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }

    /// Holds SQLite's write lock from another connection while `count` decisions are planned —
    /// every one after the first on its predecessor, none committed — then runs `beforeCommit` in
    /// that connection's transaction, commits it, and returns the decisions' outcomes.
    func decideWhileTheWriterWaits(
        _ count: Int, _ decide: @escaping @Sendable () async -> Bool, beforeCommit: @Sendable (Database) throws -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [Bool] {
        let blocker = try writeLockHolder(store.path)
        try await blocker.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        let storm = Task {
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<count { group.addTask { await decide() } }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
        }
        let pipelines = store.pipelines
        let planned = try await eventually(within: .seconds(10), every: .milliseconds(5)) {
            pipelines.pipelined.load(ordering: .relaxed) >= count - 1
        }
        try await blocker.writeWithoutTransaction { db in
            try beforeCommit(db)
            try db.execute(sql: "COMMIT")
        }
        let outcomes = await storm.value
        #expect(planned, "planned ahead: \(pipelines.pipelined.load(ordering: .relaxed)) of \(count - 1)", sourceLocation: sourceLocation)
        return outcomes
    }

    /// One PERMIT on `s1` with its receipt (`tamper` may replace the receipt); refused once the
    /// session is revoked. Whether it was answered.
    func decide(_ tamper: @escaping @Sendable (SessionState, ReceiptRecord) -> ReceiptRecord = { $1 }) async -> Bool {
        let key = self.key
        do {
            try await store.mutateSession(id: "s1", delegationRequestID: nil) { current, _ in
                guard !current.revoked else { throw Revoked() }
                var next = current
                next.callsUsed += 1
                let receipt = try next.appendReceipt(tool: "t", decision: .permit, arguments: .object([:]), issuer: "t", now: Date(), key: key)
                return SessionMutation(session: next, receipts: [tamper(current, receipt)], output: ())
            }
            return true
        } catch {
            return false
        }
    }
}

extension SessionState {
    /// This state, revoked (as a revocation by another process would leave it).
    func revoking() -> SessionState {
        var state = self
        state.revoked = true
        return state
    }
}

/// Another connection to the same file that can hold SQLite's write lock across calls
/// (`BEGIN IMMEDIATE` … `COMMIT`), so a test can make the store's writer wait.
func writeLockHolder(_ path: String) throws -> DatabaseQueue {
    var configuration = Configuration()
    configuration.allowsUnsafeTransactions = true
    return try DatabaseQueue(path: path, configuration: configuration)
}
