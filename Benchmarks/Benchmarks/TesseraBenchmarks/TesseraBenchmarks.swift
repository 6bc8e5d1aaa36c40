import Benchmark
import Crypto
import Foundation
import Logging
import TesseraCore
import TesseraServer
import TesseraStore

/// Each benchmark sits next to its physical floor (raw Ed25519), so docs/performance.md can give
/// every figure as a ratio to it.
let benchmarks: @Sendable () -> Void = {
    let quick = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))
    let key = Ed25519KeyPair()
    let message = Array(repeating: UInt8(7), count: 200)

    // MARK: Floor: raw Ed25519 (swift-crypto)

    Benchmark("Ed25519 sign (raw, swift-crypto)", configuration: quick) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try key.privateKey.signature(for: message)) }
    }
    let signature = try! key.privateKey.signature(for: message)
    Benchmark("Ed25519 verify (raw, swift-crypto)", configuration: quick) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(key.publicKey.backing.isValidSignature(signature, for: message)) }
    }

    // MARK: Token verification (swift-crypto with Tessera's header rules)

    badgeMiddlewareBenchmark(configuration: quick)
    decisionFeedBenchmark(configuration: quick)
    aatBenchmarks(configuration: quick)

    // The registry's real badge, verified as services verify it (RFC-002 §8.1: structure,
    // issuer, signature, time, audience, the IAL-1 did:key binding, the status-list lookup).
    let now = Date().unixSeconds
    let badgeIssuer = "https://registry.example"
    let badge = try! CompactJWS.sign(
        BadgeClaims(
            iss: badgeIssuer, sub: key.publicKey.did, audience: ["svc"], iat: now, exp: now + 3600, ial: "1", key: key.publicKey.publicJWK,
            cnf: .init(kid: DIDs.keyID(did: key.publicKey.did, key: key.publicKey)), level: "1", domain: "agent.example",
            status: StatusClaim(idx: 7, uri: badgeIssuer + "/v1/status-lists/0"), workspace: "default", agentID: "a1"),
        type: BadgeClaims.type, key: key)
    let badgeVerification = BadgeVerification(trustedIssuers: [badgeIssuer], audience: "svc")
    let badgeList = StatusLookup.list(try! StatusList(bits: 2, count: 1024), fresh: true)
    Benchmark("JWS badge verify (swift-crypto + header rules)", configuration: quick) { benchmark in
        let verifier = await JWSVerifier(keys: [key.kid: key.publicKey])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try badgeVerification.verify(badge, now: now, keys: { _ in verifier }, status: { _ in badgeList }))
        }
    }

    let mission10 = Mission(
        agent_id: "a", mission: "m", allowed_tools: (0..<10).map { "tool\($0)" }, resource_scope: (0..<10).map { "/data/\($0)/**" },
        max_tool_calls: 1_000_000)
    let passport = PassportClaims(mission: mission10, issuer: "tessera", workspace: "w", issuedAt: now, ttl: 3600)
    let passportToken = try! CompactJWS.sign(passport, type: PassportClaims.type, key: key)
    Benchmark("passport verify", configuration: quick) { benchmark in
        let verifier = await JWSVerifier(keys: [key.kid: key.publicKey])
        let policy = JWSPolicy(type: PassportClaims.type, issuers: ["tessera"])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try await verifier.verify(passportToken, as: PassportClaims.self, policy: policy)) }
    }

    // What a passport presented again costs (issue 28): the server's `VerifiedTokenCache` hit —
    // one SHA-256 of the token and a dictionary lookup; the revocation check after it is a
    // RevocationCache lookup (not measured here).
    Benchmark("passport verify (verified-token cache hit)", configuration: quick) { benchmark in
        let verifier = await JWSVerifier(keys: [key.kid: key.publicKey])
        let policy = JWSPolicy(type: PassportClaims.type, issuers: ["tessera"])
        let claims = try await verifier.verify(passportToken, as: PassportClaims.self, policy: policy)
        let cache = VerifiedTokenCache<PassportClaims>()
        cache.remember(claims, for: passportToken, expiresAt: claims.exp ?? 0, generation: 1)
        let at = now
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(cache.claims(for: passportToken, now: at, generation: 1)) }
    }

    // MARK: In-process evaluation (no store write)

    func session(_ mission: Mission) -> SessionState {
        SessionState(id: "s", passport: PassportClaims(mission: mission, issuer: "t", workspace: "w", issuedAt: now, ttl: 3600), startedAt: Date())
    }
    let allowArgs: [String: JSONValue] = ["path": "/data/9/reports/q3.csv"]
    for (name, mission, tool) in [
        ("evaluate allow (10 tools, 10 globs)", mission10, "tool9"),
        ("evaluate deny: tool not allowed (10 tools)", mission10, "other"),
        ("evaluate allow (1000 tools, 10 globs)", Mission(agent_id: "a", mission: "m", allowed_tools: (0..<1000).map { "tool\($0)" }, resource_scope: mission10.resource_scope), "tool999"),
        ("evaluate allow (10 tools, 100 globs)", Mission(agent_id: "a", mission: "m", allowed_tools: mission10.allowed_tools, resource_scope: (0..<100).map { "/data/\($0)/**" }), "tool9"),
        ("evaluate allow (10000 tools, 10 globs)", Mission(agent_id: "a", mission: "m", allowed_tools: (0..<10_000).map { "tool\($0)" }, resource_scope: mission10.resource_scope), "tool9999"),
    ] {
        let state = session(mission)
        let evaluator = Evaluator(passport: state.passport)
        let at = Date()
        Benchmark(name, configuration: quick) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(evaluator.evaluate(state, tool: tool, arguments: allowArgs, now: at)) }
        }
    }

    // MARK: Argument constraints (issue 12): one tool, six constraints, all passing

    do {
        let tools = try! StrictJSON.object(Array(#"""
            {"call": {"arguments": {
                "path": {"subpath": "/srv/data"},
                "url": {"url": {"schemes": ["https"], "hosts": ["api.example.com", "*.docs.example.com"], "path_prefix": "/v1"}},
                "amount": {"range": {"min": 0, "max": 1000}},
                "to": {"one_of": ["ops", "payroll", "vendors"]},
                "name": {"pattern": "report-*.csv"},
                "cmd": {"shell": {"programs": ["git"], "allow_args": ["status", "log *"]}}}}}
            """#.utf8))
        let mission = Mission(agent_id: "a", mission: "m", tools: tools)
        let state = session(mission)
        let evaluator = Evaluator(passport: state.passport)
        let arguments: [String: JSONValue] = [
            "path": "/srv/data/reports/q3.csv", "url": "https://api.example.com/v1/rates", "amount": 250, "to": "payroll",
            "name": "report-q3.csv", "cmd": "git log --oneline",
        ]
        precondition(evaluator.decide(tool: "call", arguments: arguments).verdict == .permit)
        let at = Date()
        Benchmark("evaluate allow (6 constraints: subpath, url, range, one_of, pattern, shell)", configuration: quick) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(evaluator.evaluate(state, tool: "call", arguments: arguments, now: at)) }
        }
    }

    // MARK: Receipts

    Benchmark("receipt append (sign + hash + SQLite write, durable)", configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5))) { benchmark in
        let directory = FileManager.default.temporaryDirectory.path + "/tessera-bench-\(UUID().uuidString)"
        let store = try SQLiteStore(stateDirectory: directory)
        let state = session(Mission(agent_id: "a", mission: "m", allowed_tools: ["read"]))
        try await store.startSession(state)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await store.mutateSession(id: "s", delegationRequestID: nil) { current, _ in
                var next = current
                next.permits += 1
                let receipt = try next.appendReceipt(tool: "read", decision: .permit, arguments: .object(allowArgs), issuer: "t", now: Date(), key: key)
                return SessionMutation(session: next, receipts: [receipt], output: ())
            }
        }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Durable decisions as sessions grow (group commit, 32 writers, real SQLite file)

    for sessions in [1, 100, 10_000] {
        Benchmark(
            "durable decisions, 32 writers, \(sessions) sessions (1,000 per iteration)",
            configuration: .init(metrics: [.wallClock], maxDuration: .seconds(10), maxIterations: 20)
        ) { benchmark in
            let directory = FileManager.default.temporaryDirectory.path + "/tessera-bench-\(UUID().uuidString)"
            let store = try SQLiteStore(stateDirectory: directory)
            let ids = (0..<sessions).map { "s\($0)" }
            for id in ids {
                var state = session(Mission(agent_id: "a", mission: "m", allowed_tools: ["read"]))
                state.id = id
                state.passport.jti = UUID().uuidString
                try await store.startSession(state)
            }
            let counter = Counter()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<32 {
                        group.addTask {
                            while let n = counter.next(limit: 1000) {
                                let id = ids[n % ids.count]
                                try await store.mutateSession(id: id, delegationRequestID: nil) { current, _ in
                                    var next = current
                                    next.permits += 1
                                    let receipt = try next.appendReceipt(
                                        tool: "read", decision: .permit, arguments: .object(allowArgs), issuer: "t", now: Date(), key: key)
                                    return SessionMutation(session: next, receipts: [receipt], output: ())
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                counter.reset()
            }
            benchmark.stopMeasurement()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    var chainState = session(Mission(agent_id: "a", mission: "m", allowed_tools: ["read"]))
    let chain = (0..<10_000).map { i in
        try! chainState.appendReceipt(tool: "read", decision: .permit, arguments: .object(["i": .number(JSONNumber(i))]), issuer: "t", now: Date(), key: key).jwt
    }
    Benchmark("chain verify (10,000 receipts)", configuration: .init(metrics: [.wallClock], maxDuration: .seconds(10), maxIterations: 5)) { benchmark in
        let verifier = await JWSVerifier(keys: [key.kid: key.publicKey])
        benchmark.startMeasurement()
        blackHole(try await ReceiptChain.verify(chain, verifier: verifier))
    }

    // MARK: Credentials

    Benchmark("PBKDF2-HMAC-SHA256 600,000 iterations", configuration: .init(metrics: [.wallClock], maxDuration: .seconds(5), maxIterations: 10)) { benchmark in
        let hasher = PasswordHasher()
        for _ in benchmark.scaledIterations { blackHole(try hasher.hash("correct horse battery")) }
    }

    for (name, ttl) in [("API-key resolution, cached", 10.0), ("API-key resolution, uncached (SQLite read)", 0.0)] {
        Benchmark(name, configuration: quick) { benchmark in
            let directory = FileManager.default.temporaryDirectory.path + "/tessera-bench-\(UUID().uuidString)"
            var configuration = ServerConfiguration()
            configuration.stateDirectory = directory
            configuration.bootstrapMode = "bootstrap"
            let environment = try await ServerEnvironment(
                configuration: configuration, store: try SQLiteStore(stateDirectory: directory), logger: Logger(label: "bench"))
            let plaintext = try await environment.iam.bootstrap().bootstrap_admin_api_key!
            let authenticator = Authenticator(
                store: environment.store, keys: environment.keys, clock: SystemClock(), issuer: "tessera", cacheTTL: ttl,
                logger: Logger(label: "bench"))
            // Warm the cache so the cached case measures hits, not the first miss.
            blackHole(await authenticator.authenticate(bearer: plaintext))
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(await authenticator.authenticate(bearer: plaintext)) }
            benchmark.stopMeasurement()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

/// Hands out 0..<limit once across tasks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next(limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
    func reset() {
        lock.lock()
        value = 0
        lock.unlock()
    }
}
