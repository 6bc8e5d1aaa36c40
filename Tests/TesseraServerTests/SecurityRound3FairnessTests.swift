import Foundation
import GRDB
import Glibc
import Testing
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// Issue 23 ("share fairly" and two smaller findings): one regression test per finding, named by
/// its number, each failing on the code before the fix.
@Suite("Security round 3: fairness (issue 23)")
struct SecurityRound3FairnessTests {
    /// A payment tool that always needs one approver's grant; approvals live `ttl` seconds.
    static func approvalMission(ttl: Int) -> [String: Any] {
        [
            "agent_id": "payments-bot", "mission": "pay invoices",
            "tools": [
                "transfer": [
                    "arguments": ["amount": ["range": ["min": 0, "max": 1_000_000]]],
                    "requires_approval": ["approvers": ["role:approver"], "min_approvals": 1, "ttl_s": ttl],
                ]
            ],
        ]
    }

    @Test("round3 13: another workspace's 1,024 sooner-expiring approvals neither hide this workspace's approval from its approver nor grow past the workspace cap")
    func approvalCrowdOut() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "other"]]).status == .ok)
            _ = try await client.createUser(fixture.adminKey, "flooder", roles: ["writer"], workspace: "other")
            _ = try await client.createUser(fixture.adminKey, "alice", roles: ["approver"])
            let flooder = try await client.jwt("flooder")
            let alice = try await client.jwt("alice")

            // Alice's workspace: one pending $5,000 transfer, open for an hour.
            let mine = try await client.start(try await client.issue(fixture.adminKey, Self.approvalMission(ttl: 3_600)))
            let pending = try await client.evaluate(mine, "transfer", ["amount": 5_000])
            #expect(pending.json["decision"] as? String == "APPROVAL_REQUIRED", "\(pending.body)")
            let wanted = try #require(pending.json["approval_id"] as? String)

            // The other workspace fills its cap with approvals that expire sooner (so they sort
            // first): 32 sessions of 32 open requests each, four sessions at a time.
            let perSession = SessionState.maximumOpenApprovals
            let sessions = SessionState.maximumOpenApprovalsPerWorkspace / perSession
            let opened = try await withThrowingTaskGroup(of: Int.self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        var count = 0
                        for s in stride(from: lane, to: sessions, by: 4) {
                            let session = try await client.start(try await client.issue(flooder, Self.approvalMission(ttl: 600)))
                            for i in 0..<perSession {
                                let reply = try await client.evaluate(session, "transfer", ["amount": s * perSession + i])
                                if reply.json["decision"] as? String == "APPROVAL_REQUIRED" { count += 1 }
                            }
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(opened == SessionState.maximumOpenApprovalsPerWorkspace)

            // One more, from a fresh session of that workspace: DENY approval_capacity, receipted,
            // never opened and never permitted.
            let extra = try await client.start(try await client.issue(flooder, Self.approvalMission(ttl: 600)))
            let over = try await client.evaluate(extra, "transfer", ["amount": 999_999])
            #expect(over.json["decision"] as? String == "DENY", "\(over.body)")
            #expect((over.json["reason"] as? String)?.hasPrefix("approval_capacity") == true, "\(over.body)")
            #expect(over.json["approval_id"] == nil)
            #expect(over.json["receipt_id"] is String)

            // Alice still sees her approval, and only her workspace's.
            let listed = try await client.get("/approvals", token: alice)
            #expect(listed.status == .ok)
            let approvals = try #require(listed.json["approvals"] as? [[String: Any]])
            #expect(approvals.map { $0["approval_id"] as? String } == [wanted])
            #expect(approvals.allSatisfy { $0["workspace"] as? String == "default" })

            // A cross-workspace admin keeps the earlier semantics: every workspace, soonest
            // expiry first, at most 1,000.
            let all = try #require(try await client.get("/approvals", token: fixture.adminKey).json["approvals"] as? [[String: Any]])
            #expect(all.count == GovernanceService.approvalListLimit)
            #expect(all.allSatisfy { $0["workspace"] as? String == "other" })

            // Alice's session may still open approvals: the cap is per workspace.
            let second = try await client.evaluate(mine, "transfer", ["amount": 6_000])
            #expect(second.json["decision"] as? String == "APPROVAL_REQUIRED", "\(second.body)")
        }
    }

    @Test("round3 13: a session's 33rd open approval is DENY approval_capacity")
    func approvalSessionCap() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, Self.approvalMission(ttl: 900)))
            for i in 0..<SessionState.maximumOpenApprovals {
                #expect(try await client.evaluate(session, "transfer", ["amount": i]).json["decision"] as? String == "APPROVAL_REQUIRED")
            }
            let over = try await client.evaluate(session, "transfer", ["amount": 100_000])
            #expect(over.json["decision"] as? String == "DENY")
            #expect((over.json["reason"] as? String)?.hasPrefix("approval_capacity") == true, "\(over.body)")
        }
    }

    @Test("round3 14: a relying party holding the agent's badge cannot lock the agent out of renewal; a valid proof is never refused")
    func badgeHolderCannotLockOut() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            _ = try await client.registerAgent(fixture.adminKey, key: key)
            let did = key.publicKey.did
            let badgePath = "/v1/agents/\(BadgeTests.encoded(did))/badge"
            let registry = ["X-Capiscio-Registry-Key": fixture.adminKey]
            // The badge the agent showed the relying party.
            let issued = try await client.post(badgePath, headers: registry, json: ["mode": "ial0"])
            #expect(issued.status == .ok, "\(issued.body)")
            let badge = try #require(issued.json["token"] as? String)
            func challenge(_ headers: [String: String]) async throws -> IAMClient.Reply {
                try await client.post(badgePath + "/challenge", headers: headers, json: [:])
            }
            func prove(_ c: PoPChallenge, with signer: Ed25519KeyPair) async throws -> IAMClient.Reply {
                let proof = try KeyOwnershipProofClaims.sign(challenge: c, did: did, key: signer, now: Date().unixSeconds)
                return try await client.post(badgePath, json: ["mode": "ial1", "challenge_id": c.challenge_id, "proof_jws": proof])
            }

            // The relying party, with the badge: the DID's ten challenges a minute, five garbage proofs.
            var held: [PoPChallenge] = []
            for _ in 0..<10 {
                let reply = try await challenge(["X-Capiscio-Badge": badge])
                #expect(reply.status == .ok, "\(reply.body)")
                held.append(try JSONDecoder().decode(PoPChallenge.self, from: Data(reply.body.utf8)))
            }
            let thief = Ed25519KeyPair()
            for c in held.prefix(5) {
                let refused = try await prove(c, with: thief)
                #expect(refused.status == .forbidden || refused.status == .badRequest, "\(refused.body)")
            }
            // The limits still hold for the one that spent them: its sixth failure and its
            // eleventh challenge are 429 with Retry-After.
            let sixth = try await prove(held[5], with: thief)
            #expect(sixth.status == .tooManyRequests, "\(sixth.body)")
            #expect(sixth.headers[.retryAfter] != nil)
            let eleventh = try await challenge(["X-Capiscio-Badge": badge])
            #expect(eleventh.status == .tooManyRequests, "\(eleventh.body)")

            // The agent's own API-key path is untouched by the relying party's challenges and failures.
            let mine = try await challenge(registry)
            #expect(mine.status == .ok, "\(mine.body)")
            let renewed = try await prove(try JSONDecoder().decode(PoPChallenge.self, from: Data(mine.body.utf8)), with: key)
            #expect(renewed.status == .ok, "\(renewed.body)")

            // Even on the path it shares with the relying party (the same badge), a valid proof
            // is honoured: failures never refuse the key holder.
            let shared = try await prove(held[6], with: key)
            #expect(shared.status == .ok, "\(shared.body)")
        }
    }

    @Test("round3 15: one workspace's user cannot hold every live feed: per-user (8) and per-workspace (32) caps, others unaffected")
    func feedCaps() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { raw in
            let client = IAMClient(client: raw)
            let port = try #require(raw.port)
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "beta"]]).status == .ok)
            var tokens: [String] = []
            for n in 0..<5 {
                _ = try await client.createUser(fixture.adminKey, "beta-\(n)", roles: ["reader"], workspace: "beta")
                tokens.append(try await client.jwt("beta-\(n)"))
            }
            var open: [Int32] = []
            defer { for fd in open { close(fd) } }
            func attempt(_ token: String) async throws -> String {
                let fd = try openFeed(port: port, token: token, query: "")
                open.append(fd)
                return try await offPool { readUntilAny(fd, ["\n: connected", "\"too-many-feeds\"", "\"unavailable\""], limitSeconds: 10) }
            }

            // One user asks for every slot of the node: it gets its eight.
            var connected = 0
            for _ in 0..<DecisionFeed.subscriberLimit {
                let answer = try await attempt(tokens[0])
                if answer.contains(": connected") {
                    connected += 1
                } else {
                    #expect(answer.contains("HTTP/1.1 429") && answer.contains("this user already has 8 live decision feeds"), "\(answer)")
                }
            }
            #expect(connected == DecisionFeed.subscriberLimitPerUser)

            // Its workspace's users together get 32.
            for token in tokens[1...3] {
                for _ in 0..<DecisionFeed.subscriberLimitPerUser { #expect(try await attempt(token).contains(": connected")) }
            }
            let fifth = try await attempt(tokens[4])
            #expect(fifth.contains("HTTP/1.1 429") && fifth.contains("this workspace already has 32 live decision feeds"), "\(fifth)")

            // Another workspace's admin is unaffected.
            #expect(try await attempt(fixture.adminKey).contains(": connected"))
        }
    }

    /// A trigger that makes every insert into `badges` fail: the last of issuance's writes.
    static func failBadgeRecords(_ directory: String, _ on: Bool) throws {
        let database = try DatabaseQueue(path: directory + "/" + SQLiteStore.fileName)
        try database.write { db in
            if on {
                try db.execute(sql: "CREATE TRIGGER fail_badge_record BEFORE INSERT ON badges BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
            } else {
                try db.execute(sql: "DROP TRIGGER fail_badge_record")
            }
        }
        try database.close()
    }

    static func count(_ directory: String, _ sql: String) throws -> Int {
        let database = try DatabaseQueue(path: directory + "/" + SQLiteStore.fileName)
        defer { try? database.close() }
        return try database.read { db in try Int.fetchOne(db, sql: sql) ?? -1 }
    }

    @Test("round3 17: badge issuance is one transaction: a failed record leaves the challenge unused and no status index taken")
    func atomicIssuance() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            _ = try await client.registerAgent(fixture.adminKey, key: key)
            let did = key.publicKey.did
            let badgePath = "/v1/agents/\(BadgeTests.encoded(did))/badge"
            let reply = try await client.post(badgePath + "/challenge", headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: [:])
            let challenge = try JSONDecoder().decode(PoPChallenge.self, from: Data(reply.body.utf8))
            let proof = try KeyOwnershipProofClaims.sign(challenge: challenge, did: did, key: key, now: Date().unixSeconds)
            let entriesBefore = try Self.count(directory, "SELECT COUNT(*) FROM status_entries WHERE kind = 'badge'")

            try Self.failBadgeRecords(directory, true)
            let failed = try await client.post(badgePath, json: ["mode": "ial1", "challenge_id": challenge.challenge_id, "proof_jws": proof])
            #expect(failed.status != .ok && failed.status != .created, "\(failed.body)")
            let ial0 = try await client.post(badgePath, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: ["mode": "ial0"])
            #expect(ial0.status != .ok && ial0.status != .created, "\(ial0.body)")
            // Nothing half-written: the challenge is still open, no index was taken.
            #expect(try Self.count(directory, "SELECT COUNT(*) FROM badge_challenges WHERE used <> 0") == 0)
            #expect(try Self.count(directory, "SELECT COUNT(*) FROM status_entries WHERE kind = 'badge'") == entriesBefore)
            try Self.failBadgeRecords(directory, false)

            // So the agent's retry with the same challenge succeeds, and every index has its record.
            let retried = try await client.post(badgePath, json: ["mode": "ial1", "challenge_id": challenge.challenge_id, "proof_jws": proof])
            #expect(retried.status == .ok, "\(retried.body)")
            #expect(
                try Self.count(directory, "SELECT COUNT(*) FROM status_entries WHERE kind = 'badge'")
                    == Self.count(directory, "SELECT COUNT(*) FROM badges"))
            // And the challenge is now spent, once.
            let again = try await client.post(badgePath, json: ["mode": "ial1", "challenge_id": challenge.challenge_id, "proof_jws": proof])
            #expect(again.status == .forbidden && again.json["error"] as? String == "challenge_used", "\(again.body)")
        }
    }

    @Test("round3 6: the console escapes bidi and invisible characters in every text node and tooltip it builds")
    func consoleShowsHiddenCharacters() throws {
        let dom = try #require(ConsoleAssets.files["dom.js"]).bytes
        let source = String(decoding: dom, as: UTF8.self)
        #expect(source.contains(#"\p{Bidi_Control}"#) && source.contains(#"\p{Default_Ignorable_Code_Point}"#) && source.contains(#"\p{Cf}"#))
        #expect(source.contains("document.createTextNode(visible(child))"))
        #expect(source.contains("el.textContent = visible(value)"))
        // No view writes text around the helper: every direct textContent assignment is either a
        // literal of the console's own or goes through visible().
        for (name, file) in ConsoleAssets.files where name.hasSuffix(".js") {
            let text = String(decoding: file.bytes, as: UTF8.self)
            for line in text.split(separator: "\n") where line.contains("textContent =") {
                let assigned = line.components(separatedBy: "textContent =").dropFirst().joined()
                let safe = assigned.contains("visible(") || assigned.hasPrefix(" '") || assigned.hasPrefix(" `Since opened")
                    || assigned.hasPrefix(" `feed lag") || assigned.hasPrefix(" paused")
                #expect(safe, "\(name): \(line)")
            }
        }
    }
}

/// Reads until one of `markers` has arrived (returns everything read) or `limitSeconds` of
/// silence pass.
func readUntilAny(_ fd: Int32, _ markers: [String], limitSeconds: Int) -> String {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var text = ""
    var waited = 0
    while waited < limitSeconds, !markers.contains(where: text.contains) {
        let n = read(fd, &buffer, buffer.count)
        if n == 0 { break }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { waited += 1; continue }
            break
        }
        text += String(decoding: buffer[0..<n], as: UTF8.self)
    }
    return text
}
