import Foundation
import Testing
import TesseraClient
import TesseraCore
import TesseraTestSupport

/// Governance across real `tessera serve` processes sharing one SQLite store.
@Suite("Governance across processes", .serialized)
struct GovernanceEndToEndTests {
    struct Cluster {
        let servers: [ServerProcess]
        let admin: String
        var clients: [TesseraHTTPClient] { servers.map { try! TesseraHTTPClient(baseURL: $0.baseURL) } }
    }

    func cluster(_ count: Int, state: String = makeTemporaryDirectory() + "/state") async throws -> Cluster {
        var servers: [ServerProcess] = []
        for _ in 0..<count {
            let server = try ServerProcess(stateDirectory: state)
            try await server.waitUntilListening()
            servers.append(server)
        }
        let admin = try #require(try await TesseraHTTPClient(baseURL: servers[0].baseURL).bootstrap().bootstrap_admin_api_key)
        return Cluster(servers: servers, admin: admin)
    }

    func post(_ client: TesseraHTTPClient, _ path: String, _ body: [String: JSONValue], token: String? = nil) async throws -> (Int, [String: JSONValue]) {
        let target = token.map { try! TesseraHTTPClient(baseURL: client.baseURL, token: $0) } ?? client
        let (status, bytes) = try await target.raw(.POST, path, body: body)
        return (status, (try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))) ?? [:])
    }

    func issue(_ cluster: Cluster, _ mission: [String: JSONValue]) async throws -> String {
        let (status, body) = try await post(cluster.clients[0], "/issue", ["mission": .object(mission), "ttl_s": 600], token: cluster.admin)
        #expect(status == 200)
        guard case .string(let token)? = body["token"] else { throw ProcessFailure("no token: \(body)") }
        return token
    }

    func startSession(_ cluster: Cluster, _ token: String) async throws -> String {
        let (_, body) = try await post(cluster.clients[0], "/session/start", ["token": .string(token)])
        guard case .string(let id)? = body["session_id"] else { throw ProcessFailure("no session: \(body)") }
        return id
    }

    func receipts(_ cluster: Cluster, _ session: String, server: Int = 0) async throws -> [String] {
        try await receiptJWTs(base: cluster.servers[server].baseURL, admin: cluster.admin, session: session)
    }

    func verifyChain(_ cluster: Cluster, _ jwts: [String]) async throws -> [ReceiptClaims] {
        try await verifiedReceiptChain(base: cluster.servers[0].baseURL, jwts)
    }

    /// Runs `count` jobs on at most `workers` concurrent tasks.
    func pool<T: Sendable>(_ count: Int, workers: Int, _ job: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        let next = SharedMutex(0)
        return try await withThrowingTaskGroup(of: [(Int, T)].self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var done: [(Int, T)] = []
                    while true {
                        let index = next.withLock { value -> Int in defer { value += 1 }; return value }
                        guard index < count else { return done }
                        done.append((index, try await job(index)))
                    }
                }
            }
            var all: [(Int, T)] = []
            for try await part in group { all += part }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    @Test("24 concurrent delegations (16 workers) over two processes against a parent budget of 5 grant exactly 5")
    func concurrentDelegations() async throws {
        let cluster = try await cluster(2)
        let parent = try await issue(cluster, [
            "agent_id": "parent", "mission": "coord", "allowed_tools": .array([.string("read")]), "max_tool_calls": 5,
            "delegation_allowed": true, "max_delegation_depth": 2,
        ])
        let session = try await startSession(cluster, parent)
        let clients = cluster.clients
        let results = try await pool(24, workers: 16) { i in
            try await post(clients[i % 2], "/delegate", [
                "parent_token": .string(parent), "child_agent_id": .string("child-\(i)"), "child_mission": .string("sub-\(i)"),
                "child_allowed_tools": .array([.string("read")]), "child_max_tool_calls": 1,
                "delegation_request_id": .string("r\(i)"),
            ])
        }
        let granted = results.filter { $0.0 == 200 }.compactMap { result -> Int? in
            guard case .object(let claims)? = result.1["child_claims"], case .number(let n)? = claims["max_tool_calls"] else { return nil }
            return n.int
        }
        #expect(granted.reduce(0, +) == 5)
        #expect(results.filter { $0.0 != 200 }.allSatisfy { $0.0 == 403 })
        let chain = try await verifyChain(cluster, try await receipts(cluster, session, server: 1))
        #expect(chain.filter { $0.tool == "delegate_passport" }.count == 5)
        let (_, evaluation) = try await post(clients[1], "/evaluate", ["session_id": .string(session), "tool_name": .string("read")])
        #expect(evaluation["decision"] == .string("DENY"))
        for server in cluster.servers { #expect(try await server.stop() == 0) }
    }

    @Test("/verify answers revocation from memory, yet a revocation on one process refuses /verify there at once and on the other within the change feed's period")
    func verifyRevocationAcrossProcesses() async throws {
        let cluster = try await cluster(2)
        let clients = cluster.clients
        let token = try await issue(cluster, ["agent_id": "agent", "mission": "work", "allowed_tools": .array([.string("read")])])
        // Warm both processes' caches with "not revoked".
        for client in clients {
            for _ in 0..<3 { #expect(try await post(client, "/verify", ["token": .string(token)]).0 == 200) }
        }
        let jti = try #require(CompactJWS.unverifiedPayload(token, as: PassportClaims.self)?.jti)
        let (revoked, _) = try await post(clients[0], "/revoke", ["jti": .string(jti)], token: cluster.admin)
        #expect(revoked == 200)
        // The revoking process: immediately.
        let (here, hereBody) = try await post(clients[0], "/verify", ["token": .string(token)])
        #expect(here == 403)
        #expect(hereBody["error"] == .string("passport_revoked"))
        // The other process: after its next feed read (every 250 ms). The deadline only stops a
        // broken build from hanging; it is not the property (a busy CI may be slow).
        let deadline = ContinuousClock.now + .seconds(15)
        var elsewhere = 0
        repeat {
            elsewhere = try await post(clients[1], "/verify", ["token": .string(token)]).0
            if elsewhere == 403 { break }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        #expect(elsewhere == 403)
        for server in cluster.servers { #expect(try await server.stop() == 0) }
    }

    @Test("200 concurrent evaluations split over two processes against max_tool_calls 50 permit exactly 50")
    func concurrentEvaluations() async throws {
        let cluster = try await cluster(2)
        let token = try await issue(cluster, [
            "agent_id": "agent", "mission": "work", "allowed_tools": .array([.string("read")]), "max_tool_calls": 50,
        ])
        let session = try await startSession(cluster, token)
        let clients = cluster.clients
        let results = try await pool(200, workers: 32) { i in
            try await post(clients[i % 2], "/evaluate", ["session_id": .string(session), "tool_name": .string("read"), "arguments": .object(["i": .number(JSONNumber(i))])])
        }
        #expect(results.allSatisfy { $0.0 == 200 })
        #expect(results.filter { $0.1["decision"] == .string("PERMIT") }.count == 50)
        let chain = try await verifyChain(cluster, try await receipts(cluster, session))
        #expect(chain.count == 200)
        #expect(chain.filter { $0.decision == "PERMIT" }.count == 50)
        // Revocation on one process refuses the next call on the other.
        let (revoked, _) = try await post(clients[0], "/revoke", ["session_id": .string(session)], token: cluster.admin)
        #expect(revoked == 200)
        let (status, body) = try await post(clients[1], "/evaluate", ["session_id": .string(session), "tool_name": .string("read")])
        #expect(status == 403)
        #expect(body["error"] == .string("passport_revoked"))
        for server in cluster.servers { #expect(try await server.stop() == 0) }
    }

    @Test("kill -9 in the middle of a storm of 32 parallel calls on one session, planned ahead of their commits: every answered PERMIT has its receipt, counts equal receipts, the chain verifies")
    func crashSafety() async throws {
        let state = makeTemporaryDirectory() + "/state"
        var cluster = try await cluster(1, state: state)
        let token = try await issue(cluster, ["agent_id": "agent", "mission": "work", "allowed_tools": .array([.string("read")])])
        let session = try await startSession(cluster, token)
        // A short deadline: calls in flight at the kill fail fast.
        let client = try TesseraHTTPClient(baseURL: cluster.servers[0].baseURL, timeout: .seconds(2))
        let answered = SharedMutex<[String]>([])
        let killed = SharedMutex(false)
        let victim = cluster.servers[0]
        let storm = Task {
            try await pool(3000, workers: 32) { i -> Void in
                // Once the server is dead, stop: the HTTP client would wait out its deadline per call.
                guard !killed.withLock({ $0 }) else { return }
                guard let (status, body) = try? await post(client, "/evaluate", [
                    "session_id": .string(session), "tool_name": .string("read"), "arguments": .object(["i": .number(JSONNumber(i))]),
                ]) else { return }
                if status == 200, body["decision"] == .string("PERMIT"), case .string(let id)? = body["receipt_id"] {
                    answered.withLock { $0.append(id) }
                }
            }
        }
        // Let some evaluations land, then kill without warning.
        let deadline = ContinuousClock.now + .seconds(20)
        var plannedAhead = 0.0
        while ContinuousClock.now < deadline {
            plannedAhead = try await metricSum(cluster, "tessera_store_pipelined_decisions_total{outcome=\"planned_ahead\"}")
            if answered.withLock({ $0.count }) >= 100, plannedAhead > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Decisions planned on uncommitted predecessors (issue 28) are what a kill must not break.
        #expect(plannedAhead > 0)
        kill(victim.process.processIdentifier, SIGKILL)
        killed.withLock { $0 = true }
        _ = try? await storm.value
        let permitsAnswered = answered.withLock { $0 }
        #expect(permitsAnswered.count >= 100)

        let restarted = try ServerProcess(stateDirectory: state)
        try await restarted.waitUntilListening()
        cluster = Cluster(servers: [restarted], admin: cluster.admin)
        try await expectSurvivedCrash(cluster, session, answered: permitsAnswered)
        #expect(try await restarted.stop() == 0)
    }

    /// After a kill -9 and a restart: the session's chain verifies, holds every receipt id that was
    /// answered before the kill, and its summary's counts equal the chain.
    func expectSurvivedCrash(_ cluster: Cluster, _ session: String, answered: [String]) async throws {
        let chain = try await verifyChain(cluster, try await receipts(cluster, session))
        let receiptIDs = Set(chain.map(\.jti))
        #expect(answered.allSatisfy { receiptIDs.contains($0) })
        let (_, ended) = try await post(cluster.clients[0], "/session/end", ["session_id": .string(session)])
        guard case .object(let summary)? = ended["summary"], case .number(let permits)? = summary["permits"],
            case .number(let denies)? = summary["denies"], case .number(let count)? = ended["receipts_count"]
        else { throw ProcessFailure("no summary: \(ended)") }
        #expect(permits.int == chain.filter { $0.decision == "PERMIT" }.count)
        #expect((permits.int ?? 0) + (denies.int ?? 0) == chain.count)
        #expect(count.int == chain.count)
    }

    /// The sum of every sample of the server's metric series whose name starts with `prefix`.
    func metricSum(_ cluster: Cluster, _ prefix: String) async throws -> Double {
        let admin = try TesseraHTTPClient(baseURL: cluster.servers[0].baseURL, token: cluster.admin)
        let (status, bytes) = try await admin.raw(.GET, "/metrics", body: Optional<[String: String]>.none)
        #expect(status == 200)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").reduce(0) { sum, line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, parts[0].hasPrefix(prefix), let value = Double(parts[1]) else { return sum }
            return sum + value
        }
    }

    /// The commit batch sizes the server has recorded so far: (batches, decisions in them).
    func commitBatches(_ cluster: Cluster) async throws -> (Double, Double) {
        let admin = try TesseraHTTPClient(baseURL: cluster.servers[0].baseURL, token: cluster.admin)
        let (status, bytes) = try await admin.raw(.GET, "/metrics", body: Optional<[String: String]>.none)
        #expect(status == 200)
        var count = 0.0, sum = 0.0
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            if parts[0].hasPrefix("tessera_store_commit_batch_size_count") { count += value }
            if parts[0].hasPrefix("tessera_store_commit_batch_size_sum") { sum += value }
        }
        return (count, sum)
    }

    @Test("kill -9 during a group-committed storm on three sessions: batches really formed, every answered decision is in its chain, each session's counts equal its receipts")
    func crashSafetyWhileBatching() async throws {
        let state = makeTemporaryDirectory() + "/state"
        var cluster = try await cluster(1, state: state)
        var sessions: [String] = []
        for _ in 0..<3 {
            let token = try await issue(cluster, ["agent_id": "agent", "mission": "work", "allowed_tools": .array([.string("read")]), "max_tool_calls": 5000])
            sessions.append(try await startSession(cluster, token))
        }
        let client = try TesseraHTTPClient(baseURL: cluster.servers[0].baseURL, timeout: .seconds(2))
        let answered = SharedMutex<[String: [String]]>([:])
        let killed = SharedMutex(false)
        let victim = cluster.servers[0]
        let allSessions = sessions
        let storm = Task {
            try await pool(6000, workers: 24) { i -> Void in
                guard !killed.withLock({ $0 }) else { return }
                let session = allSessions[i % allSessions.count]
                guard let (status, body) = try? await post(client, "/evaluate", [
                    "session_id": .string(session), "tool_name": .string("read"), "arguments": .object(["i": .number(JSONNumber(i))]),
                ]) else { return }
                if status == 200, case .string(let id)? = body["receipt_id"] {
                    answered.withLock { $0[session, default: []].append(id) }
                }
            }
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while answered.withLock({ $0.values.map(\.count).reduce(0, +) }) < 600, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        // Batching is what this test is about: more decisions than commits, or it tested nothing.
        let (batches, decisions) = try await commitBatches(cluster)
        #expect(batches > 0 && decisions > batches, "batches \(batches), decisions \(decisions)")
        kill(victim.process.processIdentifier, SIGKILL)
        killed.withLock { $0 = true }
        _ = try? await storm.value
        let answeredBySession = answered.withLock { $0 }
        #expect(answeredBySession.values.map(\.count).reduce(0, +) >= 600)

        let restarted = try ServerProcess(stateDirectory: state)
        try await restarted.waitUntilListening()
        cluster = Cluster(servers: [restarted], admin: cluster.admin)
        for session in sessions {
            let mine = answeredBySession[session] ?? []
            #expect(!mine.isEmpty)
            try await expectSurvivedCrash(cluster, session, answered: mine)
        }
        #expect(try await restarted.stop() == 0)
    }

    @Test("a budget of 40 spent by 32 parallel calls on one session (planned ahead of their commits): exactly 40 PERMITs, answered and in the chain")
    func exactBudgetWhilePipelining() async throws {
        let cluster = try await cluster(1, state: makeTemporaryDirectory() + "/state")
        let token = try await issue(cluster, ["agent_id": "agent", "mission": "work", "allowed_tools": .array([.string("read")]), "max_tool_calls": 40])
        let session = try await startSession(cluster, token)
        let client = try TesseraHTTPClient(baseURL: cluster.servers[0].baseURL, timeout: .seconds(10))
        let permits = SharedMutex(0)
        _ = try await pool(400, workers: 32) { i -> Void in
            let (status, body) = try await post(client, "/evaluate", [
                "session_id": .string(session), "tool_name": .string("read"), "arguments": .object(["i": .number(JSONNumber(i))]),
            ])
            if status == 200, body["decision"] == .string("PERMIT") { permits.withLock { $0 += 1 } }
        }
        #expect(permits.withLock { $0 } == 40)
        let chain = try await verifyChain(cluster, try await receipts(cluster, session))
        #expect(chain.filter { $0.decision == "PERMIT" }.count == 40)
        #expect(try await metricSum(cluster, "tessera_store_pipelined_decisions_total{outcome=\"planned_ahead\"}") > 0)
        for server in cluster.servers { #expect(try await server.stop() == 0) }
    }
}
