import Foundation
import NIOPosix
import PostgresNIO

/// The fleet feed on PostgreSQL: one table (`feed_events`) and `NOTIFY tessera_feed`.
extension PostgresStore: FeedRelayStore {
    static let feedChannel = "tessera_feed"

    public func appendFeed(_ records: [FeedRelayRecord]) async throws(StoreError) {
        guard let node = records.first?.node else { return }
        let workspaces = records.map(\.workspace)
        let outcomes = records.map(\.outcome)
        let times = records.map(\.atMilliseconds)
        let events = records.map(\.event)
        try await transaction { [logger] connection in
            try await connection.query(
                """
                INSERT INTO feed_events (node, workspace, outcome, at_ms, event)
                SELECT \(node), w, o, a, e FROM unnest(\(workspaces)::text[], \(outcomes)::text[], \(times)::bigint[], \(events)::text[]) AS t(w, o, a, e)
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(Self.feedChannel), \(node))", logger: logger)
        }
    }

    public func feed(after seq: Int64, excludingNode node: String, limit: Int) async throws(StoreError) -> [FeedRelayRecord] {
        let from = max(0, seq - FeedRelayRecord.overlap)
        let limit = max(1, min(limit, 10_000))
        return try await run { [self] in
            var out: [FeedRelayRecord] = []
            let rows = try await client.query(
                "SELECT seq, node, workspace, outcome, at_ms, event FROM feed_events WHERE seq > \(from) AND node <> \(node) ORDER BY seq LIMIT \(limit)")
            for try await (seq, node, workspace, outcome, at, event) in rows.decode((Int64, String, String, String, Int64, String).self) {
                out.append(FeedRelayRecord(seq: seq, node: node, workspace: workspace, outcome: outcome, atMilliseconds: at, event: event))
            }
            return out
        }
    }

    public func latestFeedSeq() async throws(StoreError) -> Int64 {
        try await run { [self] in
            var latest: Int64 = 0
            for try await value in try await client.query("SELECT COALESCE(MAX(seq), 0)::bigint FROM feed_events").decode(Int64.self) {
                latest = value
            }
            return latest
        }
    }

    public func pruneFeed(before milliseconds: Int64) async throws(StoreError) {
        try await run { [self] in _ = try await client.query("DELETE FROM feed_events WHERE at_ms < \(milliseconds)") }
    }

    public func listenFeed(_ onSignal: @escaping @Sendable (String) async -> Void) async throws {
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: pool.probeConfiguration, id: 0, logger: logger
        ).get()
        do {
            try await connection.listen(on: Self.feedChannel) { notifications in
                await onSignal("")
                for try await notification in notifications {
                    await onSignal(notification.payload)
                }
            }
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
