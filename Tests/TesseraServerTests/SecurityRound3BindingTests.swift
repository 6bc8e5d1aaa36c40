import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TesseraBadgeMiddleware
import TesseraClient
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// What a `/delegate` proof's `request_digest` is for `body` (base64url SHA-256 of the RFC 8785
/// form of its governing fields), computed the way the SDK and the server compute it.
func delegationRequestDigest(_ body: [String: Any]) throws -> String {
    try DelegationRequest.parse(try StrictJSON.object(try JSONSerialization.data(withJSONObject: body))).proofDigest
}

/// Security round three (issue 23), findings 8, 10, 11, 16 and 18: one regression test (or more)
/// per finding, named after its number, each failing on the code before the fix. Time is a
/// ``ManualClock``, never a sleep.
@Suite("Security round 3: bound tokens stay bound (issue 23)")
struct SecurityRound3BindingTests {
    // MARK: Helpers

    func sessionProof(_ key: Ed25519KeyPair, jti: String, iat: Int64, exp: Int64? = nil) throws -> String {
        var claims = PassportProofClaims(passportJTI: jti, purpose: .sessionStart, iat: iat)
        claims.exp = exp
        return try PassportProofClaims.sign(claims, key: key)
    }

    func delegationProof(_ key: Ed25519KeyPair, jti: String, body: [String: Any], iat: Int64) throws -> String {
        let request = try DelegationRequest.parse(try StrictJSON.object(try JSONSerialization.data(withJSONObject: body)))
        return try PassportProofClaims.sign(.delegation(passportJTI: jti, parentJKT: key.kid, request: request, iat: iat), key: key)
    }

    /// A started parent passport bound to `holder`, allowed three tools and ten calls.
    func boundParent(_ client: IAMClient, _ fixture: IAMFixture, holder: Ed25519KeyPair, clock: ManualClock) async throws -> (String, String) {
        let issued = try await client.post("/issue", token: fixture.adminKey, json: [
            "mission": parentMission(tools: ["read_file", "write_file", "delete_file"], maxCalls: 10), "cnf_jkt": holder.kid,
        ])
        let token = try #require(issued.json["token"] as? String)
        let jti = try #require((issued.json["claims"] as? [String: Any])?["jti"] as? String)
        let started = try await client.post("/session/start", json: [
            "token": token, "proof": try sessionProof(holder, jti: jti, iat: clock.now().unixSeconds),
        ])
        #expect(started.status == .ok, "\(started.body)")
        return (token, jti)
    }

    // MARK: Finding 8

    @Test("round3 8: a captured /delegate proof cannot mint a wider child, and a proof is spent once (proof_replayed)")
    func delegationProofBoundAndSingleUse() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        let holder = Ed25519KeyPair()
        try await fixture.withClient { client in
            let (parent, jti) = try await boundParent(client, fixture, holder: holder, clock: clock)
            let narrow: [String: Any] = [
                "parent_token": parent, "child_agent_id": "reader", "child_mission": "read", "child_allowed_tools": ["read_file"],
                "child_max_tool_calls": 1,
            ]
            let captured = try delegationProof(holder, jti: jti, body: narrow, iat: clock.now().unixSeconds)
            // The attack: the holder's captured proof on a wider request (the run minted a child
            // with delete_file and write_file and a budget of 9 instead of 1). Each governing field.
            var widenings: [[String: Any]] = []
            var wider = narrow
            wider["child_allowed_tools"] = ["read_file", "write_file", "delete_file"]
            wider["child_max_tool_calls"] = 9
            widenings.append(wider)
            var budget = narrow
            budget["child_max_tool_calls"] = 9
            widenings.append(budget)
            var unlimited = narrow
            unlimited["child_max_tool_calls"] = nil
            widenings.append(unlimited)
            var tools = narrow
            tools["child_allowed_tools"] = ["read_file", "delete_file"]
            widenings.append(tools)
            var ttl = narrow
            ttl["child_ttl_s"] = 86_400
            widenings.append(ttl)
            for var body in widenings {
                body["proof"] = captured
                let reply = try await client.post("/delegate", json: body)
                #expect(reply.status == .unauthorized, "\(body): \(reply.body)")
                #expect(reply.body == #"{"error":"invalid_token"}"#)
            }
            // Nothing was reserved from the parent by any of them.
            #expect(try await fixture.environment.store.session(jti: jti)?.reservedForChildren == 0)
            // The holder's own request with that proof (refusals did not spend it): granted once…
            var own = narrow
            own["proof"] = captured
            let granted = try await client.post("/delegate", json: own)
            #expect(granted.status == .ok, "\(granted.body)")
            #expect((granted.json["child_claims"] as? [String: Any])?["max_tool_calls"] as? Int == 1)
            // …and the same proof again, even for the very same request: refused by name, nothing reserved.
            let replayed = try await client.post("/delegate", json: own)
            #expect(replayed.status == .conflict)
            #expect(replayed.body == #"{"error":"proof_replayed"}"#)
            #expect(try await fixture.environment.store.session(jti: jti)?.reservedForChildren == 1)
            // A fresh proof for the same request is fine.
            own["proof"] = try delegationProof(holder, jti: jti, body: narrow, iat: clock.now().unixSeconds)
            #expect(try await client.post("/delegate", json: own).status == .ok)
        }
    }

    @Test("round3 8: a passport proof may be issued at most 5 s ahead, lives at most 60 s, and starts a session once")
    func proofClockSkewAndLifetime() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        let holder = Ed25519KeyPair()
        try await fixture.withClient { client in
            let issued = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission, "cnf_jkt": holder.kid])
            let token = try #require(issued.json["token"] as? String)
            let jti = try #require((issued.json["claims"] as? [String: Any])?["jti"] as? String)
            let now = clock.now().unixSeconds
            // The attack run's `iat` 59 s in the future (valid ~120 s); 6 s ahead; 61 s old; an
            // `exp` stretching the lifetime to 2 minutes.
            for bad in [
                try sessionProof(holder, jti: jti, iat: now + 59), try sessionProof(holder, jti: jti, iat: now + 6),
                try sessionProof(holder, jti: jti, iat: now - 61), try sessionProof(holder, jti: jti, iat: now, exp: now + 120),
            ] {
                let reply = try await client.post("/session/start", json: ["token": token, "proof": bad])
                #expect(reply.status == .unauthorized, "\(reply.body)")
            }
            // 5 s of skew is accepted.
            let ahead = try sessionProof(holder, jti: jti, iat: now + 5)
            #expect(try await client.post("/session/start", json: ["token": token, "proof": ahead]).status == .ok)
            // The same proof again is a replay, named as such (before the passport's own reuse check).
            let again = try await client.post("/session/start", json: ["token": token, "proof": ahead])
            #expect(again.status == .conflict)
            #expect(again.body == #"{"error":"proof_replayed"}"#)
            // After the proof's lifetime, its replay is simply stale.
            clock.advance(by: 200)
            #expect(try await client.post("/session/start", json: ["token": token, "proof": ahead]).status == .unauthorized)
        }
    }

    @Test("round3 8: a proof spent on one process is refused on another sharing the store (fleet-wide replay cache)")
    func replayAcrossProcesses() async throws {
        let clock = ManualClock()
        let directory = makeTemporaryDirectory()
        let first = try await makeEnvironment(clock: clock, directory: directory)
        let second = try await makeEnvironment(clock: clock, directory: directory)
        let holder = Ed25519KeyPair()
        let admin = Identity(
            user: UserRecord(id: "admin", username: "admin", passwordHash: "", roles: ["admin"], defaultWorkspace: "default", created: Date()),
            workspace: "default", source: .apiKey(id: "admin"))
        let mission = try Mission.parse(try StrictJSON.object(try JSONSerialization.data(withJSONObject: parentMission(tools: ["read_file"], maxCalls: 10))))
        let (token, claims) = try await first.governance.issue(.init(mission: mission, ttl: 300, jkt: holder.kid), by: admin)
        _ = try await first.governance.start(
            token: token, proof: try sessionProof(holder, jti: claims.jti, iat: clock.now().unixSeconds))
        var body: [String: Any] = [
            "parent_token": token, "child_agent_id": "reader", "child_mission": "read", "child_allowed_tools": ["read_file"],
            "child_max_tool_calls": 1,
        ]
        body["proof"] = try delegationProof(holder, jti: claims.jti, body: body, iat: clock.now().unixSeconds)
        let request = try DelegationRequest.parse(try StrictJSON.object(try JSONSerialization.data(withJSONObject: body)))
        _ = try await first.governance.delegate(request)
        await #expect(throws: GovernanceError.proofReplayed) { _ = try await second.governance.delegate(request) }
        await #expect(throws: GovernanceError.proofReplayed) { _ = try await first.governance.delegate(request) }
        // Pruned only once no node could accept it anyway: then it is stale, never reopened.
        clock.advance(by: TimeInterval(PassportProofClaims.replayRetention + 1))
        await #expect(throws: GovernanceError.invalidToken) { _ = try await second.governance.delegate(request) }
        #expect(try await first.store.session(jti: claims.jti)?.reservedForChildren == 1)
    }

    @Test("round3 8: the SDK signs delegation proofs with the request digest; a retry gets a fresh proof, a replayed one is proof_replayed")
    func sdkDelegation() async throws {
        let fixture = try await IAMFixture.make()
        try await buildApplication(fixture.environment).test(.live) { raw in
            let base = "http://127.0.0.1:\(try #require(raw.port))"
            let client = try TesseraHTTPClient(baseURL: base, token: fixture.adminKey)
            let holder = Ed25519KeyPair()
            let mission = try StrictJSON.object(try JSONSerialization.data(withJSONObject: parentMission(tools: ["read_file", "write_file"], maxCalls: 10)))
            let issued = try await client.issuePassport(mission: mission, keyThumbprint: holder.kid)
            _ = try await client.startSession(passport: issued.token, key: holder)
            let body = try StrictJSON.object(try JSONSerialization.data(withJSONObject: [
                "parent_token": issued.token, "child_agent_id": "reader", "child_mission": "read", "child_allowed_tools": ["read_file"],
                "child_max_tool_calls": 2, "delegation_request_id": "req-1",
            ] as [String: Any]))
            let child = try await client.delegate(body, key: holder)
            #expect(child.child_claims.max_tool_calls == 2)
            #expect(child.child_claims.cnf?.jkt == holder.kid)
            // A retry with the same request id: a fresh proof, the first answer.
            let retry = try await client.delegate(body, key: holder)
            #expect(retry.child_token == child.child_token)
            // A proof sent twice by hand: the second is refused by name.
            var signed = body
            signed["delegation_request_id"] = nil
            signed["proof"] = .string(try TesseraHTTPClient.delegationProof(signed, key: holder, now: Date().unixSeconds))
            _ = try await client.delegate(signed)
            do {
                _ = try await client.delegate(signed)
                Issue.record("a replayed proof was accepted")
            } catch {
                #expect((error as? ClientError)?.governanceCode == "proof_replayed")
            }
            // Without the key, a bound parent cannot delegate; a malformed request is named before sending.
            do {
                _ = try await client.delegate(body)
                Issue.record("a bound parent delegated without a proof")
            } catch {
                #expect((error as? ClientError)?.governanceCode == "invalid_token")
            }
            var broken = body
            broken["child_allowed_tools"] = .string("read_file")
            do {
                _ = try await client.delegate(broken, key: holder)
                Issue.record("an invalid request was signed")
            } catch {
                #expect("\(error)".contains("child_allowed_tools"), "\(error)")
            }
        }
    }

    // MARK: Findings 10 and 11 (badges)

    func withRegistry(_ body: @Sendable (String, String, String, IAMFixture) async throws -> Void) async throws {
        try await withAgentRegistry(named: "round3", body)
    }

    @Test("round3 10: requireProof without a configured origin is a configuration error; a proof for service A is refused at service B")
    func dpopNeedsConfiguredOrigin() async throws {
        try await withRegistry { base, agent, keys, fixture in
            let verifier = try RegistryBadgeVerifier(server: base, minimumIAL: 1)
            // Before: accepted, and `htu` was then built from the Host header the caller chose.
            #expect(throws: BadgeMiddlewareConfigurationError.publicOriginRequired) {
                _ = try BadgeAuthMiddleware<BasicBadgeRequestContext>(verifier: verifier, requireProof: true)
            }
            #expect(BadgeMiddlewareConfigurationError.publicOriginRequired.description.contains("publicOrigin"))
            for bad in ["svc.test", "ftp://svc.test", "http://svc.test/api", "http://user@svc.test", "http://svc.test?x=1", "http://"] {
                #expect(throws: BadgeMiddlewareConfigurationError.invalidPublicOrigin(bad)) {
                    _ = try BadgeAuthMiddleware<BasicBadgeRequestContext>(verifier: verifier, requireProof: true, publicOrigin: bad)
                }
            }
            // Without requireProof no origin is needed.
            _ = try BadgeAuthMiddleware<BasicBadgeRequestContext>(verifier: verifier)

            let identity = try await Tessera.connect(server: base, agentID: agent, keysDir: keys, apiKey: fixture.adminKey)
            defer { identity.close() }
            let badge = identity.currentBadge()
            /// A service reached at `origin`, with its own replay cache, answering `check`.
            func service(_ origin: String, _ check: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
                let router = Router(context: BasicBadgeRequestContext.self)
                router.add(middleware: try BadgeAuthMiddleware(verifier: verifier, requireProof: true, publicOrigin: origin))
                router.get("/whoami") { _, context in context.badge?.agent_id ?? "-" }
                try await Application(router: router).test(.router, check)
            }
            // The agent calls service A; A (a relying party) replays badge and proof to B.
            var call = HTTPClientRequest(url: "http://svc-a.test/whoami")
            identity.authorize(&call)
            let proof = try #require(call.headers.first(name: "DPoP"))
            let headers: HTTPFields = [.authorization: "Bearer \(badge)", HTTPField.Name("DPoP")!: proof]
            try await service("http://svc-b.test") { client in
                try await client.execute(uri: "/whoami", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body).contains("BADGE_PROOF_INVALID"))
                }
            }
            try await service("http://svc-a.test/") { client in
                try await client.execute(uri: "/whoami", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == agent)
                }
            }
        }
    }

    @Test("round3 11: a badge addressed to service A is refused by a verifier, middleware or CLI that does not state it is A")
    func audienceFailsClosed() async throws {
        try await withRegistry { base, agent, _, fixture in
            let registry = try TesseraHTTPClient(baseURL: base, token: fixture.adminKey)
            let forA = try await registry.issueBadge(agent: agent, lifetime: 600, audience: ["https://service-a.example"]).token
            let unaddressed = try await registry.issueBadge(agent: agent, lifetime: 600, audience: nil).token
            // SDK verifier.
            await #expect(throws: BadgeError.audienceMismatch) { _ = try await RegistryBadgeVerifier(server: base).verify(forA) }
            await #expect(throws: BadgeError.audienceMismatch) {
                _ = try await RegistryBadgeVerifier(server: base, audience: "https://service-b.example").verify(forA)
            }
            #expect(try await RegistryBadgeVerifier(server: base, audience: "https://service-a.example").verify(forA).agent_id == agent)
            #expect(try await RegistryBadgeVerifier(server: base).verify(unaddressed).agent_id == agent)
            // Middleware of service B, which states no audience.
            let router = Router(context: BasicBadgeRequestContext.self)
            router.add(middleware: try BadgeAuthMiddleware(verifier: try RegistryBadgeVerifier(server: base)))
            router.get("/whoami") { _, context in context.badge?.agent_id ?? "-" }
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(forA)"]) { response in
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body) == #"{"error":"BADGE_AUDIENCE_MISMATCH","message":"badge refused"}"#)
                }
                try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(unaddressed)"]) { response in
                    #expect(response.status == .ok)
                }
            }
            // The CLI: `tessera badge verify` without --audience refuses it; with A's identity accepts it.
            let refused = try await Self.runTessera(["badge", "verify", forA, "--server", base])
            #expect(refused.status == 1)
            #expect(refused.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "BADGE_AUDIENCE_MISMATCH", "\(refused)")
            let accepted = try await Self.runTessera(["badge", "verify", forA, "--server", base, "--audience", "https://service-a.example"])
            #expect(accepted.status == 0, "\(accepted)")
        }
    }

    // MARK: Finding 16

    @Test("round3 16: tessera gateway stdio --help prints help instead of demanding --server")
    func gatewayHelp() async throws {
        for flag in ["--help", "-h"] {
            let result = try await Self.runTessera(["gateway", "stdio", flag], environment: ["TESSERA_SERVER": nil, "TESSERA_PASSPORT": nil])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("--passport") && result.stdout.contains("--server") && result.stdout.contains("USAGE"), "\(result)")
            #expect(!result.stderr.contains("required"), "\(result)")
        }
        // Without help, the missing settings are still named.
        let missing = try await Self.runTessera(["gateway", "stdio", "--", "true"], environment: ["TESSERA_SERVER": nil, "TESSERA_PASSPORT": nil])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("--server"), "\(missing)")
    }

    // MARK: Finding 18

    @Test("round3 18: connection deadlines resolve flag > env > file > default, are bounded, named in errors, and printed at start")
    func connectionDeadlinesConfigurable() throws {
        // Defaults as before.
        let defaults = try ServerConfiguration.resolve(flags: .init(), environment: .init(), file: .init())
        #expect(defaults.connectionLimits == ConnectionLimits())
        let file = try ServerConfiguration.Layer.file(
            Data(#"{"header_timeout_seconds": 20, "idle_timeout_seconds": 40, "request_timeout_seconds": 50, "websocket_idle_timeout_seconds": 600}"#.utf8),
            path: "tessera.json")
        let environment = try ServerConfiguration.Layer.environment([
            "TESSERA_HEADER_TIMEOUT_SECONDS": "15", "TESSERA_IDLE_TIMEOUT_SECONDS": "45",
        ])
        var flags = ServerConfiguration.Layer()
        flags.headerTimeoutSeconds = 12
        let resolved = try ServerConfiguration.resolve(flags: flags, environment: environment, file: file)
        #expect(resolved.connectionLimits.headerTimeout == .seconds(12))
        #expect(resolved.connectionLimits.idleTimeout == .seconds(45))
        #expect(resolved.connectionLimits.requestTimeout == .seconds(50))
        #expect(resolved.connectionLimits.webSocketIdleTimeout == .seconds(600))
        let summary = Dictionary(uniqueKeysWithValues: resolved.summary)
        #expect(summary["header_timeout_seconds"] == "12" && summary["idle_timeout_seconds"] == "45")
        #expect(summary["request_timeout_seconds"] == "50" && summary["websocket_idle_timeout_seconds"] == "600")
        // Bounded, with errors naming the setting (file key or environment variable).
        let expected = "(expected 1-3600 seconds)"
        for (key, value) in [("header_timeout_seconds", "0"), ("idle_timeout_seconds", "3601"), ("websocket_idle_timeout_seconds", "-1"),
                             ("request_timeout_seconds", "100000")] {
            let layer = try ServerConfiguration.Layer.file(Data(#"{"\#(key)": \#(value)}"#.utf8), path: "tessera.json")
            #expect(throws: ConfigurationError.invalid(name: key, value: "\(value) \(expected)")) {
                _ = try ServerConfiguration.resolve(flags: .init(), environment: .init(), file: layer)
            }
        }
        #expect(throws: ConfigurationError.invalid(name: "TESSERA_WEBSOCKET_IDLE_TIMEOUT_SECONDS", value: "5m")) {
            _ = try ServerConfiguration.Layer.environment(["TESSERA_WEBSOCKET_IDLE_TIMEOUT_SECONDS": "5m"])
        }
        // A configuration built in code is held to the same bounds (whole seconds).
        var built = ServerConfiguration()
        built.connectionLimits.headerTimeout = .milliseconds(500)
        #expect(throws: ConfigurationError.self) { try built.validate() }
        do {
            try built.validate()
        } catch {
            #expect(error.description.contains("header_timeout_seconds"))
        }
    }

    @Test("round3 18: serve --help names the deadline flags and environment variables")
    func serveHelp() async throws {
        let help = try await Self.runTessera(["serve", "--help"])
        #expect(help.status == 0)
        for name in [
            "--header-timeout-seconds", "--idle-timeout-seconds", "--request-timeout-seconds", "--websocket-idle-timeout-seconds",
            "TESSERA_HEADER_TIMEOUT_SECONDS", "TESSERA_WEBSOCKET_IDLE_TIMEOUT_SECONDS",
        ] {
            #expect(help.stdout.contains(name), "\(name) missing from serve --help")
        }
    }

    // MARK: The binary

    struct ProcessResult: Sendable, CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// Runs `tessera ARGS` to completion off the cooperative pool (the in-process server it may
    /// talk to keeps running meanwhile). A nil environment value removes the variable.
    static func runTessera(_ arguments: [String], environment: [String: String?] = [:]) async throws -> ProcessResult {
        let path = try tesseraBinary()
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: path)
                    process.arguments = arguments
                    var env = ProcessInfo.processInfo.environment
                    for (name, value) in environment { env[name] = value }
                    process.environment = env
                    let out = Pipe(), err = Pipe()
                    process.standardOutput = out
                    process.standardError = err
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    let stderr = err.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: ProcessResult(
                        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                        stderr: String(decoding: stderr, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
