import Foundation
import GRDB
import TesseraCore

extension SQLiteStore {
    static let stateEncoder = JSONEncoder()
    static let stateDecoder = JSONDecoder()

    public func startSession(_ session: SessionState) async throws(StoreError) {
        try await write { db in
            // Under the write lock: a revocation commits either before this check or after the
            // insert, and then its cascade marks the new session.
            if try Self.revokedInLineage(db, session.passport.jti, parent: session.passport.parent_jti) {
                throw StoreError.revoked(session.passport.jti)
            }
            do {
                try db.execute(
                    sql: "INSERT INTO gov_replay (jti, session_id, seen_at) VALUES (?, ?, ?)",
                    arguments: [session.passport.jti, session.id, session.startedAt.timeIntervalSince1970])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError.conflict("passport \(session.passport.jti) already started a session")
            } catch {
                throw StoreError.unavailable("replay cache: \(error)")
            }
            try Self.insert(session, db)
        }
        // The starting process knows the new session exactly (version 0): its first decision can
        // already be planned outside the writer.
        sessionCache.remember(session.id, session, version: 0)
    }

    static func insert(_ session: SessionState, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO gov_sessions (id, jti, parent_jti, workspace, state, started_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                session.id, session.passport.jti, session.passport.parent_jti, session.passport.workspace,
                String(decoding: try stateEncoder.encode(session), as: UTF8.self), session.startedAt.timeIntervalSince1970,
            ])
    }

    static func fetchSession(_ db: Database, column: String, _ value: String) throws -> SessionState? {
        guard let json = try String.fetchOne(db, sql: "SELECT state FROM gov_sessions WHERE \(column) = ?", arguments: [value]) else {
            return nil
        }
        return try stateDecoder.decode(SessionState.self, from: Data(json.utf8))
    }

    public func session(id: String) async throws(StoreError) -> SessionState? {
        try await read { db in try Self.fetchSession(db, column: "id", id) }
    }

    public func session(jti: String) async throws(StoreError) -> SessionState? {
        try await read { db in try Self.fetchSession(db, column: "jti", jti) }
    }

    public func listSessions(workspace: String, limit: Int) async throws(StoreError) -> [SessionState] {
        try await read { db in
            try String.fetchAll(
                db, sql: "SELECT state FROM gov_sessions WHERE workspace = ? ORDER BY started_at DESC LIMIT ?",
                arguments: [workspace, max(0, limit)]
            ).map { try Self.stateDecoder.decode(SessionState.self, from: Data($0.utf8)) }
        }
    }

    public func isRevoked(jti: String, parentJTI: String?) async throws(StoreError) -> Bool {
        try await read { db in try Self.revokedInLineage(db, jti, parent: parentJTI) }
    }

    /// ``RevocationLineage/Walk`` over this store's rows (the session's parent is read only when
    /// the passport has no issuance record).
    static func revokedInLineage(_ db: Database, _ jti: String, parent: String?) throws -> Bool {
        var walk = RevocationLineage.Walk(jti: jti, parent: parent)
        while let id = walk.next {
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM gov_revocations WHERE jti = ?)", arguments: [id]) == true {
                return true
            }
            if let given = walk.givenParent {
                walk.moveUp(to: given)
                continue
            }
            let record = try Row.fetchOne(db, sql: "SELECT parent_jti FROM gov_passports WHERE jti = ?", arguments: [id])
            var sessionParent: String?
            if record == nil { sessionParent = try String.fetchOne(db, sql: "SELECT parent_jti FROM gov_sessions WHERE jti = ?", arguments: [id]) }
            walk.moveUp(to: RevocationLineage.Walk.recordedParent(
                recorded: record != nil, passportParent: record?["parent_jti"], sessionParent: sessionParent))
        }
        return false
    }

    public func recordPassport(_ passport: PassportRecord) async throws(StoreError) {
        try await write { db in try Self.insert(passport, db) }
    }

    static func insert(_ p: PassportRecord, _ db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO gov_passports (jti, parent_jti, workspace, jkt, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [p.jti, p.parentJTI, p.workspace, p.jkt, p.issuedAt.timeIntervalSince1970, p.expiresAt.timeIntervalSince1970])
    }

    public func passport(jti: String) async throws(StoreError) -> PassportRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM gov_passports WHERE jti = ?", arguments: [jti]).map { row in
                PassportRecord(
                    jti: row["jti"], parentJTI: row["parent_jti"], workspace: row["workspace"], jkt: row["jkt"],
                    issuedAt: Date(timeIntervalSince1970: row["issued_at"]), expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
            }
        }
    }

    public func revoke(jti: String, at: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO gov_revocations (jti, revoked_at) VALUES (?, ?)",
                arguments: [jti, at.timeIntervalSince1970])
            // The status list says so too, for the passport and everything delegated from it.
            try db.execute(sql: RevocationLineage.markStatusEntries, arguments: [jti])
            var cascade = RevocationLineage.Cascade(root: jti)
            while let next = cascade.next() {
                for row in try Row.fetchAll(db, sql: "SELECT id, jti, state FROM gov_sessions WHERE jti = ? OR parent_jti = ?", arguments: [next, next]) {
                    let json: String = row["state"]
                    let state = try Self.stateDecoder.decode(SessionState.self, from: Data(json.utf8))
                    if let revoked = cascade.visit(session: state, sessionJTI: row["jti"], under: next) {
                        try db.execute(
                            sql: "UPDATE gov_sessions SET state = ?, version = version + 1 WHERE id = ?",
                            arguments: [String(decoding: try Self.stateEncoder.encode(revoked), as: UTF8.self), revoked.id])
                    }
                }
                cascade.visit(childPassports: try String.fetchAll(db, sql: "SELECT jti FROM gov_passports WHERE parent_jti = ?", arguments: [next]))
            }
        }
    }

    public func mutateSession<Output: Sendable>(
        id: String, request: SessionRequestKey?,
        _ plan: @escaping @Sendable (SessionState, PriorAnswer?) throws -> SessionMutation<Output>
    ) async throws -> Output {
        if request == nil, let output = try await decidePipelined(id: id, plan) { return output }
        do {
            let body: @Sendable (Database) throws -> (Output, (SessionState, Int64)) = { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT state, version FROM gov_sessions WHERE id = ?", arguments: [id]) else {
                    throw StoreError.notFound("session \(id)")
                }
                let json: String = row["state"]
                let version: Int64 = row["version"]
                let current = try Self.stateDecoder.decode(SessionState.self, from: Data(json.utf8))
                var existing: PriorAnswer?
                switch request {
                case .delegation(let requestID):
                    if let row = try Row.fetchOne(
                        db, sql: "SELECT * FROM gov_delegations WHERE parent_session_id = ? AND request_id = ?", arguments: [id, requestID])
                    {
                        existing = .delegation(DelegationRecord(
                            parentSessionID: row["parent_session_id"], requestID: row["request_id"],
                            fingerprint: row["fingerprint"], childJTI: row["child_jti"], childToken: row["child_token"],
                            budget: row["budget"], parentRemainingAtDelegation: row["parent_remaining"]))
                    }
                case .evaluation(let requestID):
                    if let row = try Row.fetchOne(
                        db, sql: "SELECT fingerprint, response FROM gov_evaluations WHERE session_id = ? AND request_id = ?", arguments: [id, requestID])
                    {
                        existing = .evaluation(EvaluationRecord(sessionID: id, requestID: requestID, fingerprint: row["fingerprint"], response: row["response"]))
                    }
                case nil: break
                }
                // Under SQLite's one writer the workspace's count is exact across processes.
                let mutation = try plan(current, existing).resolvingApprovalCapacity { workspace, now in
                    try Self.openApprovalCount(db, workspace: workspace, now: now)
                }
                let (writes, seen) = mutation.writes(over: current, version: version)
                for write in writes { try Self.execute(write, sessionID: id, db) }
                return (mutation.output, seen)
            }
            let (output, seen) = try await groupCommit.write(body)
            // Remembered only once committed (see VersionedSessionCache).
            sessionCache.remember(id, seen.0, version: seen.1)
            return output
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
    }

    /// The common decision — one session update and one receipt — with its work done outside
    /// SQLite's single writer, planned on the session's pipeline (see ``SessionPipelines``).
    ///
    /// Measured under load, the writer spent most of its time decoding the session's JSON, signing
    /// the receipt and encoding the new state — work that needs no lock. Here the plan runs on
    /// the session as the previous decision in flight will leave it (or, with none in flight, as
    /// this process last wrote or read it), and the writer only runs `UPDATE … WHERE version = ?`
    /// and the receipt's INSERT, inside a group-committed batch. A write whose view was stale, or
    /// whose predecessor did not commit, changes no row: the caller takes the locking path, which
    /// decides again on what committed. Returns nil in that case and whenever the mutation is
    /// anything but one update and one receipt.
    func decidePipelined<Output: Sendable>(
        id: String, _ plan: @escaping @Sendable (SessionState, PriorAnswer?) throws -> SessionMutation<Output>
    ) async throws -> Output? {
        let lane = pipelines.enter(id)
        defer { pipelines.leave(id) }
        let groupCommit = self.groupCommit
        await lane.acquire()
        let (tip, epoch) = lane.base()
        let predecessor = tip?.link
        guard let (base, version) = tip.map({ ($0.state, $0.version) }) ?? sessionCache.session(id),
            let (mutation, updated, receipt) = SessionMutation.plannedDecision(plan, on: base),
            let encoded = try? Self.stateEncoder.encode(updated)
        else {
            lane.release()
            return nil
        }
        let state = String(decoding: encoded, as: UTF8.self)
        let link = SessionPipelines.Link()
        let ticket = groupCommit.enqueue(
            { db in
                if let predecessor, !predecessor.permitsFollower(inTurn: groupCommit.currentTurn) { throw StaleView() }
                try db.execute(
                    sql: "UPDATE gov_sessions SET state = ?, version = version + 1 WHERE id = ? AND version = ?",
                    arguments: [state, id, version])
                guard db.changesCount == 1 else { throw StaleView() }
                try Self.insert(receipt, db)
            }, onWritten: { turn in link.written(turn: turn) }, onFinish: { committed in link.finished(committed: committed) })
        lane.advance(to: SessionPipelines.Tip(state: updated, version: version + 1, link: link, epoch: epoch))
        lane.release()
        if predecessor != nil { pipelines.countPlannedAhead() }
        do {
            try await groupCommit.complete(ticket)
        } catch {
            // Whatever was planned on this write cannot commit either: its run ends, and later
            // decisions start again from what committed.
            lane.endRun(epoch)
            sessionCache.forget(id)
            if error is StaleView {
                pipelines.countRedecided()
                return nil
            }
            if let error = error as? DatabaseError { throw Self.map(error) }
            throw error
        }
        sessionCache.remember(id, updated, version: version + 1)
        lane.committed(link)
        sessionCache.hits.add(1, ordering: .relaxed)
        return mutation.output
    }

    /// One ``SessionWrite`` in SQLite's SQL.
    static func execute(_ write: SessionWrite, sessionID id: String, _ db: Database) throws {
        switch write {
        case .session(let updated):
            try db.execute(
                sql: "UPDATE gov_sessions SET state = ?, version = version + 1 WHERE id = ?",
                arguments: [String(decoding: try Self.stateEncoder.encode(updated), as: UTF8.self), id])
        case .receipt(let receipt): try insert(receipt, db)
        case .delegation(let d):
            try db.execute(
                sql: """
                    INSERT INTO gov_delegations (parent_session_id, request_id, fingerprint, child_jti, child_token,
                    budget, parent_remaining) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [d.parentSessionID, d.requestID, d.fingerprint, d.childJTI, d.childToken, d.budget, d.parentRemainingAtDelegation])
        case .passport(let passport): try insert(passport, db)
        case .approval(let a):
            try db.execute(
                sql: """
                    INSERT INTO gov_approvals (id, session_id, workspace, status, expires_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET status = excluded.status
                    """,
                arguments: [a.id, a.sessionID, a.workspace, a.status, a.expiresAt.timeIntervalSince1970])
        case .evaluation(let e):
            try db.execute(
                sql: "INSERT INTO gov_evaluations (session_id, request_id, fingerprint, response) VALUES (?, ?, ?, ?)",
                arguments: [e.sessionID, e.requestID, e.fingerprint, e.response])
        }
    }

    static func insert(_ receipt: ReceiptRecord, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO gov_receipts (session_id, seq, jwt, hash) VALUES (?, ?, ?, ?)",
            arguments: [receipt.sessionID, receipt.seq, receipt.jwt, receipt.hash])
    }

    /// The session moved since this process's view of it: nothing was written.
    struct StaleView: Error {}

    static func approval(_ row: Row) -> ApprovalIndexRecord {
        ApprovalIndexRecord(
            id: row["id"], sessionID: row["session_id"], workspace: row["workspace"], status: row["status"],
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
    }

    public func approvalSession(id: String) async throws(StoreError) -> ApprovalIndexRecord? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM gov_approvals WHERE id = ?", arguments: [id]).map(Self.approval) }
    }

    public func openApprovals(workspaces: [String]?, now: Date, limit: Int) async throws(StoreError) -> [ApprovalIndexRecord] {
        if let workspaces, workspaces.isEmpty { return [] }
        return try await read { db in
            var arguments: StatementArguments = [now.timeIntervalSince1970]
            var inWorkspaces = ""
            if let workspaces {
                inWorkspaces = " AND workspace IN (" + Array(repeating: "?", count: workspaces.count).joined(separator: ", ") + ")"
                arguments += StatementArguments(workspaces)
            }
            arguments += [max(0, limit)]
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM gov_approvals WHERE status IN ('pending', 'granted') AND expires_at > ?\(inWorkspaces) ORDER BY expires_at LIMIT ?",
                arguments: arguments
            ).map(Self.approval)
        }
    }

    /// Approvals open in `workspace` at `now` (pending or granted, not expired): the count the
    /// per-workspace cap is decided on, inside the writing transaction.
    static func openApprovalCount(_ db: Database, workspace: String, now: Date) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM gov_approvals WHERE workspace = ? AND status IN ('pending', 'granted') AND expires_at > ?",
            arguments: [workspace, now.timeIntervalSince1970]) ?? 0
    }

    public func receipts(sessionID: String) async throws(StoreError) -> [ReceiptRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT seq, jwt FROM gov_receipts WHERE session_id = ? ORDER BY seq", arguments: [sessionID])
                .map { ReceiptRecord(sessionID: sessionID, seq: $0["seq"], jwt: $0["jwt"]) }
        }
    }
}
