import Foundation
import Metrics
import Synchronization
import TesseraCore

/// An event ready for sinks: the event and its JSON, encoded once for every sink.
public struct AuditRecord: Sendable {
    public let event: AuditStreamEvent
    public let json: [UInt8]
}

/// A sink's bounded buffer between the request that records an event and the sink's own task.
///
/// Offering never waits: under one short lock the record is appended, or, at ``capacity``,
/// dropped and counted. The sink's task reads a batch without removing it and removes it only
/// once written, so an event that could not be written yet (a receiver down) stays queued and is
/// retried in order — until the queue is full, when new events are the ones dropped.
final class AuditQueue: Sendable {
    let capacity: Int
    private let state = Mutex<[AuditRecord]>([])
    private let written: Counter
    private let dropped: Counter
    private let droppedTotal = Atomic<Int>(0)

    init(sink: String, capacity: Int) {
        self.capacity = capacity
        self.written = Counter(label: "tessera_audit_events_total", dimensions: [("sink", sink), ("result", "written")])
        self.dropped = Counter(label: "tessera_audit_events_total", dimensions: [("sink", sink), ("result", "dropped")])
    }

    /// Appends `record`; false (and counted) when the queue is full.
    func offer(_ record: AuditRecord) -> Bool {
        let accepted = state.withLock { queue in
            guard queue.count < capacity else { return false }
            queue.append(record)
            return true
        }
        if !accepted { countDropped(1) }
        return accepted
    }

    /// The oldest `limit` records, left in the queue.
    func peek(_ limit: Int) -> [AuditRecord] {
        state.withLock { Array($0.prefix(limit)) }
    }

    /// The oldest `limit` records (left in the queue), waiting while there are none: nil once the
    /// queue is empty and the server is stopping. A 20 ms poll: an idle sink costs nothing that
    /// matters, and a busy one never waits.
    func nextBatch(_ limit: Int, until shutdown: AuditShutdown) async -> [AuditRecord]? {
        while true {
            let batch = peek(limit)
            if !batch.isEmpty { return batch }
            if shutdown.requested { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// What became of records taken out of the queue.
    enum Outcome {
        case written
        case dropped
        /// Handed on (to a spool), counted when delivered.
        case handedOn
    }

    /// Removes the oldest `count` records, once written, spooled or given up on.
    func remove(_ count: Int, _ outcome: Outcome) {
        let removed = state.withLock { queue in
            let n = min(count, queue.count)
            queue.removeFirst(n)
            return n
        }
        switch outcome {
        case .written: written.increment(by: removed)
        case .dropped: countDropped(removed)
        case .handedOn: break
        }
    }

    func countDropped(_ count: Int) {
        guard count > 0 else { return }
        dropped.increment(by: count)
        droppedTotal.add(count, ordering: .relaxed)
    }

    func countWritten(_ count: Int) { written.increment(by: count) }

    var count: Int { state.withLock { $0.count } }
    var droppedSoFar: Int { droppedTotal.load(ordering: .relaxed) }

    /// Whether a fail-closed sink still lets decisions through: below three quarters full, so the
    /// decisions already past the check (bounded by the server's concurrency) still find room.
    var hasHeadroom: Bool { count < capacity * 3 / 4 }
}
