import Foundation
import GRDB
import TesseraCore

extension SQLiteStore {
    public func createAgent(_ agent: AgentRecord) async throws(StoreError) {
        try await write { db in
            if try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM agents WHERE workspace = ? AND did = ?)", arguments: [agent.workspace, agent.did]) == true
            {
                throw StoreError.conflict("an agent with this key is already registered in \(agent.workspace)")
            }
            try db.execute(
                sql: """
                    INSERT INTO agents (id, workspace, name, did, public_jwk, domain, status, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    agent.id, agent.workspace, agent.name, agent.did,
                    String(decoding: try JSONEncoder().encode(agent.publicJWK), as: UTF8.self), agent.domain, agent.status,
                    agent.created.timeIntervalSince1970,
                ])
        }
    }

    static func agent(from row: Row) throws -> AgentRecord {
        let jwk: String = row["public_jwk"]
        return AgentRecord(
            id: row["id"], workspace: row["workspace"], name: row["name"], did: row["did"],
            publicJWK: try StrictJSON.decode(JWK.self, from: Data(jwk.utf8)), domain: row["domain"], status: row["status"],
            created: Date(timeIntervalSince1970: row["created"]))
    }

    public func agent(id: String) async throws(StoreError) -> AgentRecord? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [id]).map(Self.agent(from:)) }
    }

    public func listAgents(workspace: String?) async throws(StoreError) -> [AgentRecord] {
        try await read { db in
            if let workspace {
                return try Row.fetchAll(db, sql: "SELECT * FROM agents WHERE workspace = ? ORDER BY created", arguments: [workspace]).map(Self.agent(from:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM agents ORDER BY created").map(Self.agent(from:))
        }
    }

    public func updateAgent(_ agent: AgentRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE agents SET name = ?, domain = ?, status = ? WHERE id = ?",
                arguments: [agent.name, agent.domain, agent.status, agent.id])
            guard db.changesCount == 1 else { throw StoreError.notFound("agent \(agent.id)") }
        }
    }

    public func agents(did: String) async throws(StoreError) -> [AgentRecord] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM agents WHERE did = ? ORDER BY created", arguments: [did]).map(Self.agent(from:)) }
    }

    public func createChallenge(_ challenge: ChallengeRecord, limit: Int, now: Date) async throws(StoreError) {
        try await write { db in
            // Kept a day after expiry for audit (RFC-003 §8.2), then collected.
            try db.execute(sql: "DELETE FROM badge_challenges WHERE expires_at < ?", arguments: [now.timeIntervalSince1970 - 86_400])
            // At the limit, the oldest open challenges *of the same principal* make room: a flood
            // can never stop the holder from getting a fresh one, and one principal (a relying
            // party holding the agent's badge) can never displace another's.
            try db.execute(
                sql: """
                    DELETE FROM badge_challenges WHERE id IN (
                        SELECT id FROM badge_challenges WHERE agent_id = ? AND account = ? AND used = 0 AND expires_at > ?
                        ORDER BY expires_at DESC LIMIT -1 OFFSET ?)
                    """,
                arguments: [challenge.agentID, challenge.account, now.timeIntervalSince1970, max(limit - 1, 0)])
            try db.execute(
                sql: """
                    INSERT INTO badge_challenges (id, agent_id, did, nonce, created_at, expires_at, badge_aud, badge_ttl, proof_aud, htu, account)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    challenge.id, challenge.agentID, challenge.did, challenge.nonce, challenge.createdAt.timeIntervalSince1970,
                    challenge.expiresAt.timeIntervalSince1970, Self.audienceText(challenge.badgeAudience), challenge.badgeTTL,
                    challenge.proofAudience, challenge.htu, challenge.account,
                ])
        }
    }

    static func audienceText(_ audience: [String]?) -> String? {
        audience.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    static func audience(_ text: String?) -> [String]? {
        text.flatMap { try? StrictJSON.decode([String].self, from: Data($0.utf8)) }
    }

    public func challenge(id: String) async throws(StoreError) -> ChallengeRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM badge_challenges WHERE id = ?", arguments: [id]).map { row in
                ChallengeRecord(
                    id: row["id"], agentID: row["agent_id"], did: row["did"], nonce: row["nonce"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]), expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                    badgeAudience: Self.audience(row["badge_aud"]), badgeTTL: row["badge_ttl"], proofAudience: row["proof_aud"],
                    htu: row["htu"], account: row["account"], used: row["used"])
            }
        }
    }

    public func markChallengeUsed(id: String, at: Date, badgeJTI: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE badge_challenges SET used = 1, used_at = ?, issued_badge_jti = ? WHERE id = ? AND used = 0",
                arguments: [at.timeIntervalSince1970, badgeJTI, id])
            return db.changesCount == 1
        }
    }

    public func allocateStatusIndex(_ entry: StatusEntry) async throws(StoreError) -> Int64 {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO status_entries (kind, jti, agent_id, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [entry.kind, entry.jti, entry.agentID, entry.expiresAt.timeIntervalSince1970])
            return db.lastInsertedRowID
        }
    }

    public func statusEntries(in range: ClosedRange<Int64>, now: Date) async throws(StoreError) -> StatusEntries {
        try await read { db in
            let highest = try Int64.fetchOne(
                db, sql: "SELECT MAX(idx) FROM status_entries WHERE idx BETWEEN ? AND ?", arguments: [range.lowerBound, range.upperBound])
            var statuses: [Int64: UInt8] = [:]
            // Revoked entries, and the badges of disabled agents (suspended), until they expire
            // (plus the verifiers' 60 s of skew).
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.idx, CASE WHEN e.status <> 0 THEN e.status ELSE 2 END AS status FROM status_entries e
                    LEFT JOIN agents a ON a.id = e.agent_id
                    WHERE e.idx BETWEEN ? AND ? AND e.expires_at > ? AND (e.status <> 0 OR a.status = 'disabled')
                    """,
                arguments: [range.lowerBound, range.upperBound, now.timeIntervalSince1970 - 60])
            for row in rows { statuses[row["idx"]] = UInt8(clamping: row["status"] as Int) }
            return StatusEntries(highest: highest, statuses: statuses)
        }
    }

    public func recordBadge(_ badge: BadgeRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO badges (jti, agent_id, workspace, ial, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    badge.jti, badge.agentID, badge.workspace, badge.ial, badge.issuedAt.timeIntervalSince1970,
                    badge.expiresAt.timeIntervalSince1970,
                ])
        }
    }

    public func issueBadge(
        _ issuance: BadgeIssuance, sign: @escaping @Sendable (_ statusIndex: Int64) throws -> String
    ) async throws(StoreError) -> (statusIndex: Int64, token: String)? {
        // One write transaction: GRDB rolls all of it back if anything below throws.
        try await write { db in
            if let challengeID = issuance.challengeID {
                try db.execute(
                    sql: "UPDATE badge_challenges SET used = 1, used_at = ?, issued_badge_jti = ? WHERE id = ? AND used = 0",
                    arguments: [issuance.at.timeIntervalSince1970, issuance.record.jti, challengeID])
                guard db.changesCount == 1 else { return nil }
            }
            let entry = issuance.status
            try db.execute(
                sql: "INSERT INTO status_entries (kind, jti, agent_id, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [entry.kind, entry.jti, entry.agentID, entry.expiresAt.timeIntervalSince1970])
            let index = db.lastInsertedRowID
            let token: String
            do {
                token = try sign(index)
            } catch {
                throw StoreError.invalidState("badge signing: \(error)")
            }
            let badge = issuance.record
            try db.execute(
                sql: "INSERT INTO badges (jti, agent_id, workspace, ial, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    badge.jti, badge.agentID, badge.workspace, badge.ial, badge.issuedAt.timeIntervalSince1970, badge.expiresAt.timeIntervalSince1970,
                ])
            return (index, token)
        }
    }

    public func badge(jti: String) async throws(StoreError) -> BadgeRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM badges WHERE jti = ?", arguments: [jti]).map(Self.badge(from:))
        }
    }

    public func latestBadges(workspace: String) async throws(StoreError) -> [BadgeRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT b.* FROM badges b
                    JOIN (SELECT agent_id, MAX(issued_at) AS latest FROM badges WHERE workspace = ? GROUP BY agent_id) l
                      ON b.agent_id = l.agent_id AND b.issued_at = l.latest
                    WHERE b.workspace = ?
                    """,
                arguments: [workspace, workspace]
            ).map(Self.badge(from:))
        }
    }

    static func badge(from row: Row) -> BadgeRecord {
        let revoked: Double? = row["revoked_at"]
        return BadgeRecord(
            jti: row["jti"], agentID: row["agent_id"], workspace: row["workspace"], ial: row["ial"],
            issuedAt: Date(timeIntervalSince1970: row["issued_at"]), expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            revokedAt: revoked.map { Date(timeIntervalSince1970: $0) })
    }

    public func revokeBadge(jti: String, at: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE badges SET revoked_at = COALESCE(revoked_at, ?) WHERE jti = ?", arguments: [at.timeIntervalSince1970, jti])
            guard db.changesCount == 1 else { throw StoreError.notFound("badge \(jti)") }
            try db.execute(sql: "UPDATE status_entries SET status = 1 WHERE jti = ?", arguments: [jti])
        }
    }
}
