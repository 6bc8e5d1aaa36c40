import Metrics
import Synchronization
import TesseraCore

/// One hot session's decisions, planned ahead of their commits (issue 28).
///
/// Why: before this, a decision that found another one in flight for its session was planned
/// inside SQLite's single writer — decode the session's JSON, evaluate, sign the receipt, encode
/// the new state — so one busy agent's calls queued behind ~110 µs of writer work each, while
/// decisions on different sessions ran outside it. One busy agent (one session, many parallel
/// tool calls) is the common case.
///
/// How: each session with decisions in flight has a *lane*. Holding the lane, a decision is
/// planned on the lane's *tip* — the state the previous decision will have written once it
/// commits — encoded, and queued on the group commit, so the writer receives a session's writes
/// in the order they were planned and only runs `UPDATE … WHERE version = ?` and the receipt's
/// INSERT. The tip then moves to the new state. Nothing is answered before its batch's COMMIT.
///
/// What keeps it exact:
/// - each write names the version it was planned on, so a write from another process or path in
///   between changes no row (``SQLiteStore/StaleView``);
/// - each write also names its predecessor in the lane (a ``Link``), and runs only if that
///   predecessor committed, or was written earlier in the same transaction. If an earlier write
///   failed (its savepoint or its batch rolled back), every write planned on it finds its
///   predecessor not committed and writes nothing — a version number alone could not tell, as
///   another writer may have produced the same number with a different state;
/// - a write that wrote nothing is decided again on the committed state, in the writer
///   (``SQLiteStore/mutateSession(id:request:_:)``'s locking path), and the lane's tip is dropped so
///   that later decisions start again from what committed.
final class SessionPipelines: Sendable {
    /// A planned write, as its followers see it.
    final class Link: Sendable {
        private enum State { case queued, written(turn: UInt64), committed, failed }
        private let state = Mutex(State.queued)

        /// On the writer: this write ran, in the writer's turn `turn` (not yet committed).
        func written(turn: UInt64) { state.withLock { $0 = .written(turn: turn) } }

        /// On the writer, once the write's batch is over: it is durable only if it was written and
        /// its batch committed.
        func finished(committed: Bool) {
            state.withLock { state in
                if case .written = state, committed { state = .committed } else { state = .failed }
            }
        }

        /// This write will never commit (it changed nothing, or its batch rolled back): a plan on
        /// it would be thrown away.
        var hasFailed: Bool {
            state.withLock { state in
                if case .failed = state { return true }
                return false
            }
        }

        /// Whether a write planned on this one may run in the writer's turn `turn`: this one is
        /// committed, or was written earlier in the same (still open) transaction.
        func permitsFollower(inTurn turn: UInt64) -> Bool {
            state.withLock { state in
                switch state {
                case .committed: return true
                case .written(let written): return written == turn
                case .queued, .failed: return false
                }
            }
        }
    }

    /// The state the lane's newest planned write leaves, and that write. `epoch` names the run of
    /// writes it belongs to: a failure ends only its own run (see ``Lane/endRun(_:)``).
    struct Tip {
        var state: SessionState
        var version: Int64
        var link: Link
        var epoch: UInt64
    }

    /// One session's decisions in flight on this process.
    ///
    /// A decision holds the lane while it plans and queues its write, so a session's writes reach
    /// the writer in the order they were planned. Waiting for the lane suspends the task (a FIFO
    /// of continuations) instead of blocking its thread: with two cooperative threads, 32 calls
    /// on one session must not park the threads that serve every other request.
    final class Lane: Sendable {
        private struct State {
            var tip: Tip?
            var epoch: UInt64 = 0
            var held = false
            var waiters: [CheckedContinuation<Void, Never>] = []
            var head = 0
        }
        private let state = Mutex(State())

        /// Waits for the lane (first come, first served).
        func acquire() async {
            let acquired = state.withLock { state -> Bool in
                if state.held { return false }
                state.held = true
                return true
            }
            if acquired { return }
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if !state.held {
                        state.held = true
                        return true
                    }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }

        /// Hands the lane to the next waiter, or frees it.
        func release() {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard state.head < state.waiters.count else {
                    state.waiters.removeAll(keepingCapacity: true)
                    state.head = 0
                    state.held = false
                    return nil
                }
                defer { state.head += 1 }
                return state.waiters[state.head]
            }
            next?.resume()
        }

        /// What to plan on (the holder only): the tip, unless its write has already failed — a
        /// plan on it would be thrown away — and the run it belongs to.
        func base() -> (tip: Tip?, epoch: UInt64) {
            state.withLock { state in
                if let tip = state.tip, tip.link.hasFailed {
                    state.tip = nil
                    state.epoch += 1
                }
                return (state.tip, state.epoch)
            }
        }

        /// The holder queued a write: it is the new tip.
        func advance(to tip: Tip) { state.withLock { $0.tip = tip } }

        /// A write of run `epoch` committed: with nothing newer planned, the tip is no longer needed
        /// (the committed view is the same state).
        func committed(_ link: Link) {
            state.withLock { state in if state.tip?.link === link { state.tip = nil } }
        }

        /// A write of run `epoch` wrote nothing: everything planned on it will fail too, so its run
        /// ends and later decisions start again from what committed. A newer run is left alone.
        func endRun(_ epoch: UInt64) {
            state.withLock { state in
                guard state.epoch == epoch else { return }
                state.tip = nil
                state.epoch += 1
            }
        }
    }

    private let lanes = Mutex<[String: (lane: Lane, users: Int)]>([:])
    /// Decisions planned on an uncommitted predecessor, and decisions that had to be decided
    /// again because what they were planned on did not commit or had moved (for tests and the
    /// benchmark's notes).
    let pipelined = Atomic<Int>(0)
    let redecided = Atomic<Int>(0)
    /// `tessera_store_pipelined_decisions_total{outcome="planned_ahead"|"redecided"}`, made at the
    /// first count (the store opens before `serve` bootstraps the metrics system; see `GroupCommit`).
    private let counters = Mutex<(plannedAhead: Counter, redecided: Counter)?>(nil)

    /// Counts a decision planned on an uncommitted predecessor.
    func countPlannedAhead() {
        pipelined.add(1, ordering: .relaxed)
        metrics().plannedAhead.increment()
    }

    /// Counts a decision that had to be decided again in the writer.
    func countRedecided() {
        redecided.add(1, ordering: .relaxed)
        metrics().redecided.increment()
    }

    private func metrics() -> (plannedAhead: Counter, redecided: Counter) {
        counters.withLock { counters in
            if let counters { return counters }
            let label = "tessera_store_pipelined_decisions_total"
            let made = (
                plannedAhead: Counter(label: label, dimensions: [("outcome", "planned_ahead")]),
                redecided: Counter(label: label, dimensions: [("outcome", "redecided")]))
            counters = made
            return made
        }
    }

    /// The lane of `id`, counted as used until ``leave(_:)``.
    func enter(_ id: String) -> Lane {
        lanes.withLock { lanes in
            if let entry = lanes[id] {
                lanes[id] = (entry.lane, entry.users + 1)
                return entry.lane
            }
            let lane = Lane()
            lanes[id] = (lane, 1)
            return lane
        }
    }

    func leave(_ id: String) {
        lanes.withLock { lanes in
            guard let entry = lanes[id] else { return }
            if entry.users <= 1 { lanes[id] = nil } else { lanes[id] = (entry.lane, entry.users - 1) }
        }
    }
}
