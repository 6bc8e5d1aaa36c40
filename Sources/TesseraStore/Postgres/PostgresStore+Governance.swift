import Foundation
import PostgresNIO
import TesseraCore

/// Sessions, receipts, delegations, replay cache and revocations. Every mutation locks the
/// session's row (`FOR UPDATE`), so two nodes serialise on it exactly as SQLite processes do on
/// the database lock.
extension PostgresStore {
    static func state(_ json: String) throws -> SessionState {
        try SQLiteStore.stateDecoder.decode(SessionState.self, from: Data(json.utf8))
    }

    static func json(_ state: SessionState) throws -> String {
        String(decoding: try SQLiteStore.stateEncoder.encode(state), as: UTF8.self)
    }

    public func startSession(_ session: SessionState) async throws(StoreError) {
        let json: String
        do { json = try Self.json(session) } catch { throw .invalidState("session") }
        do {
            try await guarded { [self] in try await client.withTransaction(logger: logger) { c in
                // Shared with other starts, exclusive with revocations: a revocation commits either
                // before this transaction's check or after its insert (and then its cascade, which
                // waits for this lock, sees the new session).
                try await Self.drain(c.query("SELECT pg_advisory_xact_lock_shared(\(Self.revocationLock))", logger: logger))
                if try await revokedInLineage(session.passport.jti, parent: session.passport.parent_jti, on: c) {
                    throw StoreError.revoked(session.passport.jti)
                }
                do {
                    try await c.query(
                        "INSERT INTO gov_replay (jti, session_id, seen_at) VALUES (\(session.passport.jti), \(session.id), \(session.startedAt.pg))",
                        logger: logger)
                } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                    throw StoreError.conflict("passport \(session.passport.jti) already started a session")
                } catch {
                    throw StoreError.unavailable("replay cache: \(error)")
                }
                try await c.query(
                    "INSERT INTO gov_sessions (id, jti, parent_jti, workspace, state, started_at) VALUES (\(session.id), \(session.passport.jti), \(session.passport.parent_jti), \(session.passport.workspace), \(json), \(session.startedAt.pg))",
                    logger: logger)
            } }
        } catch {
            throw Self.map(error)
        }
        // The starting node knows the new session exactly (version 0).
        sessionCache.remember(session.id, session, version: 0)
    }

    func fetchSession(_ column: String, _ value: String, lock: Bool = false, on connection: PostgresConnection? = nil) async throws -> SessionState? {
        let query: PostgresQuery = lock
            ? "SELECT state FROM gov_sessions WHERE \(unescaped: column) = \(value) FOR UPDATE"
            : "SELECT state FROM gov_sessions WHERE \(unescaped: column) = \(value)"
        let rows: PostgresRowSequence
        if let connection {
            rows = try await connection.query(query, logger: logger)
        } else {
            rows = try await client.query(query)
        }
        for try await json in rows.decode(String.self) { return try Self.state(json) }
        return nil
    }

    public func session(id: String) async throws(StoreError) -> SessionState? {
        try await run { [self] in try await fetchSession("id", id) }
    }

    public func session(jti: String) async throws(StoreError) -> SessionState? {
        try await run { [self] in try await fetchSession("jti", jti) }
    }

    public func listSessions(workspace: String, limit: Int) async throws(StoreError) -> [SessionState] {
        try await run { [self] in
            var out: [SessionState] = []
            let rows = try await client.query(
                "SELECT state FROM gov_sessions WHERE workspace = \(workspace) ORDER BY started_at DESC LIMIT \(max(0, limit))")
            for try await json in rows.decode(String.self) { out.append(try Self.state(json)) }
            return out
        }
    }

    /// Serialises revocations against session starts (see ``startSession(_:)``).
    static let revocationLock: Int64 = 0x7465_7373_7265_766B

    public func isRevoked(jti: String, parentJTI: String?) async throws(StoreError) -> Bool {
        try await run { [self] in try await client.withConnection { c in try await revokedInLineage(jti, parent: parentJTI, on: c) } }
    }

    /// ``RevocationLineage/Walk`` over this store's rows, one round trip a link.
    func revokedInLineage(_ jti: String, parent: String?, on c: PostgresConnection) async throws -> Bool {
        var walk = RevocationLineage.Walk(jti: jti, parent: parent)
        while let id = walk.next {
            let rows = try await c.query(
                """
                SELECT EXISTS (SELECT 1 FROM gov_revocations WHERE jti = \(id)),
                       (SELECT parent_jti FROM gov_passports WHERE jti = \(id)),
                       EXISTS (SELECT 1 FROM gov_passports WHERE jti = \(id)),
                       (SELECT parent_jti FROM gov_sessions WHERE jti = \(id))
                """, logger: logger)
            var next: String?
            for try await (revoked, recordedParent, recorded, sessionParent) in rows.decode((Bool, String?, Bool, String?).self) {
                if revoked { return true }
                next = walk.givenParent
                    ?? RevocationLineage.Walk.recordedParent(recorded: recorded, passportParent: recordedParent, sessionParent: sessionParent)
            }
            walk.moveUp(to: next)
        }
        return false
    }

    public func recordPassport(_ p: PassportRecord) async throws(StoreError) {
        try await run { [self] in
            try await client.withConnection { c in try await insert(p, on: c) }
        }
    }

    func insert(_ p: PassportRecord, on c: PostgresConnection) async throws {
        try await c.query(
            """
            INSERT INTO gov_passports (jti, parent_jti, workspace, jkt, issued_at, expires_at)
            VALUES (\(p.jti), \(p.parentJTI), \(p.workspace), \(p.jkt), \(p.issuedAt.pg), \(p.expiresAt.pg)) ON CONFLICT (jti) DO NOTHING
            """, logger: logger)
    }

    public func passport(jti: String) async throws(StoreError) -> PassportRecord? {
        try await run { [self] in
            let rows = try await client.query("SELECT jti, parent_jti, workspace, jkt, issued_at, expires_at FROM gov_passports WHERE jti = \(jti)")
            for try await (jti, parent, workspace, jkt, issued, expires) in rows.decode((String, String?, String, String?, Double, Double).self) {
                return PassportRecord(jti: jti, parentJTI: parent, workspace: workspace, jkt: jkt, issuedAt: issued.date, expiresAt: expires.date)
            }
            return nil
        }
    }

    public func revoke(jti: String, at: Date) async throws(StoreError) {
        try await transaction { [self] c in
            try await Self.drain(c.query("SELECT pg_advisory_xact_lock(\(Self.revocationLock))", logger: logger))
            try await c.query("INSERT INTO gov_revocations (jti, revoked_at) VALUES (\(jti), \(at.pg)) ON CONFLICT (jti) DO NOTHING", logger: logger)
            // The status list says so too, for the passport and everything delegated from it.
            var binds = PostgresBindings()
            binds.append(jti)
            try await c.query(PostgresQuery(unsafeSQL: RevocationLineage.markStatusEntries, binds: binds), logger: logger)
            var cascade = RevocationLineage.Cascade(root: jti)
            while let next = cascade.next() {
                let rows = try await c.query("SELECT id, jti, state FROM gov_sessions WHERE jti = \(next) OR parent_jti = \(next) FOR UPDATE", logger: logger)
                var found: [(String, String, String)] = []
                for try await row in rows.decode((String, String, String).self) { found.append(row) }
                for (id, childJTI, json) in found {
                    if let revoked = cascade.visit(session: try Self.state(json), sessionJTI: childJTI, under: next) {
                        try await c.query("UPDATE gov_sessions SET state = \(try Self.json(revoked)) WHERE id = \(id)", logger: logger)
                    }
                }
                var children: [String] = []
                for try await child in try await c.query("SELECT jti FROM gov_passports WHERE parent_jti = \(next)", logger: logger).decode(String.self) {
                    children.append(child)
                }
                cascade.visit(childPassports: children)
            }
        }
    }

    public func mutateSession<Output: Sendable>(
        id: String, request: SessionRequestKey?,
        _ plan: @escaping @Sendable (SessionState, PriorAnswer?) throws -> SessionMutation<Output>
    ) async throws -> Output {
        try await lanes.run(id) { try await mutateInLane(id: id, request: request, plan) }
    }

    func mutateInLane<Output: Sendable>(
        id: String, request: SessionRequestKey?,
        _ plan: @escaping @Sendable (SessionState, PriorAnswer?) throws -> SessionMutation<Output>
    ) async throws -> Output {
        if request == nil, let output = try await decideInOneStatement(id: id, plan) { return output }
        do {
            let (output, seen) = try await guarded { [self] in try await client.withTransaction(logger: logger) { c in
                guard let (current, version) = try await fetchVersionedSession(id, on: c) else { throw StoreError.notFound("session \(id)") }
                var existing: PriorAnswer?
                switch request {
                case .delegation(let requestID):
                    let rows = try await c.query(
                        "SELECT fingerprint, child_jti, child_token, budget, parent_remaining FROM gov_delegations WHERE parent_session_id = \(id) AND request_id = \(requestID)",
                        logger: logger)
                    for try await (fingerprint, childJTI, token, budget, remaining) in rows.decode((String, String, String, Int?, Int?).self) {
                        existing = .delegation(DelegationRecord(
                            parentSessionID: id, requestID: requestID, fingerprint: fingerprint, childJTI: childJTI, childToken: token,
                            budget: budget, parentRemainingAtDelegation: remaining))
                    }
                case .evaluation(let requestID):
                    let rows = try await c.query(
                        "SELECT fingerprint, response FROM gov_evaluations WHERE session_id = \(id) AND request_id = \(requestID)", logger: logger)
                    for try await (fingerprint, response) in rows.decode((String, String).self) {
                        existing = .evaluation(EvaluationRecord(sessionID: id, requestID: requestID, fingerprint: fingerprint, response: response))
                    }
                case nil: break
                }
                let mutation = try await plan(current, existing).resolvingApprovalCapacity { workspace, now in
                    try await openApprovalCount(workspace: workspace, now: now, on: c)
                }
                let (writes, seen) = mutation.writes(over: current, version: version)
                for write in writes { try await execute(write, sessionID: id, on: c) }
                return (mutation.output, seen)
            } }
            // Only what committed may be remembered: an uncommitted state under a version number
            // another node then reaches with different content would let a later write match.
            sessionCache.remember(id, seen.0, version: seen.1)
            return output
        } catch let error as PostgresTransactionError {
            // The plan's own errors (denials, conflicts) pass through unchanged.
            if let closure = error.closureError, !(closure is PSQLError) { throw closure }
            throw Self.map(error)
        } catch {
            // Everything else is the database's (pool shut down, deadline, connection): 503 upstream.
            throw Self.map(error)
        }
    }

    /// One ``SessionWrite`` in PostgreSQL's SQL (the session's version goes up by trigger).
    func execute(_ write: SessionWrite, sessionID id: String, on c: PostgresConnection) async throws {
        switch write {
        case .session(let updated):
            try await Self.drain(c.query("UPDATE gov_sessions SET state = \(try Self.json(updated)) WHERE id = \(id)", logger: logger))
        case .receipt(let r):
            try await c.query(
                "INSERT INTO gov_receipts (session_id, seq, jwt, hash) VALUES (\(r.sessionID), \(r.seq), \(r.jwt), \(r.hash))", logger: logger)
        case .delegation(let d):
            try await c.query(
                """
                INSERT INTO gov_delegations (parent_session_id, request_id, fingerprint, child_jti, child_token, budget, parent_remaining)
                VALUES (\(d.parentSessionID), \(d.requestID), \(d.fingerprint), \(d.childJTI), \(d.childToken), \(d.budget), \(d.parentRemainingAtDelegation))
                """, logger: logger)
        case .passport(let passport): try await insert(passport, on: c)
        case .approval(let a):
            try await c.query(
                """
                INSERT INTO gov_approvals (id, session_id, workspace, status, expires_at)
                VALUES (\(a.id), \(a.sessionID), \(a.workspace), \(a.status), \(a.expiresAt.pg))
                ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status
                """, logger: logger)
        case .evaluation(let e):
            try await c.query(
                "INSERT INTO gov_evaluations (session_id, request_id, fingerprint, response) VALUES (\(e.sessionID), \(e.requestID), \(e.fingerprint), \(e.response))",
                logger: logger)
        }
    }

    /// The session and its version, locked for this transaction.
    func fetchVersionedSession(_ id: String, on connection: PostgresConnection) async throws -> (SessionState, Int64)? {
        let rows = try await connection.query("SELECT state, version FROM gov_sessions WHERE id = \(id) FOR UPDATE", logger: logger)
        for try await (json, version) in rows.decode((String, Int64).self) { return (try Self.state(json), version) }
        return nil
    }

    /// The common decision — one session update and one receipt — in one round trip.
    ///
    /// The five round trips of the locking path (BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT,
    /// COMMIT) were most of a decision's cost on this backend. Here the plan runs on the session as
    /// this node last saw it, and one autocommit statement writes the new state only if the
    /// session's version is still the one seen (every update bumps it, by trigger) and inserts the
    /// receipt only if that update happened. Exactness is unchanged: a stale view can only lose the
    /// race, never write. Returns nil — and the caller takes the locking path, which refreshes the
    /// view — when nothing is cached, the version moved, the plan throws on the cached view, or the
    /// mutation is anything but one update and one receipt.
    func decideInOneStatement<Output: Sendable>(
        id: String, _ plan: @escaping @Sendable (SessionState, PriorAnswer?) throws -> SessionMutation<Output>
    ) async throws -> Output? {
        guard let (cached, version) = sessionCache.session(id),
            let (mutation, updated, receipt) = SessionMutation.plannedDecision(plan, on: cached)
        else { return nil }
        let state = try Self.json(updated)
        let written: Bool
        do {
            written = try await guarded { [self] in
                let rows = try await client.query(
                    """
                    WITH updated AS (
                        UPDATE gov_sessions SET state = \(state) WHERE id = \(id) AND version = \(version) RETURNING id
                    )
                    INSERT INTO gov_receipts (session_id, seq, jwt, hash)
                    SELECT id, \(receipt.seq), \(receipt.jwt), \(receipt.hash) FROM updated
                    RETURNING seq
                    """, logger: logger)
                var count = 0
                for try await _ in rows { count += 1 }
                return count == 1
            }
        } catch {
            sessionCache.forget(id)
            throw Self.map(error)
        }
        guard written else {
            sessionCache.forget(id)
            return nil
        }
        sessionCache.remember(id, updated, version: version + 1)
        sessionCache.hits.add(1, ordering: .relaxed)
        return mutation.output
    }

    static func approvals(_ rows: PostgresRowSequence) async throws -> [ApprovalIndexRecord] {
        var out: [ApprovalIndexRecord] = []
        for try await (id, session, workspace, status, expires) in rows.decode((String, String, String, String, Double).self) {
            out.append(ApprovalIndexRecord(id: id, sessionID: session, workspace: workspace, status: status, expiresAt: expires.date))
        }
        return out
    }

    public func approvalSession(id: String) async throws(StoreError) -> ApprovalIndexRecord? {
        try await run { [self] in
            try await Self.approvals(try await client.query("SELECT id, session_id, workspace, status, expires_at FROM gov_approvals WHERE id = \(id)")).first
        }
    }

    public func openApprovals(workspaces: [String]?, now: Date, limit: Int) async throws(StoreError) -> [ApprovalIndexRecord] {
        if let workspaces, workspaces.isEmpty { return [] }
        let limit = max(0, limit)
        return try await run { [self] in
            if let workspaces {
                return try await Self.approvals(try await client.query(
                    """
                    SELECT id, session_id, workspace, status, expires_at FROM gov_approvals
                    WHERE status IN ('pending', 'granted') AND expires_at > \(now.pg) AND workspace = ANY(\(workspaces))
                    ORDER BY expires_at LIMIT \(limit)
                    """))
            }
            return try await Self.approvals(try await client.query(
                "SELECT id, session_id, workspace, status, expires_at FROM gov_approvals WHERE status IN ('pending', 'granted') AND expires_at > \(now.pg) ORDER BY expires_at LIMIT \(limit)"))
        }
    }

    /// Approvals open in `workspace` at `now`, counted inside the writing transaction after
    /// taking the workspace's approval lock (transaction-scoped), so two nodes opening approvals
    /// in one workspace at once cannot both see room for the last one. Only transactions that
    /// open an approval take it, each after its session's row lock: no lock cycle.
    func openApprovalCount(workspace: String, now: Date, on c: PostgresConnection) async throws -> Int {
        try await Self.drain(c.query("SELECT pg_advisory_xact_lock(hashtextextended(\("tessera.approvals:" + workspace), 0))", logger: logger))
        let rows = try await c.query(
            "SELECT COUNT(*) FROM gov_approvals WHERE workspace = \(workspace) AND status IN ('pending', 'granted') AND expires_at > \(now.pg)",
            logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    public func receipts(sessionID: String) async throws(StoreError) -> [ReceiptRecord] {
        try await run { [self] in
            var out: [ReceiptRecord] = []
            for try await (seq, jwt) in try await client.query("SELECT seq, jwt FROM gov_receipts WHERE session_id = \(sessionID) ORDER BY seq").decode((Int, String).self) {
                out.append(ReceiptRecord(sessionID: sessionID, seq: seq, jwt: jwt))
            }
            return out
        }
    }
}
