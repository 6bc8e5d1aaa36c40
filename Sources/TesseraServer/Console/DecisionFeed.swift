import Foundation
import Synchronization
import TesseraCore

/// The live decision feed behind the console, and the per-workspace decision rates its overview
/// charts.
///
/// `/evaluate` publishes every decision here after its transaction commits. Publishing never
/// waits: it takes one short lock, counts the decision, and appends it to the bounded buffer of
/// each matching subscriber — a subscriber whose browser reads slowly (or not at all) loses rows
/// (counted in `dropped`), never slows the evaluation. Subscribers drain their buffer on their
/// own schedule and send it as one batch, so 1,000 decisions a second reach a page as a few
/// batches a second instead of 1,000 messages.
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

        func matches(_ event: ConsoleWire.DecisionEvent) -> Bool {
            (agentID == nil || agentID == event.agent_id)
                && (passportJTI == nil || passportJTI == event.passport_jti || passportJTI == event.parent_jti)
                && (outcome == nil || outcome == event.decision)
        }
    }

    /// Rows a subscriber may have waiting; past it, new ones are counted as dropped.
    public static let bufferLimit = 1_000
    /// Rows sent in one batch at most (the page renders a batch in one go).
    public static let batchLimit = 250
    /// Live feeds a node serves at once; one more is refused (503) rather than degrading the rest.
    public static let subscriberLimit = 64
    /// Workspaces whose rates are kept; past it, the least recently active are forgotten.
    static let rateWorkspaceLimit = 10_000
    /// Decisions a new subscriber sees at once (the workspace's latest, filtered): an operator
    /// opening the feed sees what was just decided, not an empty table.
    public static let recentLimit = 50

    struct Subscriber {
        var workspace: String
        var filter: Filter
        var buffer: [ConsoleWire.DecisionEvent] = []
        var dropped = 0
        var counts: [String: Int] = [:]
    }

    struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var rates: [String: DecisionRates] = [:]
        var recent: [String: [ConsoleWire.DecisionEvent]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Counts a decision, keeps it among the workspace's latest, and hands it to the subscribers
    /// that want it.
    public func publish(workspace: String, outcome: String, at now: Date, event decision: ConsoleWire.DecisionEvent) {
        state.withLock { state in
            let second = Int64(now.timeIntervalSince1970.rounded(.down))
            state.rates[workspace, default: DecisionRates()].record(outcome, second: second)
            state.recent[workspace, default: []].append(decision)
            if state.recent[workspace]!.count > Self.recentLimit * 2 {
                state.recent[workspace]!.removeFirst(state.recent[workspace]!.count - Self.recentLimit)
            }
            if state.rates.count > Self.rateWorkspaceLimit { state.forgetQuietest(now: second) }
            for id in state.subscribers.keys {
                guard state.subscribers[id]?.workspace == workspace, state.subscribers[id]?.filter.matches(decision) == true else {
                    continue
                }
                state.subscribers[id]?.counts[outcome, default: 0] += 1
                if state.subscribers[id]?.buffer.count ?? 0 < Self.bufferLimit {
                    state.subscribers[id]?.buffer.append(decision)
                } else {
                    state.subscribers[id]?.dropped += 1
                }
            }
        }
    }

    /// Registers a subscriber, its buffer primed with the workspace's latest matching decisions;
    /// nil when the node already serves ``subscriberLimit`` feeds.
    public func subscribe(workspace: String, filter: Filter) -> Int? {
        state.withLock { state in
            guard state.subscribers.count < Self.subscriberLimit else { return nil }
            state.nextID += 1
            // The latest matching decisions first: rows, not counts (the page's totals are "since
            // opened").
            let backlog = (state.recent[workspace] ?? []).filter(filter.matches).suffix(Self.recentLimit)
            state.subscribers[state.nextID] = Subscriber(workspace: workspace, filter: filter, buffer: Array(backlog))
            return state.nextID
        }
    }

    public enum Drained: Sendable, Equatable {
        case nothing
        case batch(ConsoleWire.DecisionBatch)
        /// The subscriber is gone: end the stream.
        case closed
    }

    /// What the subscriber has waiting: at most ``batchLimit`` rows (the newest; older ones are
    /// counted as dropped: a live view wants the present).
    public func drain(_ id: Int) -> Drained {
        state.withLock { state in
            guard var subscriber = state.subscribers[id] else { return .closed }
            guard !subscriber.buffer.isEmpty || subscriber.dropped > 0 else { return .nothing }
            var rows = subscriber.buffer
            var dropped = subscriber.dropped
            if rows.count > Self.batchLimit {
                dropped += rows.count - Self.batchLimit
                rows.removeFirst(rows.count - Self.batchLimit)
            }
            let batch = ConsoleWire.DecisionBatch(decisions: rows, dropped: dropped, counts: subscriber.counts)
            subscriber.buffer.removeAll(keepingCapacity: true)
            subscriber.dropped = 0
            subscriber.counts = [:]
            state.subscribers[id] = subscriber
            return .batch(batch)
        }
    }

    public func cancel(_ id: Int) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// The last hour by outcome, and per second over the last ``ConsoleWire/rateWindow`` seconds.
    public func rates(workspace: String, now: Date) -> (lastHour: [String: Int], perSecond: [Int]) {
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        return state.withLock { state in
            let rates = state.rates[workspace] ?? DecisionRates()
            return (rates.lastHour(now: second), rates.perSecond(now: second))
        }
    }
}

extension DecisionFeed.State {
    mutating func forgetQuietest(now: Int64) {
        rates = rates.filter { now - $0.value.lastSecond < 3_600 }
        while rates.count > DecisionFeed.rateWorkspaceLimit, let quietest = rates.min(by: { $0.value.lastSecond < $1.value.lastSecond }) {
            rates.removeValue(forKey: quietest.key)
        }
        recent = recent.filter { rates[$0.key] != nil }
    }
}

/// Decision counts in two rings: per second for the chart, per minute for the hour's totals.
/// Memory is fixed per workspace whatever the rate.
struct DecisionRates {
    static let outcomes = ["PERMIT", "DENY", "APPROVAL_REQUIRED"]
    struct Slot {
        var at: Int64 = -1
        var counts = [0, 0, 0]
    }

    var seconds = [Slot](repeating: Slot(), count: ConsoleWire.rateWindow)
    var minutes = [Slot](repeating: Slot(), count: 60)
    var lastSecond: Int64 = 0

    mutating func record(_ outcome: String, second: Int64) {
        guard let index = Self.outcomes.firstIndex(of: outcome) else { return }
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
