import ArgumentParser
import Foundation
import Synchronization
import TesseraCore
import TesseraStore

extension BenchCommand {
    /// Decisions per second and memory with many live sessions (issue 28's scale table): the
    /// store's decision path (`mutateSession`, a receipt signed and chained per decision, durable
    /// commits) on sessions drawn at random, as a node with that many agents at work would see.
    struct Sessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sessions", abstract: "Decisions/s and memory with N live sessions (embedded store or PostgreSQL).")
        @Option(help: "Live sessions to create first.") var sessions = 10_000
        @Option(help: "Decisions to time, each on a session drawn at random.") var decisions = 50_000
        @Option(help: "Concurrent deciders.") var writers = 32
        @Option(help: "State directory of the embedded store (created; reused if it already holds the sessions).") var stateDir: String?
        @Option(help: "A PostgreSQL URL instead of the embedded store.") var databaseURL: String?

        func validate() throws {
            guard (1...10_000_000).contains(sessions), (1...100_000_000).contains(decisions), (1...1024).contains(writers) else {
                throw ValidationError("--sessions 1…10⁷, --decisions 1…10⁸, --writers 1…1024")
            }
            guard (stateDir == nil) != (databaseURL == nil) else { throw ValidationError("give exactly one of --state-dir and --database-url") }
        }

        func run() async throws {
            let key = Ed25519KeyPair()
            let prefix = "bench-\(sessions)-"
            // Filling is not what is measured: the embedded store fills without fsync, then is
            // opened again as `serve` opens it (durable commits).
            if let stateDir {
                let filler = try SQLiteStore(stateDirectory: stateDir, synchronousFull: false)
                try await fill(filler, prefix: prefix)
            }
            let store: any TesseraStore
            if let databaseURL {
                let postgres = try await PostgresStore(url: databaseURL, maximumConnections: 32)
                try await fill(postgres, prefix: prefix)
                store = postgres
            } else {
                store = try SQLiteStore(stateDirectory: stateDir!)
            }
            let residentBefore = Self.residentMegabytes()
            let next = Tickets()
            let total = decisions, count = sessions
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var random = SplitMix(seed: UInt64(writer) &+ 0x9E37_79B9)
                        while next.take() < total {
                            let id = prefix + String(random.next() % UInt64(count))
                            try await store.mutateSession(id: id, delegationRequestID: nil) { current, _ in
                                var state = current
                                state.permits += 1
                                let receipt = try state.appendReceipt(
                                    tool: "read", decision: .permit, arguments: .object(["path": "/data/q3/report.csv"]), issuer: "bench",
                                    now: Date(), key: key)
                                return SessionMutation(session: state, receipts: [receipt], output: ())
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = Self.seconds(ContinuousClock.now - started)
            let result: [String: JSONValue] = [
                "store": .string(databaseURL == nil ? "sqlite" : "postgresql"),
                "sessions": .number(JSONNumber(sessions)), "decisions": .number(JSONNumber(decisions)),
                "writers": .number(JSONNumber(writers)),
                "decisions_per_s": .number(JSONNumber(Int((Double(decisions) / seconds).rounded()))),
                "rss_mb_before_decisions": .number(JSONNumber(residentBefore)),
                "rss_mb_after_decisions": .number(JSONNumber(Self.residentMegabytes())),
            ]
            Output.result(CanonicalJSON.serialize(.object(result)))
        }

        /// Starts the sessions the store does not have yet (`prefix` + 0…N−1), 32 at a time.
        func fill(_ store: any GovernanceStore, prefix: String) async throws {
            if try await store.session(id: prefix + String(sessions - 1)) != nil {
                Output.context("bench sessions: the store already holds \(sessions) sessions")
                return
            }
            let next = Tickets()
            let total = sessions
            let now = Date()
            let mission = Mission(agent_id: "bench", mission: "scale", allowed_tools: ["read"], resource_scope: ["/data/**"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        while true {
                            let i = next.take()
                            guard i < total else { return }
                            let passport = PassportClaims(mission: mission, issuer: "bench", workspace: "default", issuedAt: now.unixSeconds, ttl: 86_400)
                            try await store.startSession(SessionState(id: prefix + String(i), passport: passport, startedAt: now))
                            if (i + 1) % 100_000 == 0 { Output.context("bench sessions: \(i + 1) sessions started…") }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        /// This process's resident memory (VmRSS), in MiB; 0 where /proc is absent.
        static func residentMegabytes() -> Int {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            else { return 0 }
            return kilobytes / 1024
        }
    }

    /// Numbers handed out once each, to concurrent tasks.
    final class Tickets: Sendable {
        private let value = Atomic<Int>(0)
        func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
    }

    /// A small deterministic generator (SplitMix64), so runs draw the same sessions.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
