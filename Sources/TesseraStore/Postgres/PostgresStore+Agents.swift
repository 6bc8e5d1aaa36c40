import Foundation
import PostgresNIO
import TesseraCore

/// The agent registry and badge bookkeeping.
extension PostgresStore {
    typealias AgentRow = (String, String, String, String, String, String, String, Double)
    static let agentColumns = "id, workspace, name, did, public_jwk, domain, status, created"

    static func agents(_ rows: PostgresRowSequence) async throws -> [AgentRecord] {
        var out: [AgentRecord] = []
        for try await r in rows.decode(AgentRow.self) {
            out.append(AgentRecord(
                id: r.0, workspace: r.1, name: r.2, did: r.3, publicJWK: try StrictJSON.decode(JWK.self, from: Data(r.4.utf8)),
                domain: r.5, status: r.6, created: r.7.date))
        }
        return out
    }

    public func createAgent(_ agent: AgentRecord) async throws(StoreError) {
        let jwk: String
        do { jwk = String(decoding: try JSONEncoder().encode(agent.publicJWK), as: UTF8.self) } catch { throw .invalidState("jwk") }
        do {
            try await client.query(
                "INSERT INTO agents (\(unescaped: Self.agentColumns)) VALUES (\(agent.id), \(agent.workspace), \(agent.name), \(agent.did), \(jwk), \(agent.domain), \(agent.status), \(agent.created.pg))")
        } catch {
            if case .conflict = Self.map(error) { throw .conflict("an agent with this key is already registered in \(agent.workspace)") }
            throw Self.map(error)
        }
    }

    public func agent(id: String) async throws(StoreError) -> AgentRecord? {
        try await run { [self] in try await Self.agents(try await client.query("SELECT \(unescaped: Self.agentColumns) FROM agents WHERE id = \(id)")).first }
    }

    public func listAgents(workspace: String?) async throws(StoreError) -> [AgentRecord] {
        try await run { [self] in
            if let workspace {
                return try await Self.agents(try await client.query("SELECT \(unescaped: Self.agentColumns) FROM agents WHERE workspace = \(workspace) ORDER BY created"))
            }
            return try await Self.agents(try await client.query("SELECT \(unescaped: Self.agentColumns) FROM agents ORDER BY created"))
        }
    }

    public func updateAgent(_ agent: AgentRecord) async throws(StoreError) {
        try await transaction { [self] c in
            var changed = 0
            for try await _ in try await c.query(
                "UPDATE agents SET name = \(agent.name), domain = \(agent.domain), status = \(agent.status) WHERE id = \(agent.id) RETURNING id", logger: logger
            ).decode(String.self) { changed += 1 }
            guard changed == 1 else { throw StoreError.notFound("agent \(agent.id)") }
        }
    }

    public func agents(did: String) async throws(StoreError) -> [AgentRecord] {
        try await run { [self] in try await Self.agents(try await client.query("SELECT \(unescaped: Self.agentColumns) FROM agents WHERE did = \(did) ORDER BY created")) }
    }

    public func createChallenge(_ challenge: ChallengeRecord, limit: Int, now: Date) async throws(StoreError) {
        let audience = SQLiteStore.audienceText(challenge.badgeAudience)
        try await transaction { [self] c in
            // Serialise an agent's challenge creation on its row, so the limit holds across nodes.
            try await Self.drain(c.query("SELECT id FROM agents WHERE id = \(challenge.agentID) FOR UPDATE", logger: logger))
            // Kept a day after expiry for audit (RFC-003 §8.2), then collected.
            try await c.query("DELETE FROM badge_challenges WHERE expires_at < \(now.pg - 86_400)", logger: logger)
            // At the limit, the oldest open challenges *of the same principal* make room: a flood
            // can never stop the holder from getting a fresh one, and one principal (a relying
            // party holding the agent's badge) can never displace another's.
            try await c.query(
                """
                DELETE FROM badge_challenges WHERE id IN (
                    SELECT id FROM badge_challenges WHERE agent_id = \(challenge.agentID) AND account = \(challenge.account) AND NOT used AND expires_at > \(now.pg)
                    ORDER BY expires_at DESC OFFSET \(max(limit - 1, 0)))
                """, logger: logger)
            try await c.query(
                """
                INSERT INTO badge_challenges (id, agent_id, did, nonce, created_at, expires_at, badge_aud, badge_ttl, proof_aud, htu, account)
                VALUES (\(challenge.id), \(challenge.agentID), \(challenge.did), \(challenge.nonce), \(challenge.createdAt.pg), \(challenge.expiresAt.pg),
                        \(audience), \(challenge.badgeTTL), \(challenge.proofAudience), \(challenge.htu), \(challenge.account))
                """,
                logger: logger)
        }
    }

    public func challenge(id: String) async throws(StoreError) -> ChallengeRecord? {
        try await run { [self] in
            let rows = try await client.query(
                "SELECT id, agent_id, did, nonce, created_at, expires_at, badge_aud, badge_ttl, proof_aud, htu, account, used FROM badge_challenges WHERE id = \(id)")
            for try await r in rows.decode((String, String, String, String, Double, Double, String?, Int, String, String, String, Bool).self) {
                return ChallengeRecord(
                    id: r.0, agentID: r.1, did: r.2, nonce: r.3, createdAt: r.4.date, expiresAt: r.5.date, badgeAudience: SQLiteStore.audience(r.6),
                    badgeTTL: r.7, proofAudience: r.8, htu: r.9, account: r.10, used: r.11)
            }
            return nil
        }
    }

    public func markChallengeUsed(id: String, at: Date, badgeJTI: String) async throws(StoreError) -> Bool {
        try await run { [self] in
            // One UPDATE … RETURNING: of two nodes answering the same challenge, one wins.
            let rows = try await client.query(
                "UPDATE badge_challenges SET used = TRUE, used_at = \(at.pg), issued_badge_jti = \(badgeJTI) WHERE id = \(id) AND NOT used RETURNING id")
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }

    public func allocateStatusIndex(_ entry: StatusEntry) async throws(StoreError) -> Int64 {
        try await run { [self] in
            let rows = try await client.query(
                "INSERT INTO status_entries (kind, jti, agent_id, expires_at) VALUES (\(entry.kind), \(entry.jti), \(entry.agentID), \(entry.expiresAt.pg)) RETURNING idx")
            for try await idx in rows.decode(Int64.self) { return idx }
            throw StoreError.invalidState("status index")
        }
    }

    public func statusEntries(in range: ClosedRange<Int64>, now: Date) async throws(StoreError) -> StatusEntries {
        try await run { [self] in
            var highest: Int64?
            for try await value in try await client.query(
                "SELECT MAX(idx) FROM status_entries WHERE idx BETWEEN \(range.lowerBound) AND \(range.upperBound)"
            ).decode(Int64?.self) { highest = value }
            var statuses: [Int64: UInt8] = [:]
            let rows = try await client.query(
                """
                SELECT e.idx, CAST(CASE WHEN e.status <> 0 THEN e.status ELSE 2 END AS INTEGER) FROM status_entries e
                LEFT JOIN agents a ON a.id = e.agent_id
                WHERE e.idx BETWEEN \(range.lowerBound) AND \(range.upperBound) AND e.expires_at > \(now.pg - 60)
                  AND (e.status <> 0 OR a.status = 'disabled')
                """)
            for try await (idx, status) in rows.decode((Int64, Int32).self) { statuses[idx] = UInt8(clamping: status) }
            return StatusEntries(highest: highest, statuses: statuses)
        }
    }

    public func recordBadge(_ badge: BadgeRecord) async throws(StoreError) {
        _ = try await run { [self] in
            try await client.query(
                "INSERT INTO badges (jti, agent_id, workspace, ial, issued_at, expires_at) VALUES (\(badge.jti), \(badge.agentID), \(badge.workspace), \(badge.ial), \(badge.issuedAt.pg), \(badge.expiresAt.pg))")
        }
    }

    public func issueBadge(
        _ issuance: BadgeIssuance, sign: @escaping @Sendable (_ statusIndex: Int64) throws -> String
    ) async throws(StoreError) -> (statusIndex: Int64, token: String)? {
        let badge = issuance.record
        let entry = issuance.status
        return try await transaction { [self] c -> (statusIndex: Int64, token: String)? in
            if let challengeID = issuance.challengeID {
                // The row lock this UPDATE takes makes a concurrent answer on another node wait
                // for this transaction, then find the challenge used.
                let rows = try await c.query(
                    "UPDATE badge_challenges SET used = TRUE, used_at = \(issuance.at.pg), issued_badge_jti = \(badge.jti) WHERE id = \(challengeID) AND NOT used RETURNING id",
                    logger: logger)
                var won = false
                for try await _ in rows.decode(String.self) { won = true }
                guard won else { return nil }
            }
            var allocated: Int64?
            for try await idx in try await c.query(
                "INSERT INTO status_entries (kind, jti, agent_id, expires_at) VALUES (\(entry.kind), \(entry.jti), \(entry.agentID), \(entry.expiresAt.pg)) RETURNING idx",
                logger: logger
            ).decode(Int64.self) { allocated = idx }
            guard let index = allocated else { throw StoreError.invalidState("status index") }
            let token: String
            do {
                token = try sign(index)
            } catch {
                throw StoreError.invalidState("badge signing: \(error)")
            }
            try await c.query(
                "INSERT INTO badges (jti, agent_id, workspace, ial, issued_at, expires_at) VALUES (\(badge.jti), \(badge.agentID), \(badge.workspace), \(badge.ial), \(badge.issuedAt.pg), \(badge.expiresAt.pg))",
                logger: logger)
            return (index, token)
        }
    }

    public func latestBadges(workspace: String) async throws(StoreError) -> [BadgeRecord] {
        try await run { [self] in
            var out: [BadgeRecord] = []
            let rows = try await client.query(
                """
                SELECT DISTINCT ON (agent_id) jti, agent_id, workspace, ial, issued_at, expires_at, revoked_at
                FROM badges WHERE workspace = \(workspace) ORDER BY agent_id, issued_at DESC
                """)
            for try await r in rows.decode((String, String, String, String, Double, Double, Double?).self) {
                out.append(BadgeRecord(jti: r.0, agentID: r.1, workspace: r.2, ial: r.3, issuedAt: r.4.date, expiresAt: r.5.date, revokedAt: r.6?.date))
            }
            return out
        }
    }

    public func badge(jti: String) async throws(StoreError) -> BadgeRecord? {
        try await run { [self] in
            let rows = try await client.query("SELECT jti, agent_id, workspace, ial, issued_at, expires_at, revoked_at FROM badges WHERE jti = \(jti)")
            for try await r in rows.decode((String, String, String, String, Double, Double, Double?).self) {
                return BadgeRecord(jti: r.0, agentID: r.1, workspace: r.2, ial: r.3, issuedAt: r.4.date, expiresAt: r.5.date, revokedAt: r.6?.date)
            }
            return nil
        }
    }

    public func revokeBadge(jti: String, at: Date) async throws(StoreError) {
        try await transaction { [self] c in
            var changed = 0
            for try await _ in try await c.query(
                "UPDATE badges SET revoked_at = COALESCE(revoked_at, \(at.pg)) WHERE jti = \(jti) RETURNING jti", logger: logger
            ).decode(String.self) { changed += 1 }
            guard changed == 1 else { throw StoreError.notFound("badge \(jti)") }
            try await c.query("UPDATE status_entries SET status = 1 WHERE jti = \(jti)", logger: logger)
        }
    }
}
