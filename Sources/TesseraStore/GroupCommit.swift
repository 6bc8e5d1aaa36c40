import GRDB
import Metrics
import Synchronization

/// Group commit for the embedded store's hot write path (one governance decision = one session
/// update + one receipt).
///
/// Why: with `synchronous=FULL` every SQLite commit is one WAL fsync (~0.5 ms on this kind of
/// disk), and SQLite has one writer, so one transaction per decision caps a node near 2,000
/// decisions/s whatever the CPU. Decisions that arrive while a commit is in flight are queued and
/// the next transaction takes all of them: one `BEGIN … COMMIT` and one fsync for the batch.
///
/// What stays exact:
/// - each write runs in its own SAVEPOINT inside the batch, in arrival order, and reads what the
///   writes before it in the same batch wrote — so budgets and receipt chains are computed exactly
///   as if the transactions were separate;
/// - a write that throws rolls back its own savepoint only; the others in the batch are unaffected;
/// - nobody is answered before the batch's COMMIT returns: an answered decision is durable. If the
///   COMMIT fails, every write in the batch is answered with that error (nothing of it is durable).
///
/// No timer: at low load a batch is a single write (latency unchanged); under load the batch
/// grows by itself to whatever arrived during the previous fsync. A batch is capped so one
/// transaction stays short.
final class GroupCommit: Sendable {
    static let maximumBatch = 256

    private let pool: DatabasePool
    private let state = Mutex(State())

    private struct State {
        var pending: [any BatchedWrite] = []
        var draining = false
    }

    init(pool: DatabasePool) { self.pool = pool }

    /// Runs `body` in the next batch's transaction and returns its result once that batch is durable.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = PendingWrite(body: body, continuation: continuation)
            let startDrain = state.withLock { state -> Bool in
                state.pending.append(job)
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [any BatchedWrite] in
                if state.pending.isEmpty {
                    state.draining = false
                    return []
                }
                let count = min(state.pending.count, Self.maximumBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            // Made per batch, not once: the store is opened before `serve` bootstraps the metrics
            // system, and a recorder made earlier would stay bound to the no-op backend.
            Recorder(label: "tessera_store_commit_batch_size").record(batch.count)
            do {
                try await pool.write { db in
                    for job in batch { job.run(db) }
                    // Some SQLite errors (a full disk, an I/O error) roll the whole transaction
                    // back by themselves; the writes that succeeded before it are gone too.
                    guard db.isInsideTransaction else {
                        throw DatabaseError(message: "the batch transaction was rolled back by SQLite")
                    }
                }
                for job in batch { job.finish(commitError: nil) }
            } catch {
                for job in batch { job.finish(commitError: error) }
            }
        }
    }
}

/// One queued write, type-erased so a batch can hold writes of different result types.
private protocol BatchedWrite: Sendable {
    /// Runs inside the batch transaction (on GRDB's writer queue), in a savepoint of its own.
    func run(_ db: Database)
    /// Answers the caller: with the write's own outcome if the batch committed, else with the
    /// commit's error.
    func finish(commitError: (any Error)?)
}

private final class PendingWrite<T: Sendable>: BatchedWrite, @unchecked Sendable {
    // `outcome` is written by `run` on the writer queue and read by `finish` after the batch's
    // transaction has returned: the two never overlap, which is why @unchecked is sound here.
    private let body: @Sendable (Database) throws -> T
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?

    init(body: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ db: Database) {
        do {
            var value: T?
            try db.inSavepoint {
                value = try body(db)
                return .commit
            }
            outcome = value.map { .success($0) } ?? .failure(DatabaseError(message: "savepoint produced no value"))
        } catch {
            outcome = .failure(error)
        }
    }

    func finish(commitError: (any Error)?) {
        if let commitError {
            continuation.resume(throwing: commitError)
        } else {
            continuation.resume(with: outcome ?? .failure(DatabaseError(message: "write did not run")))
        }
    }
}
