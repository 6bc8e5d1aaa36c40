import Benchmark
import Foundation
import TesseraCore
import TesseraServer

/// What `/evaluate` pays to publish a decision to the console's feed, with no console open and
/// with the node's limit of 64 (half of them filtered): the same, by design (a log read by cursors).
func decisionFeedBenchmark(configuration: Benchmark.Configuration) {
    let now = Date()
    let result = GovernanceWire.EvaluationResult(decision: "PERMIT", reason: nil, calls_used: 1, calls_remaining: 9, receipt_id: UUID().uuidString)
    let event = ConsoleWire.DecisionEvent(
        at_ms: 0, agent_id: "agt_0f8e3c2a-1b4d-4e5f-8a9b-0c1d2e3f4a5b", passport_jti: UUID().uuidString, parent_jti: nil, tool: "read_file",
        result: result)
    for consoles in [0, 64] {
        let feed = DecisionFeed()
        for index in 0..<consoles {
            // The node's 64 split over two workspaces (32 each) and eight users per workspace.
            _ = feed.subscribe(workspace: "w\(index % 2)", user: "u\(index % 16)", filter: index % 4 < 2 ? .init() : .init(outcome: "DENY"))
        }
        Benchmark("decision feed publish (\(consoles) consoles open)", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations { feed.publish(workspace: "w0", outcome: "PERMIT", at: now, event: event) }
        }
    }
}
