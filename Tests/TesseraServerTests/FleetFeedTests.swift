import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing
import TesseraCore
import TesseraTestSupport
@testable import TesseraStore

@testable import TesseraServer

/// The console's feed across nodes on one PostgreSQL database (docs/console.md): a decision made
/// on node A reaches node B's feed, and after B's listening connection is cut, what was decided
/// meanwhile still arrives. Reported as skipped (not passed) without a test database.
@Suite(
    "Fleet-wide console feed (PostgreSQL)",
    .enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)"))
struct FleetFeedTests {
    /// How many connections are listening for the feed's signals on the database `store` is on.
    /// A node listens only after reading where the feed ends (see `FleetFeed.run`).
    static func listeners(_ store: PostgresStore) async throws -> Int {
        var count: Int64 = 0
        let rows = try await store.client.query(
            "SELECT COUNT(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'")
        for try await value in rows.decode(Int64.self) { count = value }
        return Int(count)
    }

    @Test("a decision on node A shows on node B's feed and rates; after B's connection is cut, the decisions made meanwhile arrive, each once")
    func acrossNodes() async throws {
        let url = try await TestDatabase.makeEmptyDatabase()
        var nodes: [ServerEnvironment] = []
        for _ in 0..<2 {
            var configuration = ServerConfiguration()
            configuration.port = 0
            nodes.append(try await ServerEnvironment(configuration: configuration, store: try await PostgresStore(url: url), logger: Logger(label: "test")))
        }
        let a = nodes[0], b = nodes[1]
        let fleets = try nodes.map { try #require($0.governance.fleet) }
        let admin = Identity(
            user: UserRecord(id: "admin", username: "admin", passwordHash: "", roles: ["admin"], defaultWorkspace: "default", created: Date()),
            workspace: "default", source: .apiKey(id: "admin"))
        let mission = try Mission.parse(try StrictJSON.object(try JSONSerialization.data(withJSONObject: exampleMission)))
        let (token, _) = try await a.governance.issue(.init(mission: mission, ttl: 300, jkt: nil), by: admin)
        let session = try await a.governance.start(token: token, proof: nil)
        let subscriber = try #require(b.governance.feed.subscribe(workspace: "default", user: "watcher", filter: .init()).id)
        var seen: [String] = []
        func drainB() {
            while case .batch(let batch) = b.governance.feed.drain(subscriber) {
                seen += batch.decisions.compactMap(\.receipt_id)
                if batch.decisions.isEmpty { break }
            }
        }
        func eventually(_ receipts: [String]) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < deadline {
                drainB()
                if Set(receipts).isSubset(of: Set(seen)) { return true }
                try? await Task.sleep(for: .milliseconds(25))
            }
            return false
        }
        let group = ServiceGroup(configuration: .init(services: fleets, logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Both listening before the first decision: a node starts reading from the newest row
            // it found when it started, and listens only once it has (polled, not a fixed wait).
            let probe = try await PostgresStore(url: url)
            let bothListening = try await TesseraTestSupport.eventually(within: .seconds(15), every: .milliseconds(25)) {
                try await Self.listeners(probe) >= 2
            }
            probe.close()
            try #require(bothListening, "both nodes listen for the feed")
            var first: [String] = []
            for _ in 0..<3 {
                let result = try await a.governance.evaluate(sessionID: session.id, tool: "read_file", arguments: ["path": .string("/data/a")])
                first.append(try #require(result.receipt_id))
            }
            #expect(await eventually(first), "A's decisions reached B's feed")
            #expect(b.governance.feed.rates(workspace: "default", now: Date()).lastHour["PERMIT"] == 3, "and B's rates")

            // Cut every listening connection, decide while they are down, and wait for the catch-up.
            let store = try await PostgresStore(url: url)
            try await store.client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
            store.close()
            var second: [String] = []
            for _ in 0..<5 {
                let result = try await a.governance.evaluate(sessionID: session.id, tool: "read_file", arguments: ["path": .string("/data/b")])
                second.append(try #require(result.receipt_id))
            }
            #expect(await eventually(second), "decisions made while B was cut off arrived after it reconnected")
            #expect(seen.count == Set(seen).count, "none twice")
            #expect(seen == first + second, "in order")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        for node in nodes { (node.store as? PostgresStore)?.close() }
    }
}
