import Foundation
import GRDB
import Testing
import TesseraCore
import TesseraTestSupport

@testable import TesseraStore

/// Security round three (issue 23), finding 8's store half: the fleet-wide replay cache of
/// passport proofs, on every backend (PostgreSQL in `OnPostgreSQL`, skipped unless `scripts/test`
/// provides a cluster).
@Suite("Security round 3: the proof replay cache, on every backend")
struct SecurityRound3BindingStoreTests {
    @Test("round3 8: a proof key is recorded once across handles (even racing), counts as absent once expired, and is bounded", arguments: [Backend.sqlite])
    func replayCache(_ backend: Backend) async throws {
        let (store, open) = try await backend.make()
        let other = try await open()
        let now = Date()
        let key = PassportProofClaims.replayKey(jkt: "holder", jti: UUID().uuidString)
        #expect(try await store.recordProofUse(key: key, expiresAt: now + 125, now: now))
        // The other process or node sees it at once, until it expires.
        #expect(try await other.recordProofUse(key: key, expiresAt: now + 125, now: now) == false)
        #expect(try await store.recordProofUse(key: key, expiresAt: now + 125, now: now + 124) == false)
        #expect(try await other.recordProofUse(key: key, expiresAt: now + 400, now: now + 126))
        #expect(try await store.recordProofUse(key: key, expiresAt: now + 400, now: now + 200) == false)
        // Twenty presentations of one new proof at once, on two handles: exactly one wins.
        let raced = PassportProofClaims.replayKey(jkt: "holder", jti: UUID().uuidString)
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                let handle = index.isMultiple(of: 2) ? store : other
                group.addTask { try await handle.recordProofUse(key: raced, expiresAt: now + 125, now: now) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        // Keys are bounded.
        await #expect(throws: StoreError.self) { _ = try await store.recordProofUse(key: "", expiresAt: now + 1, now: now) }
        await #expect(throws: StoreError.self) {
            _ = try await store.recordProofUse(key: String(repeating: "k", count: 129), expiresAt: now + 1, now: now)
        }
    }

    @Test("round3 8: expired entries are pruned by later uses, a bounded batch at a time")
    func pruning() async throws {
        let store = try SQLiteStore(stateDirectory: makeStateDirectory("prune"))
        let now = Date()
        for index in 0..<100 {
            #expect(try await store.recordProofUse(key: "old-\(index)", expiresAt: now + 10, now: now))
        }
        func rows() async throws -> Int { try await store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM proof_replays") ?? -1 } }
        #expect(try await rows() == 100)
        // Past their expiry, each use removes at most a batch of them before recording itself.
        #expect(try await store.recordProofUse(key: "new-1", expiresAt: now + 200, now: now + 60))
        #expect(try await rows() == 100 - ProofReplay.pruneBatch + 1)
        #expect(try await store.recordProofUse(key: "new-2", expiresAt: now + 200, now: now + 60))
        #expect(try await rows() == 2)
    }
}

extension SecurityRound3BindingStoreTests {
    @Suite("on PostgreSQL", .enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)"))
    struct OnPostgreSQL {
        /// `replayCache` above, with `.postgres`.
        @Test func replayCache() async throws { try await SecurityRound3BindingStoreTests().replayCache(.postgres) }
    }
}
