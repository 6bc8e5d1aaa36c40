import Foundation
import Synchronization
import TesseraCore

/// The live decision feed behind the console, and the per-workspace decision rates its overview
/// charts.
///
/// `/evaluate` publishes every decision here after its transaction commits. Publishing costs the
/// same whatever the number of open consoles, fast or dead: one short lock, an append to the
/// workspace's log (a ring of the latest ``logCapacity`` decisions) and its counters. Each
/// console's stream reads the log on its own schedule, every 150 ms, from where it last read, and
/// sends what it finds as one batch (at most ``batchLimit`` rows, the newest, with exact counts of
/// everything that matched). A console that reads slowly or not at all only falls behind in the
/// log; nothing is queued for it and nobody waits for it. So 1,000 decisions a second reach a page
/// as a few batches a second, and a dead browser costs nothing.
///
/// The feed is this node's: with several nodes on one PostgreSQL store, a console sees the
/// decisions of the node it is connected to (see docs/console.md).
public final class DecisionFeed: Sendable {
    public struct Filter: Sendable, Equatable {
        public var agentID: String?
        public var passportJTI: String?
        public var outcome: String?

        public init(agentID: String? = nil, passportJTI: String? = nil, outcome: String? = nil) {
            self.agentID = agentID
            self.passportJTI = passportJTI
            self.outcome = outcome
        }

        var isEmpty: Bool { agentID == nil && passportJTI == nil && outcome == nil }

        func matches(_ event: ConsoleWire.DecisionEvent) -> Bool {
            (agentID == nil || agentID == event.agent_id)
                && (passportJTI == nil || passportJTI == event.passport_jti || passportJTI == event.parent_jti)
                && (outcome == nil || outcome == event.decision)
        }
    }

    /// Decisions a workspace's log holds. A console more than this far behind (over 27,000
    /// decisions a second, at a read every 150 ms) has missed some: counted in `dropped`, and an
    /// unfiltered console's counts stay exact; a filtered one cannot know which of those matched.
    public static let logCapacity = 4_096
    /// Rows sent in one batch at most: with a batch every 150 ms, ~670 rows a second per console,
    /// more than anyone reads (the page keeps 500); the counts cover the rest.
    public static let batchLimit = 100
    /// Live feeds a node serves at once; one more is refused (503) rather than degrading the rest.
    public static let subscriberLimit = 64
    /// Live feeds one user may hold on a node (a few tabs, a reconnect racing its old stream):
    /// one user cannot take the node's slots from everyone else.
    public static let subscriberLimitPerUser = 8
    /// Live feeds one workspace may hold on a node: half the node, so one workspace's users
    /// together cannot lock another workspace's operators out of the feed.
    public static let subscriberLimitPerWorkspace = 32
    /// Workspaces whose logs and rates are kept; past it, the least recently active are forgotten.
    static let workspaceLimit = 10_000
    /// Decisions a new subscriber sees at once (the workspace's latest, filtered): an operator
    /// opening the feed sees what was just decided, not an empty table.
    public static let recentLimit = 50

    /// A decision as the feed holds it: shared by every subscriber's buffer, and encoded to JSON
    /// once (by the first stream that sends it), so the cost of encoding grows with the decision
    /// rate, not with the decision rate times the number of open consoles.
    public final class Entry: Sendable {
        public let event: ConsoleWire.DecisionEvent
        private let encoded = Mutex<[UInt8]?>(nil)

        init(_ event: ConsoleWire.DecisionEvent) { self.event = event }

        func json() -> [UInt8] {
            if let bytes = encoded.withLock({ $0 }) { return bytes }
            let bytes = (try? Array(CompactJWS.encoder.encode(event))) ?? Array("{}".utf8)
            encoded.withLock { $0 = bytes }
            return bytes
        }
    }

    /// What one stream sends at once: the ``ConsoleWire/DecisionBatch`` wire shape.
    public struct Batch: Sendable, Equatable {
        public var entries: [Entry]
        public var dropped: Int
        public var counts: [String: Int]

        public var decisions: [ConsoleWire.DecisionEvent] { entries.map(\.event) }

        public static func == (a: Batch, b: Batch) -> Bool {
            a.decisions == b.decisions && a.dropped == b.dropped && a.counts == b.counts
        }

        /// `{"counts":…,"decisions":[…],"dropped":n}` (sorted keys, as JSONEncoder would write the
        /// wire type), with each decision's JSON encoded once and reused by every stream.
        public func json() -> [UInt8] {
            var out = Array(#"{"counts":"#.utf8)
            out += (try? CompactJWS.encoder.encode(counts)).map(Array.init) ?? Array("{}".utf8)
            out += Array(#","decisions":["#.utf8)
            for (index, entry) in entries.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += entry.json()
            }
            out += Array(#"],"dropped":\#(dropped)}"#.utf8)
            return out
        }
    }

    /// A workspace's decisions: the latest in a ring, every one in the counters and the rates.
    struct Log {
        var ring: [Entry] = []
        /// Sequence number of the next decision (decisions so far).
        var head: Int64 = 0
        /// Decisions so far by outcome (``DecisionRates/outcomes`` order).
        var totals: [Int64] = [0, 0, 0]
        var rates = DecisionRates()

        mutating func append(_ entry: Entry, outcome: Int?) {
            if ring.count < DecisionFeed.logCapacity {
                ring.append(entry)
            } else {
                ring[Int(head % Int64(DecisionFeed.logCapacity))] = entry
            }
            head += 1
            if let outcome { totals[outcome] += 1 }
        }

        /// The entries from sequence `start` (clamped to what the ring still holds) to the head.
        func entries(from start: Int64) -> ArraySlice<Entry> {
            let first = max(start, head - Int64(ring.count))
            guard first < head else { return [] }
            if ring.count < DecisionFeed.logCapacity { return ring[Int(first)..<Int(head)] }
            let capacity = Int64(DecisionFeed.logCapacity)
            return ArraySlice((first..<head).map { ring[Int($0 % capacity)] })
        }
    }

    struct Subscriber {
        var workspace: String
        /// The user whose credential opened it (its per-user cap).
        var user: String
        var filter: Filter
        /// The next sequence number to read in the workspace's log.
        var cursor: Int64
        /// The workspace's totals when the cursor was last moved (an unfiltered feed's counts are
        /// their difference, exact however far behind it is).
        var totalsAtCursor: [Int64]
        /// Rows shown on opening, not counted.
        var backlog: [Entry]
    }

    struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var logs: [String: Log] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Appends a decision to its workspace's log and counts it. O(1) whatever the subscribers.
    public func publish(workspace: String, outcome: String, at now: Date, event decision: ConsoleWire.DecisionEvent) {
        let entry = Entry(decision)
        let index = DecisionRates.outcomes.firstIndex(of: outcome)
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        state.withLock { state in
            state.logs[workspace, default: Log()].append(entry, outcome: index)
            state.logs[workspace]?.rates.record(index, second: second)
            if state.logs.count > Self.workspaceLimit { state.forgetQuietest(now: second) }
        }
    }

    /// Why a feed was not opened: which cap it met.
    public enum Refusal: Sendable, Equatable {
        /// The user already holds ``subscriberLimitPerUser`` feeds on this node.
        case user
        /// The workspace already holds ``subscriberLimitPerWorkspace`` feeds on this node.
        case workspace
        /// The node already serves ``subscriberLimit`` feeds.
        case node
    }

    public enum Subscription: Sendable, Equatable {
        case subscribed(Int)
        case refused(Refusal)

        /// The subscriber's id, if it was registered.
        public var id: Int? { if case .subscribed(let id) = self { id } else { nil } }
    }

    /// Registers `user`'s subscriber to `workspace`, reading from now on, its first batch primed
    /// with the workspace's latest matching decisions — unless the user, the workspace or the
    /// node is at its cap (checked in that order, under the same lock as the registration).
    public func subscribe(workspace: String, user: String, filter: Filter) -> Subscription {
        state.withLock { state in
            // O(subscriberLimit) counts: at most 64 entries, under a lock taken once per opening.
            guard state.subscribers.values.count(where: { $0.user == user }) < Self.subscriberLimitPerUser else { return .refused(.user) }
            guard state.subscribers.values.count(where: { $0.workspace == workspace }) < Self.subscriberLimitPerWorkspace else {
                return .refused(.workspace)
            }
            guard state.subscribers.count < Self.subscriberLimit else { return .refused(.node) }
            state.nextID += 1
            let log = state.logs[workspace] ?? Log()
            var backlog: [Entry] = []
            for entry in log.entries(from: 0).reversed() where filter.matches(entry.event) {
                backlog.append(entry)
                if backlog.count == Self.recentLimit { break }
            }
            state.subscribers[state.nextID] = Subscriber(
                workspace: workspace, user: user, filter: filter, cursor: log.head, totalsAtCursor: log.totals, backlog: backlog.reversed())
            return .subscribed(state.nextID)
        }
    }

    public enum Drained: Sendable, Equatable {
        case nothing
        case batch(Batch)
        /// The subscriber is gone: end the stream.
        case closed
    }

    /// What the subscriber has not seen yet: at most ``batchLimit`` rows (the newest: a live view
    /// wants the present), the rest counted in `dropped`.
    public func drain(_ id: Int) -> Drained {
        // Under the lock only what is O(batch) (unfiltered) or a copy of the unread references
        // (filtered); the filtering runs outside it, in the subscriber's own task.
        let taken: (subscriber: Subscriber, unread: ArraySlice<Entry>, missed: Int64, totals: [Int64])? = state.withLock { state in
            guard var subscriber = state.subscribers[id] else { return nil }
            let log = state.logs[subscriber.workspace] ?? Log()
            let available = log.head - subscriber.cursor
            let unread = log.entries(from: subscriber.filter.isEmpty ? max(subscriber.cursor, log.head - Int64(Self.batchLimit)) : subscriber.cursor)
            let missed = subscriber.filter.isEmpty ? 0 : available - Int64(unread.count)
            let before = subscriber
            subscriber.cursor = log.head
            subscriber.totalsAtCursor = log.totals
            subscriber.backlog = []
            state.subscribers[id] = subscriber
            return (before, unread, missed, log.totals)
        }
        guard let taken else { return .closed }
        let subscriber = taken.subscriber
        var rows: [Entry]
        var counts: [String: Int] = [:]
        var dropped: Int
        if subscriber.filter.isEmpty {
            rows = Array(taken.unread)
            for (index, outcome) in DecisionRates.outcomes.enumerated() {
                let count = taken.totals[index] - subscriber.totalsAtCursor[index]
                if count > 0 { counts[outcome] = Int(count) }
            }
            dropped = counts.values.reduce(0, +) - rows.count
        } else {
            let matched = taken.unread.filter { subscriber.filter.matches($0.event) }
            for entry in matched { counts[entry.event.decision, default: 0] += 1 }
            rows = Array(matched.suffix(Self.batchLimit))
            dropped = matched.count - rows.count + Int(taken.missed)
        }
        rows = subscriber.backlog + rows
        guard !rows.isEmpty || dropped > 0 else { return .nothing }
        return .batch(Batch(entries: rows, dropped: dropped, counts: counts))
    }

    public func cancel(_ id: Int) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// The last hour by outcome, and per second over the last ``ConsoleWire/rateWindow`` seconds.
    public func rates(workspace: String, now: Date) -> (lastHour: [String: Int], perSecond: [Int]) {
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        return state.withLock { state in
            let rates = state.logs[workspace]?.rates ?? DecisionRates()
            return (rates.lastHour(now: second), rates.perSecond(now: second))
        }
    }
}

extension DecisionFeed.State {
    /// Forgets workspaces quiet for an hour, then the quietest, to stay within the limit (a
    /// subscriber of a forgotten workspace starts again from an empty log).
    mutating func forgetQuietest(now: Int64) {
        let watched = Set(subscribers.values.map(\.workspace))
        logs = logs.filter { now - $0.value.rates.lastSecond < 3_600 || watched.contains($0.key) }
        while logs.count > DecisionFeed.workspaceLimit, let quietest = logs.min(by: { $0.value.rates.lastSecond < $1.value.rates.lastSecond }) {
            logs.removeValue(forKey: quietest.key)
        }
    }
}

/// Decision counts in two rings: per second for the chart, per minute for the hour's totals.
/// Memory is fixed per workspace whatever the rate.
struct DecisionRates {
    static let outcomes = Decision.Verdict.allCases.map(\.rawValue)
    struct Slot {
        var at: Int64 = -1
        var counts = [0, 0, 0]
    }

    var seconds = [Slot](repeating: Slot(), count: ConsoleWire.rateWindow)
    var minutes = [Slot](repeating: Slot(), count: 60)
    var lastSecond: Int64 = 0

    mutating func record(_ index: Int?, second: Int64) {
        guard let index else { return }
        lastSecond = max(lastSecond, second)
        Self.bump(&seconds, at: second, index)
        Self.bump(&minutes, at: second / 60, index)
    }

    static func bump(_ ring: inout [Slot], at time: Int64, _ index: Int) {
        let slot = Int(time % Int64(ring.count))
        if ring[slot].at != time { ring[slot] = Slot(at: time) }
        ring[slot].counts[index] += 1
    }

    func perSecond(now: Int64) -> [Int] {
        let window = Int64(seconds.count)
        return ((now - window + 1)...now).map { time in
            let slot = seconds[Int(((time % window) + window) % window)]
            return slot.at == time ? slot.counts.reduce(0, +) : 0
        }
    }

    func lastHour(now: Int64) -> [String: Int] {
        let minute = now / 60
        var totals = [0, 0, 0]
        for slot in minutes where slot.at > minute - 60 && slot.at <= minute {
            for index in 0..<3 { totals[index] += slot.counts[index] }
        }
        return Dictionary(uniqueKeysWithValues: zip(Self.outcomes, totals))
    }
}
