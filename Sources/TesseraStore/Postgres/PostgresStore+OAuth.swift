import Foundation
import PostgresNIO

extension PostgresStore {
    typealias OAuthRow = (String, String, String, String, String, String, String, Double, Double?, Bool)

    static func oauthRecord(_ row: OAuthRow) -> OAuthRecord? {
        guard let kind = OAuthRecord.Kind(rawValue: row.0) else { return nil }
        return OAuthRecord(
            kind: kind, id: row.1, family: row.2, clientID: row.3, subject: row.4, workspace: row.5, body: row.6,
            createdAt: row.7.date, expiresAt: row.8?.date, used: row.9)
    }

    static func oauthRecords(_ rows: PostgresRowSequence) async throws -> [OAuthRecord] {
        var out: [OAuthRecord] = []
        for try await row in rows.decode(OAuthRow.self) { if let record = oauthRecord(row) { out.append(record) } }
        return out
    }

    public func putOAuth(_ record: OAuthRecord, replace: Bool) async throws(StoreError) {
        try OAuthRecords.check(record.id)
        try await run { [self] in
                try await Self.drain(
                    client.query(
                        """
                        DELETE FROM oauth_records WHERE (kind, id) IN (SELECT kind, id FROM oauth_records
                            WHERE expires_at IS NOT NULL AND expires_at <= \(Date().pg) ORDER BY expires_at LIMIT \(OAuthRecords.pruneBatch))
                        """))
                let (kind, id, family, clientID, subject, workspace, body) = (
                    record.kind.rawValue, record.id, record.family, record.clientID, record.subject, record.workspace, record.body
                )
                let (created, expires, used) = (record.createdAt.pg, record.expiresAt?.pg, record.used)
                if replace {
                    try await Self.drain(
                        client.query(
                            """
                            INSERT INTO oauth_records (kind, id, family, client_id, subject, workspace, body, created_at, expires_at, used)
                            VALUES (\(kind), \(id), \(family), \(clientID), \(subject), \(workspace), \(body), \(created), \(expires), \(used))
                            ON CONFLICT (kind, id) DO UPDATE SET family = EXCLUDED.family, client_id = EXCLUDED.client_id,
                                subject = EXCLUDED.subject, workspace = EXCLUDED.workspace, body = EXCLUDED.body,
                                created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, used = EXCLUDED.used
                            """))
                } else {
                    try await Self.drain(
                        client.query(
                            """
                            INSERT INTO oauth_records (kind, id, family, client_id, subject, workspace, body, created_at, expires_at, used)
                            VALUES (\(kind), \(id), \(family), \(clientID), \(subject), \(workspace), \(body), \(created), \(expires), \(used))
                            """))
            }
        }
    }

    public func oauthRecord(_ kind: OAuthRecord.Kind, id: String, now: Date) async throws(StoreError) -> OAuthRecord? {
        try await run { [self] in
            try await Self.oauthRecords(
                client.query(
                    """
                    SELECT kind, id, family, client_id, subject, workspace, body, created_at, expires_at, used FROM oauth_records
                    WHERE kind = \(kind.rawValue) AND id = \(id) AND (expires_at IS NULL OR expires_at > \(now.pg))
                    """)
            ).first
        }
    }

    public func oauthRecords(_ kind: OAuthRecord.Kind, workspace: String?, subject: String?, family: String?, now: Date, limit: Int) async throws(StoreError) -> [OAuthRecord] {
        try await run { [self] in
            try await Self.oauthRecords(
                client.query(
                    """
                    SELECT kind, id, family, client_id, subject, workspace, body, created_at, expires_at, used FROM oauth_records
                    WHERE kind = \(kind.rawValue) AND (expires_at IS NULL OR expires_at > \(now.pg))
                        AND (\(workspace)::TEXT IS NULL OR workspace = \(workspace)) AND (\(subject)::TEXT IS NULL OR subject = \(subject))
                        AND (\(family)::TEXT IS NULL OR family = \(family))
                    ORDER BY created_at DESC LIMIT \(limit)
                    """))
        }
    }

    /// `UPDATE … WHERE NOT used RETURNING`: of two nodes spending one code, exactly one gets the
    /// row; the other then reads it as spent.
    public func claimOAuth(_ kind: OAuthRecord.Kind, id: String, now: Date) async throws(StoreError) -> OAuthClaim {
        try await run { [self] in
            let claimed = try await Self.oauthRecords(
                client.query(
                    """
                    UPDATE oauth_records SET used = TRUE
                    WHERE kind = \(kind.rawValue) AND id = \(id) AND NOT used AND (expires_at IS NULL OR expires_at > \(now.pg))
                    RETURNING kind, id, family, client_id, subject, workspace, body, created_at, expires_at, FALSE
                    """))
            if let record = claimed.first { return .claimed(record) }
            let existing = try await Self.oauthRecords(
                client.query(
                    """
                    SELECT kind, id, family, client_id, subject, workspace, body, created_at, expires_at, used FROM oauth_records
                    WHERE kind = \(kind.rawValue) AND id = \(id) AND (expires_at IS NULL OR expires_at > \(now.pg))
                    """))
            if let record = existing.first, record.used { return .replayed(record) }
            return .absent
        }
    }

    @discardableResult public func deleteOAuth(_ kind: OAuthRecord.Kind, id: String) async throws(StoreError) -> Bool {
        try await run { [self] in
            let rows = try await client.query("DELETE FROM oauth_records WHERE kind = \(kind.rawValue) AND id = \(id) RETURNING id")
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }

    @discardableResult public func deleteOAuthFamily(_ family: String) async throws(StoreError) -> Int {
        guard !family.isEmpty else { return 0 }
        return try await run { [self] in
            var count = 0
            let rows = try await client.query("DELETE FROM oauth_records WHERE family = \(family) AND kind IN ('code', 'refresh') RETURNING id")
            for try await _ in rows.decode(String.self) { count += 1 }
            return count
        }
    }

    public func deleteOAuthTokens(clientID: String) async throws(StoreError) -> [String] {
        try await run { [self] in
            var families: [String] = []
            let rows = try await client.query(
                "DELETE FROM oauth_records WHERE client_id = \(clientID) AND kind IN ('code', 'refresh', 'pending') RETURNING family")
            for try await family in rows.decode(String.self) where !family.isEmpty && !families.contains(family) { families.append(family) }
            return families
        }
    }
}
