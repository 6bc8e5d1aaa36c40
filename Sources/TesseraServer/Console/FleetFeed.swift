import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TesseraCore
import TesseraStore

/// Makes the console's live feed and rates fleet-wide on PostgreSQL (docs/console.md).
///
/// Publishing stays O(1) on the decision's path: the decision goes into this node's
/// ``DecisionFeed`` as before and into a buffer here, under one short lock. Every
/// ``flushInterval`` the buffer is written to the shared table in one statement with a
/// `NOTIFY tessera_feed` whose payload is only the node's id. Every other node listens on a
/// connection of its own, reads the rows it has not seen and publishes them into its own
/// ``DecisionFeed`` — so its consoles, and its overview's rates, show them like its own. After a
/// lost connection the listener reconnects and reads from the last row it saw: nothing published
/// meanwhile is missed (rows are kept an hour). A decision whose node dies within one flush
/// interval is in the store's receipts but not on other nodes' feeds.
public final class FleetFeed: Sendable, Service {
    static let flushInterval: Duration = .milliseconds(50)
    /// Decisions buffered at most between two flushes; past it the oldest are dropped (the feed
    /// is a live view: the receipts are the record).
    static let bufferLimit = 20_000
    static let retention: Int64 = 3_600_000

    let relay: any FeedRelayStore
    let feed: DecisionFeed
    let node: String
    let logger: Logger
    private let buffer = Mutex<[FeedRelayRecord]>([])
    /// The newest row read, and the recent rows already shown (the read overlaps; see
    /// ``FeedRelayStore/feed(after:excludingNode:limit:)``).
    private let cursor = Mutex<(seq: Int64, seen: Set<Int64>)>((0, []))

    public init(relay: any FeedRelayStore, feed: DecisionFeed, logger: Logger) {
        self.relay = relay
        self.feed = feed
        self.logger = logger
        self.node = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(Base64URL.random(byteCount: 6))"
    }

    /// Queues one of this node's decisions for the other nodes.
    func publish(workspace: String, outcome: String, event: ConsoleWire.DecisionEvent) {
        guard let json = try? CompactJWS.encoder.encode(event) else { return }
        let record = FeedRelayRecord(
            node: node, workspace: workspace, outcome: outcome, atMilliseconds: event.at_ms, event: String(decoding: json, as: UTF8.self))
        buffer.withLock { buffer in
            if buffer.count >= Self.bufferLimit { buffer.removeFirst(buffer.count / 2) }
            buffer.append(record)
        }
    }

    public func run() async throws {
        do {
            let latest = try await relay.latestFeedSeq()
            cursor.withLock { $0 = (latest, []) }
        } catch {
            logger.warning("fleet feed: cannot read the feed table; starting from its next row", metadata: ["error": "\(error)"])
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.flushLoop() }
            group.addTask { await self.listenLoop() }
            group.addTask { await self.readLoop() }
            group.addTask { await self.pruneLoop() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func flushLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.flushInterval)
            let records = buffer.withLock { buffer in
                defer { buffer.removeAll(keepingCapacity: true) }
                return buffer
            }
            guard !records.isEmpty else { continue }
            do {
                try await relay.appendFeed(records)
            } catch {
                // Put back (ahead of what came meanwhile, within the bound) and retry next time.
                buffer.withLock { buffer in
                    buffer.insert(contentsOf: records, at: 0)
                    if buffer.count > Self.bufferLimit { buffer.removeFirst(buffer.count - Self.bufferLimit) }
                }
                logger.warning("fleet feed: decisions not shared with other nodes yet; retrying", metadata: ["count": "\(records.count)", "error": "\(error)"])
            }
        }
    }

    private let listening = Atomic<Bool>(false)
    /// Set by a signal; cleared by the reader that catches up.
    private let dirty = Atomic<Bool>(true)

    /// Reads what other nodes published when signalled, and every 5 s regardless (a listening
    /// connection that died silently still costs at most 5 s).
    private func readLoop() async {
        var last = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.flushInterval)
            if dirty.exchange(false, ordering: .relaxed) || ContinuousClock.now - last >= .seconds(5) {
                last = ContinuousClock.now
                await catchUp()
            }
        }
    }

    private func listenLoop() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await relay.listenFeed { [self] payload in
                    listening.store(true, ordering: .relaxed)
                    // Our own signal: nothing to read. Any other (node ids are short) marks the
                    // feed dirty; one reader catches up at most every flush interval, however
                    // many signals arrive. The first call (empty payload) catches up.
                    guard payload != node, payload.utf8.count <= 256 else { return }
                    dirty.store(true, ordering: .relaxed)
                }
            } catch {
                if Task.isCancelled { return }
                if listening.exchange(false, ordering: .relaxed) { failures = 0 }
                failures += 1
                if failures == 1 { logger.warning("fleet feed: listening connection lost; reconnecting", metadata: ["error": "\(error)"]) }
            }
            try? await Task.sleep(for: .milliseconds(min(5_000, 100 * (1 << min(failures, 6)))))
        }
    }

    /// Reads every row of other nodes not shown yet and publishes it locally.
    func catchUp() async {
        while true {
            let after = cursor.withLock { $0.seq }
            let rows: [FeedRelayRecord]
            do {
                rows = try await relay.feed(after: after, excludingNode: node, limit: 1_000)
            } catch {
                logger.warning("fleet feed: cannot read other nodes' decisions", metadata: ["error": "\(error)"])
                return
            }
            let fresh = cursor.withLock { state -> [FeedRelayRecord] in
                let new = rows.filter { !state.seen.contains($0.seq) }
                for row in new { state.seen.insert(row.seq) }
                state.seq = max(state.seq, rows.last?.seq ?? state.seq)
                // Only the overlap window needs remembering.
                let floor = state.seq - FeedRelayRecord.overlap
                if state.seen.count > 4 * Int(FeedRelayRecord.overlap) { state.seen = state.seen.filter { $0 > floor } }
                return new
            }
            for row in fresh {
                guard let event = try? StrictJSON.decode(ConsoleWire.DecisionEvent.self, from: Array(row.event.utf8)) else { continue }
                feed.publish(
                    workspace: row.workspace, outcome: row.outcome, at: Date(timeIntervalSince1970: Double(row.atMilliseconds) / 1000), event: event)
            }
            if rows.count < 1_000 { return }
        }
    }

    private func pruneLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(60))
            let cutoff = Int64(Date().timeIntervalSince1970 * 1000) - Self.retention
            try? await relay.pruneFeed(before: cutoff)
        }
    }
}
