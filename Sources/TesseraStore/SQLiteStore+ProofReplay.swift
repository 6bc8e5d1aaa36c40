import Foundation
import GRDB

extension SQLiteStore {
    /// One write transaction: a bounded prune of expired entries, then an upsert that inserts the
    /// key, or revives it only if its entry has expired (`changes` = 1 means "first use").
    public func recordProofUse(key: String, expiresAt: Date, now: Date) async throws(StoreError) -> Bool {
        try ProofReplay.check(key)
        return try await write { db in
            try db.execute(
                sql: """
                    DELETE FROM proof_replays WHERE proof_key IN
                        (SELECT proof_key FROM proof_replays WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
                    """,
                arguments: [now.timeIntervalSince1970, ProofReplay.pruneBatch])
            try db.execute(
                sql: """
                    INSERT INTO proof_replays (proof_key, expires_at) VALUES (?, ?)
                    ON CONFLICT (proof_key) DO UPDATE SET expires_at = excluded.expires_at WHERE proof_replays.expires_at <= ?
                    """,
                arguments: [key, expiresAt.timeIntervalSince1970, now.timeIntervalSince1970])
            return db.changesCount == 1
        }
    }
}
