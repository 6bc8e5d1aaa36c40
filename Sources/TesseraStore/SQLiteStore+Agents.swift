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

    public func createChallenge(_ challenge: ChallengeRecord, limit: Int, now: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "DELETE FROM badge_challenges WHERE expires_at < ?", arguments: [now.timeIntervalSince1970 - 3600])
            // At the limit, the oldest open challenges make room: a flood can never stop the
            // holder from getting a fresh one.
            try db.execute(
                sql: """
                    DELETE FROM badge_challenges WHERE id IN (
                        SELECT id FROM badge_challenges WHERE agent_id = ? AND used = 0 AND expires_at > ?
                        ORDER BY expires_at DESC LIMIT -1 OFFSET ?)
                    """,
                arguments: [challenge.agentID, now.timeIntervalSince1970, max(limit - 1, 0)])
            try db.execute(
                sql: "INSERT INTO badge_challenges (id, agent_id, nonce, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [challenge.id, challenge.agentID, challenge.nonce, challenge.expiresAt.timeIntervalSince1970])
        }
    }

    public func consumeChallenge(id: String, agentID: String, now: Date) async throws(StoreError) -> ChallengeRecord? {
        try await write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM badge_challenges WHERE id = ? AND agent_id = ? AND used = 0", arguments: [id, agentID])
            else { return nil }
            try db.execute(sql: "UPDATE badge_challenges SET used = 1 WHERE id = ?", arguments: [id])
            let record = ChallengeRecord(
                id: row["id"], agentID: row["agent_id"], nonce: row["nonce"], expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
            return record.expiresAt > now ? record : nil
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

    public func badge(jti: String) async throws(StoreError) -> BadgeRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM badges WHERE jti = ?", arguments: [jti]).map { row in
                let revoked: Double? = row["revoked_at"]
                return BadgeRecord(
                    jti: row["jti"], agentID: row["agent_id"], workspace: row["workspace"], ial: row["ial"],
                    issuedAt: Date(timeIntervalSince1970: row["issued_at"]), expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                    revokedAt: revoked.map { Date(timeIntervalSince1970: $0) })
            }
        }
    }

    public func revokeBadge(jti: String, at: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE badges SET revoked_at = COALESCE(revoked_at, ?) WHERE jti = ?", arguments: [at.timeIntervalSince1970, jti])
            guard db.changesCount == 1 else { throw StoreError.notFound("badge \(jti)") }
        }
    }

    public func badgeRevocations(now: Date) async throws(StoreError) -> (revoked: [String], disabledAgents: [String]) {
        try await read { db in
            // A revoked badge leaves the list once it would have expired (plus the verifiers' leeway).
            let revoked = try String.fetchAll(
                db, sql: "SELECT jti FROM badges WHERE revoked_at IS NOT NULL AND expires_at > ?",
                arguments: [now.timeIntervalSince1970 - 60])
            let disabled = try String.fetchAll(db, sql: "SELECT id FROM agents WHERE status = 'disabled'")
            return (revoked, disabled)
        }
    }
}
