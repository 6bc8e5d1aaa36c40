import GRDB
import Metrics
import Synchronization

/// Group commit for the embedded store's hot write path (one governance decision = one session
/// update + one receipt).
///
/// Why: with `synchronous=FULL` every SQLite commit is one WAL fsync, and SQLite has one writer,
/// so on a disk with a slow fsync (~0.5 ms measured on the first machine of this kind) one
/// transaction per decision caps a node near 2,000 decisions/s whatever the CPU. Decisions that
/// arrive while a commit is in flight share the next transaction and its one fsync.
///
/// How, without a task or a timer of its own: a caller that finds no writer turn scheduled
/// schedules one and runs it itself (one hop to GRDB's serial writer and back — the cost of a
/// plain transaction, so low load pays nothing); callers arriving before that turn starts just
/// queue and wait. The turn takes everything queued and commits it as one transaction, then
/// answers each waiter. (Two earlier designs measured worse at low concurrency: a drain task
/// added thread hops, and a writer turn per caller added empty turns.)
///
/// What stays exact:
/// - in a batch of several, each write runs in its own SAVEPOINT, in arrival order, and reads
///   what the writes before it wrote — budgets and receipt chains come out as if the transactions
///   were separate; a write that throws rolls back its own savepoint only;
/// - nobody is answered before their batch's COMMIT returns; if it fails, every write in the batch
///   gets that error and none of it is durable.
final class GroupCommit: Sendable {
    static let maximumBatch = 256

    private let pool: DatabasePool
    private let state = Mutex(State())
    private let batchSizes = Mutex<Recorder?>(nil)
    /// Committed transactions and the writes in them (the metric's figures, for tests).
    private let batches = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)
    /// Numbers the writer's turns; only the writer advances it.
    private let turns = Atomic<UInt64>(0)
    var batchesCommitted: Int { batches.load(ordering: .relaxed) }
    var writesCommitted: Int { writes.load(ordering: .relaxed) }

    private struct State {
        var pending: [any BatchedWrite] = []
        /// A turn has been scheduled and has not yet taken its batch.
        var turnScheduled = false
    }

    init(pool: DatabasePool) { self.pool = pool }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await complete(enqueue(body))
    }

    /// A write queued in arrival order, not yet driven (see ``enqueue(_:onWritten:onFinish:)``).
    struct Ticket<T: Sendable>: Sendable {
        fileprivate let job: PendingWrite<T>
        fileprivate let lead: Bool
    }

    /// Queues `body` now, synchronously, so that a caller holding its own lane can fix the order
    /// of its writes (the session pipeline queues a session's decisions in the order it planned
    /// them). On the writer: `onWritten` runs once the write has run and its savepoint is released
    /// (with the writer's turn number), and `onFinish` once the batch holding it has committed
    /// (`true`) or failed (`false`), before the next batch starts. ``complete(_:)`` then drives
    /// the turn if needed and waits for the answer.
    func enqueue<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T, onWritten: (@Sendable (UInt64) -> Void)? = nil,
        onFinish: (@Sendable (Bool) -> Void)? = nil
    ) -> Ticket<T> {
        let job = PendingWrite(body: body, onWritten: onWritten, onFinish: onFinish)
        let lead = state.withLock { state -> Bool in
            state.pending.append(job)
            if state.turnScheduled { return false }
            state.turnScheduled = true
            return true
        }
        return Ticket(job: job, lead: lead)
    }

    /// Runs the writer turn if this write's enqueue scheduled it, and waits for its batch.
    ///
    /// The turn runs in a task of its own: GRDB checks the calling task for cancellation before it
    /// runs a block, so a cancelled leader (a client that hung up) would otherwise leave the turn
    /// scheduled and never run — every later write in the process would wait for ever — or
    /// interrupt a batch holding other callers' writes.
    func complete<T: Sendable>(_ ticket: Ticket<T>) async throws -> T {
        var lead = ticket.lead
        while lead {
            do {
                try await Task { try await self.pool.writeWithoutTransaction { db in self.turn(db) } }.value
            } catch {
                // The writer could not be reached (the database is closing): fail what waits.
                failPending(error)
            }
            // More than `maximumBatch` were queued: whoever led schedules the next turn too.
            lead = state.withLock { state -> Bool in
                if state.pending.isEmpty || state.turnScheduled { return false }
                state.turnScheduled = true
                return true
            }
        }
        return try await ticket.job.value()
    }

    /// Answers everything queued with `error` (nothing of it ran).
    private func failPending(_ error: any Error) {
        let batch = state.withLock { state -> [any BatchedWrite] in
            state.turnScheduled = false
            defer { state.pending.removeAll() }
            return state.pending
        }
        for job in batch { job.committed(false) }
        for job in batch { job.finish(commitError: error) }
    }

    /// The writer turn running now (read by writes inside it; see ``SessionPipelines``).
    var currentTurn: UInt64 { turns.load(ordering: .acquiring) }

    /// One writer turn: commits what is queued (up to `maximumBatch`) as one transaction.
    private func turn(_ db: Database) {
        let batch = state.withLock { state -> [any BatchedWrite] in
            state.turnScheduled = false
            let count = min(state.pending.count, Self.maximumBatch)
            let batch = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            return batch
        }
        guard !batch.isEmpty else { return }
        let turn = turns.add(1, ordering: .releasing).newValue
        batchSizes.withLock { recorder in
            // Made at the first decision, not with the store: the store is opened before `serve`
            // bootstraps the metrics system, and a recorder made then would stay bound to the
            // no-op backend. (Making one per batch cost ~10 % at low load.)
            if recorder == nil { recorder = Recorder(label: "tessera_store_commit_batch_size") }
            recorder!.record(batch.count)
        }
        let isolate = batch.count > 1
        do {
            try db.inTransaction(.immediate) {
                for job in batch { try job.run(db, isolated: isolate, turn: turn) }
                // Some SQLite errors (a full disk, an I/O error) roll the whole transaction back
                // by themselves; the writes that succeeded before it are gone too.
                guard db.isInsideTransaction else {
                    throw DatabaseError(message: "the batch transaction was rolled back by SQLite")
                }
                return .commit
            }
            batches.add(1, ordering: .relaxed)
            writes.add(batch.count, ordering: .relaxed)
            for job in batch { job.committed(true) }
            for job in batch { job.finish(commitError: nil) }
        } catch {
            for job in batch { job.committed(false) }
            for job in batch { job.finish(commitError: error) }
        }
    }
}

/// One queued write, type-erased so a batch can hold writes of different result types.
private protocol BatchedWrite: Sendable {
    /// Runs inside the batch transaction (on GRDB's writer queue). `isolated`: in a savepoint of
    /// its own, its error kept for its caller; otherwise (alone in the batch) its error aborts
    /// the transaction.
    func run(_ db: Database, isolated: Bool, turn: UInt64) throws
    /// Tells the write's `onFinish` whether its batch committed (on the writer, before any later batch).
    func committed(_ committed: Bool)
    /// Answers the caller: the write's own outcome if the batch committed, else the commit's error.
    func finish(commitError: (any Error)?)
}

fileprivate final class PendingWrite<T: Sendable>: BatchedWrite, Sendable {
    private let body: @Sendable (Database) throws -> T
    private let onWritten: (@Sendable (UInt64) -> Void)?
    private let onFinish: (@Sendable (Bool) -> Void)?
    private let state = Mutex(State())

    private struct State {
        var attempt: Result<T, any Error>?
        var outcome: Result<T, any Error>?
        var waiter: CheckedContinuation<T, any Error>?
    }

    init(body: @escaping @Sendable (Database) throws -> T, onWritten: (@Sendable (UInt64) -> Void)?, onFinish: (@Sendable (Bool) -> Void)?) {
        self.body = body
        self.onWritten = onWritten
        self.onFinish = onFinish
    }

    func committed(_ committed: Bool) { onFinish?(committed) }

    func run(_ db: Database, isolated: Bool, turn: UInt64) throws {
        let attempt: Result<T, any Error>
        if isolated {
            do {
                var value: T?
                try db.inSavepoint {
                    value = try body(db)
                    return .commit
                }
                attempt = value.map { .success($0) } ?? .failure(DatabaseError(message: "savepoint produced no value"))
            } catch {
                attempt = .failure(error)
            }
        } else {
            attempt = .success(try body(db))
        }
        // Only now — its savepoint released — is the write part of the open transaction.
        if case .success = attempt { onWritten?(turn) }
        state.withLock { $0.attempt = attempt }
    }

    func finish(commitError: (any Error)?) {
        let (waiter, outcome) = state.withLock { state -> (CheckedContinuation<T, any Error>?, Result<T, any Error>) in
            let outcome = commitError.map { .failure($0) } ?? state.attempt ?? .failure(DatabaseError(message: "write did not run"))
            state.outcome = outcome
            defer { state.waiter = nil }
            return (state.waiter, outcome)
        }
        waiter?.resume(with: outcome)
    }

    /// The outcome, waiting for the batch that holds this write to commit.
    func value() async throws -> T {
        if let outcome = state.withLock({ $0.outcome }) { return try outcome.get() }
        return try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<T, any Error>? in
                if let outcome = state.outcome { return outcome }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
