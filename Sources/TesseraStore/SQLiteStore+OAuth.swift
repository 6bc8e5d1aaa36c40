import Foundation
import GRDB

extension SQLiteStore {
    static let oauthColumns = "kind, id, family, client_id, subject, workspace, body, created_at, expires_at, used"

    static func oauthRecord(_ row: Row) -> OAuthRecord? {
        guard let kind = OAuthRecord.Kind(rawValue: row["kind"]) else { return nil }
        let expires: Double? = row["expires_at"]
        return OAuthRecord(
            kind: kind, id: row["id"], family: row["family"], clientID: row["client_id"], subject: row["subject"], workspace: row["workspace"],
            body: row["body"], createdAt: Date(timeIntervalSince1970: row["created_at"]), expiresAt: expires.map(Date.init(timeIntervalSince1970:)),
            used: (row["used"] as Int) != 0)
    }

    public func putOAuth(_ record: OAuthRecord, replace: Bool) async throws(StoreError) {
        try OAuthRecords.check(record.id)
        try await write { db in
            try db.execute(
                sql: """
                    DELETE FROM oauth_records WHERE rowid IN
                        (SELECT rowid FROM oauth_records WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?)
                    """,
                arguments: [Date().timeIntervalSince1970, OAuthRecords.pruneBatch])
            try db.execute(
                sql: "INSERT \(replace ? "OR REPLACE " : "")INTO oauth_records (\(Self.oauthColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    record.kind.rawValue, record.id, record.family, record.clientID, record.subject, record.workspace, record.body,
                    record.createdAt.timeIntervalSince1970, record.expiresAt?.timeIntervalSince1970, record.used ? 1 : 0,
                ])
        }
    }

    public func oauthRecord(_ kind: OAuthRecord.Kind, id: String, now: Date) async throws(StoreError) -> OAuthRecord? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.oauthColumns) FROM oauth_records WHERE kind = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)",
                arguments: [kind.rawValue, id, now.timeIntervalSince1970]
            ).flatMap(Self.oauthRecord)
        }
    }

    public func oauthRecords(_ kind: OAuthRecord.Kind, workspace: String?, subject: String?, family: String?, now: Date, limit: Int) async throws(StoreError) -> [OAuthRecord] {
        try await read { db in
            var sql = "SELECT \(Self.oauthColumns) FROM oauth_records WHERE kind = ? AND (expires_at IS NULL OR expires_at > ?)"
            var arguments: StatementArguments = [kind.rawValue, now.timeIntervalSince1970]
            if let workspace {
                sql += " AND workspace = ?"
                arguments += [workspace]
            }
            if let subject {
                sql += " AND subject = ?"
                arguments += [subject]
            }
            if let family {
                sql += " AND family = ?"
                arguments += [family]
            }
            sql += " ORDER BY created_at DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap(Self.oauthRecord)
        }
    }

    public func claimOAuth(_ kind: OAuthRecord.Kind, id: String, now: Date) async throws(StoreError) -> OAuthClaim {
        try await write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.oauthColumns) FROM oauth_records WHERE kind = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)",
                arguments: [kind.rawValue, id, now.timeIntervalSince1970]), let record = Self.oauthRecord(row)
            else { return .absent }
            if record.used { return .replayed(record) }
            try db.execute(sql: "UPDATE oauth_records SET used = 1 WHERE kind = ? AND id = ?", arguments: [kind.rawValue, id])
            return .claimed(record)
        }
    }

    @discardableResult public func deleteOAuth(_ kind: OAuthRecord.Kind, id: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM oauth_records WHERE kind = ? AND id = ?", arguments: [kind.rawValue, id])
            return db.changesCount > 0
        }
    }

    @discardableResult public func deleteOAuthFamily(_ family: String) async throws(StoreError) -> Int {
        guard !family.isEmpty else { return 0 }
        return try await write { db in
            try db.execute(sql: "DELETE FROM oauth_records WHERE family = ? AND kind IN ('code', 'refresh')", arguments: [family])
            return db.changesCount
        }
    }

    public func deleteOAuthTokens(clientID: String) async throws(StoreError) -> [String] {
        try await write { db in
            let families = try String.fetchAll(
                db, sql: "SELECT DISTINCT family FROM oauth_records WHERE client_id = ? AND kind IN ('code', 'refresh') AND family <> ''",
                arguments: [clientID])
            try db.execute(sql: "DELETE FROM oauth_records WHERE client_id = ? AND kind IN ('code', 'refresh', 'pending')", arguments: [clientID])
            return families
        }
    }
}
