import Foundation
import PostgresNIO

extension PostgresStore {
    /// A bounded prune, then one `INSERT … ON CONFLICT … RETURNING`: the row comes back only when
    /// the key was absent or expired, so of two nodes presenting the same proof at once exactly one
    /// gets it (the other waits on the row and then finds it live).
    public func recordProofUse(key: String, expiresAt: Date, now: Date) async throws(StoreError) -> Bool {
        try ProofReplay.check(key)
        return try await run { [self] in
            let batch = ProofReplay.pruneBatch
            try await Self.drain(
                client.query(
                    """
                    DELETE FROM proof_replays WHERE proof_key IN
                        (SELECT proof_key FROM proof_replays WHERE expires_at <= \(now.pg) ORDER BY expires_at LIMIT \(batch))
                    """))
            let rows = try await client.query(
                """
                INSERT INTO proof_replays (proof_key, expires_at) VALUES (\(key), \(expiresAt.pg))
                ON CONFLICT (proof_key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE proof_replays.expires_at <= \(now.pg)
                RETURNING proof_key
                """)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }
}
