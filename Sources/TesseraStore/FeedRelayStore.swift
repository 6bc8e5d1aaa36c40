import Foundation

/// A decision as it crosses between nodes: who published it, where, and the console's JSON of it.
public struct FeedRelayRecord: Sendable, Equatable {
    /// Rows re-read below the last one seen: a row whose insert started earlier may commit later
    /// (sequence numbers are assigned at insert), so it can appear below the high-water mark.
    public static let overlap: Int64 = 512

    /// The row's order in the shared table (assigned at insert; see ``FeedRelayStore``).
    public var seq: Int64
    public var node: String
    public var workspace: String
    public var outcome: String
    public var atMilliseconds: Int64
    /// `ConsoleWire.DecisionEvent` as JSON.
    public var event: String

    public init(seq: Int64 = 0, node: String, workspace: String, outcome: String, atMilliseconds: Int64, event: String) {
        self.seq = seq
        self.node = node
        self.workspace = workspace
        self.outcome = outcome
        self.atMilliseconds = atMilliseconds
        self.event = event
    }
}

/// The fleet-wide decision feed on a shared store (PostgreSQL): each node appends its decisions
/// to one table and signals the others, which read what they have not seen.
///
/// The signal carries only the publishing node's id (a bounded payload); readers take the rows
/// themselves, so a lost signal or a reconnect costs nothing but one read from the last row seen.
public protocol FeedRelayStore: Sendable {
    /// Appends `records` and signals every listener, in one transaction.
    func appendFeed(_ records: [FeedRelayRecord]) async throws(StoreError)
    /// Rows other nodes published after `seq` (and a few before it, since sequence numbers are
    /// assigned at insert, not at commit), oldest first.
    func feed(after seq: Int64, excludingNode node: String, limit: Int) async throws(StoreError) -> [FeedRelayRecord]
    /// The newest row's `seq` (0 for none): where a starting node begins reading.
    func latestFeedSeq() async throws(StoreError) -> Int64
    /// Deletes rows older than `milliseconds` since 1970 (the console shows an hour).
    func pruneFeed(before milliseconds: Int64) async throws(StoreError)
    /// Waits for signals on a connection of its own, calling `onSignal` for each (and once right
    /// after listening starts, so the caller reads what it missed); returns or throws when the
    /// connection ends.
    func listenFeed(_ onSignal: @escaping @Sendable (String) async -> Void) async throws
}
