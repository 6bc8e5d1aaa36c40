import Foundation
import Glibc
import Testing
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// One regression test per finding of the attack run and code read (issue 11), each failing on
/// the code before the fix. Numbers are the findings'.
@Suite("Security regressions (issue 11)")
struct SecurityRegressionTests {
    func passportProof(
        _ key: Ed25519KeyPair, jti: String, purpose: PassportProofClaims.Purpose, childJKT: String? = nil, request: [String: Any]? = nil
    ) throws -> String {
        // A delegation proof carries the digest of the request it authorises (round 3, finding 8).
        let digest = try request.map(delegationRequestDigest)
        return try PassportProofClaims.sign(
            PassportProofClaims(passportJTI: jti, purpose: purpose, iat: Date().unixSeconds, childJKT: childJKT, requestDigest: digest), key: key)
    }

    func claims(_ reply: IAMClient.Reply, _ member: String = "claims") -> [String: Any] {
        reply.json[member] as? [String: Any] ?? [:]
    }

    @Test("1: a never-started child of a revoked parent cannot start, verify or evaluate")
    func revokedParentsUnstartedChild() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read_file"], maxCalls: 10))
            let session = try await client.start(parent)
            let delegated = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "m", "child_allowed_tools": ["read_file"],
                "child_max_tool_calls": 2,
            ])
            #expect(delegated.status == .ok, "\(delegated.body)")
            let child = try #require(delegated.json["child_token"] as? String)
            #expect(try await client.post("/revoke", token: fixture.adminKey, json: ["session_id": session]).status == .ok)
            let start = try await client.post("/session/start", json: ["token": child])
            #expect(start.status == .forbidden)
            #expect(start.body == #"{"error":"passport_revoked"}"#)
            let verify = try await client.post("/verify", json: ["token": child])
            #expect(verify.body == #"{"error":"passport_revoked"}"#)
        }
    }

    @Test("2: a key-bound parent delegates only with its holder's proof, and its child is bound (to the named key or the parent's)")
    func boundParentDelegation() async throws {
        let fixture = try await IAMFixture.make()
        let holder = Ed25519KeyPair()
        let childKey = Ed25519KeyPair()
        try await fixture.withClient { client in
            let issued = try await client.post("/issue", token: fixture.adminKey, json: [
                "mission": parentMission(tools: ["read_file"], maxCalls: 10), "cnf_jkt": holder.kid,
            ])
            let parent = try #require(issued.json["token"] as? String)
            let jti = try #require(claims(issued)["jti"] as? String)
            let started = try await client.post("/session/start", json: [
                "token": parent, "proof": try passportProof(holder, jti: jti, purpose: .sessionStart),
            ])
            #expect(started.status == .ok, "\(started.body)")
            let request: [String: Any] = [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "m", "child_allowed_tools": ["read_file"],
                "child_max_tool_calls": 2,
            ]
            // The bare stolen passport: refused.
            let bare = try await client.post("/delegate", json: request)
            #expect(bare.status == .unauthorized)
            #expect(bare.body == #"{"error":"invalid_token"}"#)
            // A thief's proof, a session-start proof replayed, a proof for another child key: refused.
            for proof in [
                try passportProof(Ed25519KeyPair(), jti: jti, purpose: .delegate, childJKT: holder.kid, request: request),
                try passportProof(holder, jti: jti, purpose: .sessionStart),
                try passportProof(holder, jti: jti, purpose: .delegate, childJKT: childKey.kid, request: request),
            ] {
                var body = request
                body["proof"] = proof
                #expect(try await client.post("/delegate", json: body).status == .unauthorized)
            }
            // The holder's proof: the child is bound to the parent's key when none is named…
            var own = request
            own["proof"] = try passportProof(holder, jti: jti, purpose: .delegate, childJKT: holder.kid, request: own)
            let ownChild = try await client.post("/delegate", json: own)
            #expect(ownChild.status == .ok, "\(ownChild.body)")
            #expect((claims(ownChild, "child_claims")["cnf"] as? [String: Any])?["jkt"] as? String == holder.kid)
            // …or to the key the request names (and proves the holder chose).
            var named = request
            named["child_cnf_jkt"] = childKey.kid
            named["proof"] = try passportProof(holder, jti: jti, purpose: .delegate, childJKT: childKey.kid, request: named)
            let namedChild = try await client.post("/delegate", json: named)
            #expect(namedChild.status == .ok, "\(namedChild.body)")
            #expect((claims(namedChild, "child_claims")["cnf"] as? [String: Any])?["jkt"] as? String == childKey.kid)
            // The child cannot start without its key's proof.
            let childToken = try #require(namedChild.json["child_token"] as? String)
            #expect(try await client.post("/session/start", json: ["token": childToken]).status == .unauthorized)
        }
    }

    @Test("3: duplicate member names are refused with 400 on every surface, never evaluated as either value")
    func duplicateKeys() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let token = try await client.issue(fixture.adminKey, exampleMission)
            let session = try await client.start(token)
            let smuggled = Data(#"{"session_id":"\#(session)","tool_name":"read_file","arguments":{"path":"/data/ok","path":"/etc/passwd"}}"#.utf8)
            let reply = try await client.post("/evaluate", raw: smuggled)
            #expect(reply.status == .badRequest)
            #expect(reply.body.contains("arguments.path"), "\(reply.body)")
            // Escaped spelling of the same name is the same name.
            let escaped = Data(#"{"session_id":"\#(session)","tool_name":"read_file","arguments":{"path":"/data/ok","p\u0061th":"/etc/passwd"}}"#.utf8)
            #expect(try await client.post("/evaluate", raw: escaped).status == .badRequest)
            let iam = try await client.post("/api/v1/iam", token: fixture.adminKey, raw: Data(#"{"operation":"whoami","operation":"delete-user"}"#.utf8))
            #expect(iam.status == .badRequest)
            let login = try await client.post("/api/v1/auth/login", raw: Data(#"{"username":"a","username":"admin","password":"x"}"#.utf8))
            #expect(login.status == .badRequest)
            // Nothing was evaluated: the chain is empty.
            let receipts = try await client.get("/receipts?session_id=\(session)", token: fixture.adminKey)
            #expect(receipts.body.isEmpty)
        }
    }

    @Test("4: concurrent password guesses are counted before hashing; change-password's check is throttled too")
    func loginRace() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            _ = try await client.createUser(fixture.adminKey, "victim", roles: ["reader"])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for attempt in 0..<30 {
                    group.addTask {
                        let password = attempt == 29 ? "correct horse battery" : "guess \(attempt)"
                        return Int(try await client.post("/api/v1/auth/login", json: ["username": "victim", "password": password]).status.code)
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // At most five password checks ran (the per-user limit); everything else was 429.
            #expect(statuses.filter { $0 != 429 }.count <= 5, "\(statuses)")
            #expect(statuses.contains(429))

            _ = try await client.createUser(fixture.adminKey, "changer", roles: ["reader"])
            let token = try await client.jwt("changer")
            var codes: [Int] = []
            for attempt in 0..<12 {
                let reply = try await client.post("/api/v1/auth/change-password", token: token, json: [
                    "current_password": "wrong \(attempt)", "new_password": "another long passphrase \(attempt)",
                ])
                codes.append(Int(reply.status.code))
            }
            #expect(codes.contains(429), "\(codes)")
        }
    }

    @Test("5: a pathological scope against a long path is decided (linear matching); over-complex scopes are refused at issue")
    func globComplexity() async throws {
        let scope = Glob("/**/a/**/b/**/c/**/d")
        let long = "/" + Array(repeating: "x", count: 576).joined(separator: "/")
        #expect(!scope.matches(long))
        #expect(scope.matches("/q/a/r/b/s/c/t/d"))
        #expect(!scope.matches("/q/a/r/b/s/c/t/e"))
        #expect(Glob("/data/**").covers(Glob("/data/**/x/**/y")))
        #expect(!Glob("/data/**/x/**").covers(Glob("/data/**")))
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            var mission = exampleMission
            mission["resource_scope"] = ["/" + Array(repeating: "**", count: 9).joined(separator: "/") + "/z"]
            let reply = try await client.post("/issue", token: fixture.adminKey, json: ["mission": mission])
            #expect(reply.status == .badRequest)
            #expect(reply.body.contains("mission.resource_scope[0]"), "\(reply.body)")
            mission["resource_scope"] = ["/**/a/**/b/**/c/**/d"]
            let token = try await client.issue(fixture.adminKey, mission)
            let session = try await client.start(token)
            let denied = try await client.evaluate(session, "read_file", ["path": long])
            #expect(denied.json["decision"] as? String == "DENY")
            #expect((denied.json["reason"] as? String)?.hasPrefix("resource_out_of_scope") == true)
        }
    }

    @Test("6: a connection that sends nothing, or half a request, is closed by the server")
    func idleConnectionsReaped() async throws {
        let fixture = try await IAMFixture.make { config in
            config.connectionLimits.headerTimeout = .seconds(1)
            config.connectionLimits.idleTimeout = .seconds(1)
        }
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for prefix in ["", "GET /health HTTP/1.1\r\nHost: x\r\n"] {
                let fd = try connectLoopback(port)
                defer { close(fd) }
                if !prefix.isEmpty { _ = prefix.withCString { write(fd, $0, strlen($0)) } }
                // The server closes it: read returns 0 (EOF). A receive timeout keeps a broken
                // server from hanging the test.
                #expect(try await offPool { readUntilClosed(fd, limitSeconds: 20) }, "connection with \(prefix.isEmpty ? "no bytes" : "half a request") stayed open")
            }
        }
    }

    @Test("6b: a request head over 64 KiB is answered 414 (long request line) or 431 (long header fields) at once, and closed")
    func oversizedHeads() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for (request, status) in [
                ("GET /health?x=" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"),
                ("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 70_000) + "\r\n\r\n", "431"),
            ] {
                let answer = try await offPool { () -> String in
                    // A generous read timeout (a loaded machine answers late); without the guard's
                    // answer the read still ends empty, at the 10 s header deadline.
                    let fd = try connectLoopback(port, receiveTimeoutSeconds: 5)
                    defer { close(fd) }
                    _ = request.withCString { write(fd, $0, strlen($0)) }
                    var buffer = [UInt8](repeating: 0, count: 64)
                    let count = read(fd, &buffer, buffer.count)
                    return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
                }
                #expect(answer.hasPrefix("HTTP/1.1 \(status)"), "\(answer.debugDescription)")
            }
            // Under the bound nothing changes.
            let fine = try await client.execute(uri: "/health?x=" + String(repeating: "a", count: 50_000), method: .get)
            #expect(fine.status == .ok)
        }
    }

    @Test("7: challenges need a credential (RFC-003: no anonymous challenges); a flood cannot lock the holder out; one DID is bounded per minute")
    func challengeFlood() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let agent = try await client.registerAgent(fixture.adminKey, key: key)
            let did = key.publicKey.did
            let path = "/v1/agents/\(BadgeTests.encoded(did))/badge/challenge"
            let anonymous = try await client.post(path, json: [:])
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.json["error"] as? String == "unauthorized")
            // 9 challenges (the DID allows 10 a minute), more than… the holder's one still works.
            for _ in 0..<9 {
                #expect(try await client.post(path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: [:]).status == .ok)
            }
            let mine = try await client.post(path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: [:])
            #expect(mine.status == .ok)
            let challenge = try JSONDecoder().decode(PoPChallenge.self, from: Data(mine.body.utf8))
            let proof = try KeyOwnershipProofClaims.sign(challenge: challenge, did: did, key: key, now: Date().unixSeconds)
            let badge = try await client.post(
                "/v1/agents/\(BadgeTests.encoded(did))/badge", json: ["mode": "ial1", "challenge_id": challenge.challenge_id, "proof_jws": proof])
            #expect(badge.status == .ok, "\(badge.body)")
            // The DID's 11th challenge within the minute: 429 with Retry-After.
            let limited = try await client.post(path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: [:])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.json["error"] as? String == "rate_limit_exceeded")
            #expect(limited.headers[.retryAfter] != nil)
            _ = agent
        }
    }

    @Test("8: a writer in another workspace cannot revoke a never-started passport by jti")
    func crossWorkspaceRevoke() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "b"]]).status == .ok)
            let writerB = try await client.createUser(fixture.adminKey, "writer-b", roles: ["writer"], workspace: "b")
            let keyB = try await client.apiKey(fixture.adminKey, userID: writerB).plaintext
            let issued = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission])
            let token = try #require(issued.json["token"] as? String)
            let jti = try #require(claims(issued)["jti"] as? String)
            let attempt = try await client.post("/revoke", token: keyB, json: ["jti": jti])
            #expect(attempt.status == .notFound, "\(attempt.body)")
            #expect(attempt.body == #"{"error":"unknown_session"}"#)
            #expect(try await client.post("/session/start", json: ["token": token]).status == .ok)
            // The owner's workspace may.
            #expect(try await client.post("/revoke", token: fixture.adminKey, json: ["jti": jti]).status == .ok)
        }
    }

    @Test("9: over-encoded and Unicode look-alike traversal is resource_invalid", arguments: [
        "/data/%2525252e%2525252e/etc/passwd", "/data/..\u{FF0F}..\u{FF0F}etc\u{FF0F}passwd", "/data/\u{FF0E}\u{FF0E}/etc/passwd",
        "/data/\u{2025}/etc/passwd", "/data/%25/x", "/data/\u{FF05}2e\u{FF05}2e/etc",
    ])
    func traversal(path: String) {
        #expect(ResourcePath.normalize(path) == nil)
        let passport = PassportClaims(mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["read"], resource_scope: ["/data/**"]), issuer: "t", workspace: "w", issuedAt: 0, ttl: 10)
        let decision = Evaluator(passport: passport).decide(tool: "read", arguments: ["path": .string(path)])
        #expect(decision.reason?.hasPrefix("resource_invalid") == true)
        #expect(ResourcePath.normalize("/data/caf\u{E9}/r\u{E9}sum\u{E9}.txt") == "/data/caf\u{E9}/r\u{E9}sum\u{E9}.txt")
    }

    @Test("10: a token with padding or changed unused signature bits does not verify")
    func malleableSignatures() async throws {
        let key = Ed25519KeyPair()
        let verifier = JWSVerifier(synchronousKeys: [key.kid: key.publicKey])
        let token = try CompactJWS.sign(LoginClaims(iss: "t", sub: "u", workspace: "w", iat: 1, exp: 4_000_000_000), type: LoginClaims.type, key: key)
        #expect(throws: Never.self) { try verifier.verifySync(token, as: LoginClaims.self, policy: JWSPolicy(), now: 2) }
        var variants = [token + "==", token + "="]
        // 64 bytes encode to 86 characters; the last carries 4 unused bits.
        let last = token.last!
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let index = alphabet.firstIndex(of: last)!
        variants.append(String(token.dropLast()) + String(alphabet[index ^ 1]))
        let parts = token.split(separator: ".")
        variants.append(parts[0] + "=." + parts[1] + "." + parts[2])
        variants.append(parts[0] + "." + parts[1] + "=." + parts[2])
        for variant in variants {
            #expect(throws: JWSError.self, "\(variant.suffix(4))") { try verifier.verifySync(variant, as: LoginClaims.self, policy: JWSPolicy(), now: 2) }
        }
        // A payload with a duplicate claim is malformed even when correctly signed.
        let header = Base64URL.encode(Array(#"{"alg":"EdDSA","kid":"\#(key.kid)","typ":"tessera-login+jwt"}"#.utf8))
        let payload = Base64URL.encode(Array(#"{"iss":"t","sub":"u","sub":"admin","workspace":"w","iat":1,"exp":4000000000,"jti":"j"}"#.utf8))
        let duplicated = try CompactJWS.sign(signingInput: header + "." + payload, key: key)
        #expect(throws: JWSError.malformed("claims")) { try verifier.verifySync(duplicated, as: LoginClaims.self, policy: JWSPolicy(), now: 2) }
    }

    @Test("11: token bootstrap mode refuses a token that could never be used, naming the shape")
    func bootstrapTokenShape() throws {
        var configuration = ServerConfiguration()
        configuration.bootstrapMode = "token"
        configuration.bootstrapToken = String(repeating: "a", count: 30)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch {
            #expect(error.description.contains("tsk_"))
        }
        configuration.bootstrapToken = APIKeyCodec.generate().plaintext
        #expect(throws: Never.self) { try configuration.validate() }
    }

    @Test("12: an oversized chunked body is 413, an unknown transfer coding 400/501, never 500")
    func bodies() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            var chunked = "POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            let chunk = String(repeating: "a", count: 65536)
            for _ in 0..<20 { chunked += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n" }
            chunked += "0\r\n\r\n"
            let request = chunked
            let big = try await offPool { try exchange(port, request) }
            #expect(big.hasPrefix("HTTP/1.1 413"), "\(big.prefix(400))")
            let odd = try await offPool { try exchange(port, "POST /evaluate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n{}") }
            #expect(odd.hasPrefix("HTTP/1.1 400") || odd.hasPrefix("HTTP/1.1 501") || odd.isEmpty, "\(odd.prefix(80))")
            #expect(!odd.hasPrefix("HTTP/1.1 500"))
        }
    }

    @Test("13: a world-writable or foreign state directory and a symlinked database are refused, the target untouched")
    func stateDirectoryTrust() throws {
        let loose = makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: loose, withIntermediateDirectories: true)
        chmod(loose, 0o777)
        #expect { _ = try SQLiteStore(stateDirectory: loose) } throws: { error in
            "\(error)".contains("chmod 700")
        }
        let planted = makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: planted, withIntermediateDirectories: true)
        chmod(planted, 0o700)
        let target = planted + "-target"
        #expect(FileManager.default.createFile(atPath: target, contents: Data("x".utf8)))
        chmod(target, 0o644)
        symlink(target, planted + "/tessera.sqlite")
        #expect { _ = try SQLiteStore(stateDirectory: planted) } throws: { error in
            "\(error)".contains("symbolic link")
        }
        #expect(fileMode(target) == 0o644)
    }

    @Test("14: /delegate refuses a child scope that /issue refuses")
    func delegateScopeValidator() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read_file"], maxCalls: 5, scope: ["/**"]))
            _ = try await client.start(parent)
            for scope in ["/data/../etc/**", "/data/./x", "/data/%2e%2e/x"] {
                let reply = try await client.post("/delegate", json: [
                    "parent_token": parent, "child_agent_id": "c", "child_mission": "m", "child_allowed_tools": ["read_file"],
                    "child_resource_scope": [scope],
                ])
                #expect(reply.status == .badRequest, "\(scope): \(reply.body)")
                #expect(reply.body.contains("child_resource_scope[0]"))
            }
        }
    }

    @Test("15: a PoP proof not yet valid is refused; login tokens end on password change and on disable")
    func proofsAndLoginTokens() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let agent = try await client.registerAgent(fixture.adminKey, key: key)
            let reply = try await client.post("/v1/agents/\(agent)/badge/challenge", headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: [:])
            let challenge = try JSONDecoder().decode(PoPChallenge.self, from: Data(reply.body.utf8))
            // Issued an hour from now: RFC-003 step 13 (`iat` at most 60 s ahead). The earlier
            // route is an alias of the same check.
            let future = try KeyOwnershipProofClaims.sign(challenge: challenge, did: key.publicKey.did, key: key, now: Date().unixSeconds + 3600)
            let refused = try await client.post("/v1/agents/\(agent)/badge/pop", json: ["challenge_id": challenge.challenge_id, "proof": future])
            #expect(refused.status == .forbidden)
            #expect(refused.json["error"] as? String == "iat_invalid")

            let user = try await client.createUser(fixture.adminKey, "dave", roles: ["reader"])
            let before = try await client.jwt("dave")
            #expect(try await client.iam(before, ["operation": "whoami"]).status == .ok)
            #expect(try await client.iam(fixture.adminKey, ["operation": "disable-user", "user_id": user]).status == .ok)
            #expect(try await client.iam(fixture.adminKey, ["operation": "enable-user", "user_id": user]).status == .ok)
            #expect(try await client.iam(before, ["operation": "whoami"]).status == .unauthorized)
            let after = try await client.jwt("dave")
            #expect(try await client.iam(after, ["operation": "whoami"]).status == .ok)
        }
    }

    @Test("16: /evaluate with request_id answers a retry with the first answer and spends nothing, across processes")
    func evaluateIdempotency() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        let other = try await makeEnvironment(directory: directory) { $0.passwordIterations = 1_000 }
        let token = try await fixture.environment.governance.issue(
            .init(mission: try Mission.parse(["agent_id": "a", "mission": "m", "allowed_tools": ["read"], "max_tool_calls": 3]), ttl: 300, jkt: nil),
            by: Identity(user: UserRecord(id: fixture.adminID, username: "admin", passwordHash: "", roles: ["admin"], defaultWorkspace: "default", created: Date()), workspace: "default", source: .apiKey(id: "k"))
        ).0
        let session = try await fixture.environment.governance.start(token: token, proof: nil)
        let first = try await fixture.environment.governance.evaluate(sessionID: session.id, tool: "read", arguments: ["x": 1], requestID: "r-1")
        let retry = try await other.governance.evaluate(sessionID: session.id, tool: "read", arguments: ["x": 1], requestID: "r-1")
        #expect(retry == first)
        #expect(first.calls_used == 1)
        await #expect(throws: GovernanceError.conflict("request_id r-1 was already used for a different call")) {
            try await other.governance.evaluate(sessionID: session.id, tool: "read", arguments: ["x": 2], requestID: "r-1")
        }
        let next = try await other.governance.evaluate(sessionID: session.id, tool: "read", arguments: ["x": 1], requestID: "r-2")
        #expect(next.calls_used == 2)
        #expect(try await fixture.environment.store.receipts(sessionID: session.id).count == 2)
    }
}

/// Runs blocking socket calls on a thread of their own. On Swift's cooperative pool (one thread
/// per core, two on CI) a test blocked in `read`/`write` starves every other test in the process —
/// including the in-process server it is waiting for, and other suites' database clients.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Reads until the peer closes (true) or `limitSeconds` of silence pass (false).
func readUntilClosed(_ fd: Int32, limitSeconds: Int) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 4096)
    var waited = 0
    while waited < limitSeconds {
        let n = read(fd, &buffer, buffer.count)
        if n == 0 { return true }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { waited += 1; continue }
            return errno == ECONNRESET
        }
    }
    return false
}

/// Sends `request` and returns what the server answers before it closes or goes quiet.
func exchange(_ port: Int, _ request: String) throws -> String {
    let fd = try connectLoopback(port)
    defer { close(fd) }
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        // Stop sending once the server has answered (an early 413): writing on into a socket the
        // server is closing earns a reset, which can destroy the answer before it is read.
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, 0) > 0 { break }
        let n = bytes[sent..<min(sent + 16_384, bytes.count)].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        sent += n
    }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    // Up to 10 s of silence before the head arrives (a loaded CI machine), then 1 s for the rest.
    var quiet = 0
    while quiet < 10 {
        let n = read(fd, &buffer, buffer.count)
        if n > 0 {
            answer += buffer[0..<n]
            if String(decoding: answer, as: UTF8.self).contains("\r\n\r\n") { quiet = 9 }
        } else if n == 0 {
            break
        } else {
            quiet += 1
        }
    }
    return String(decoding: answer, as: UTF8.self)
}
