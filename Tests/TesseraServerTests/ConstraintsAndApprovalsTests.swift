import Foundation
import Logging
import PostgresNIO
import Testing
import TesseraCore
import TesseraTestSupport
@testable import TesseraStore

@testable import TesseraServer

/// Argument constraints and human approvals over HTTP (issue 12).
@Suite("Argument constraints and approvals over HTTP")
struct ConstraintsAndApprovalsTests {
    /// The worked example of docs/governance.md.
    static var mission: [String: Any] {
        [
            "agent_id": "payments-bot", "mission": "pay invoices", "max_tool_calls": 10,
            "tools": [
                "fetch": ["arguments": ["url": ["url": ["schemes": ["https"], "hosts": ["api.example.com", "*.docs.example.com"]]]]],
                "run": ["arguments": ["cmd": ["shell": ["programs": ["git"], "allow_args": ["status", "log", "log *"]]]]],
                "transfer": [
                    "arguments": ["amount": ["range": ["min": 0, "max": 1000]], "to": ["one_of": ["ops", "payroll"]]],
                    "requires_approval": [
                        "when": ["amount": ["range": ["min": 100, "exclusive_min": true]]], "approvers": ["role:approver"],
                        "min_approvals": 2, "ttl_s": 900,
                    ],
                ],
            ],
        ]
    }

    @Test("constraints: PERMIT inside, DENY naming tool, argument and constraint outside; receipts record the violation")
    func constraints() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, Self.mission))
            #expect(try await client.evaluate(session, "fetch", ["url": "https://api.example.com/v1/x"]).json["decision"] as? String == "PERMIT")
            // Userinfo in a resource argument is refused before any constraint (round three, finding 2).
            let userinfo = try await client.evaluate(session, "fetch", ["url": "https://api.example.com@evil.example/"])
            #expect(userinfo.json["decision"] as? String == "DENY")
            #expect((userinfo.json["reason"] as? String)?.hasPrefix("resource_invalid") == true, "\(userinfo.body)")
            let denied = try await client.evaluate(session, "fetch", ["url": "https://evil.example/v1/x"])
            #expect(denied.json["decision"] as? String == "DENY")
            #expect(denied.json["reason"] as? String == "argument_violation")
            let violation = try #require((denied.json["violations"] as? [[String: Any]])?.first)
            #expect(violation["argument"] as? String == "url")
            #expect(violation["constraint"] as? String == "url")
            #expect(try await client.evaluate(session, "run", ["cmd": "git status"]).json["decision"] as? String == "PERMIT")
            #expect(try await client.evaluate(session, "run", ["cmd": "git status; rm -rf /"]).json["decision"] as? String == "DENY")
            let unknown = try await client.evaluate(session, "fetch", ["url": "https://api.example.com/", "method": "DELETE"])
            #expect(unknown.json["reason"] as? String == "unknown_argument")
            let missing = try await client.evaluate(session, "fetch", [:])
            #expect(missing.json["reason"] as? String == "missing_argument")
            // The receipt of the DENY carries the violation.
            let receipts = try await client.get("/receipts?session_id=\(session)", token: fixture.adminKey)
            let lines = receipts.body.split(separator: "\n")
            // lines[1] is the userinfo DENY (resource_invalid); lines[2] the argument violation.
            let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String: Any])
            let jwt = try #require(second["jwt"] as? String)
            let claims = try #require(CompactJWS.unverifiedPayload(jwt, as: ReceiptClaims.self))
            #expect(claims.violations?.first?.argument == "url")
            #expect(claims.reason == "argument_violation")
        }
    }

    @Test("bad constraints at /issue: 400 naming the JSON path, never a 500")
    func badConstraintsAtIssue() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            var mission = Self.mission
            mission["tools"] = ["fetch": ["arguments": ["url": ["url": ["hosts": ["a.example", "b.example", "x@evil"]]]]]]
            let reply = try await client.post("/issue", token: fixture.adminKey, json: ["mission": mission])
            #expect(reply.status == .badRequest)
            #expect(reply.body.contains("mission.tools.fetch.arguments.url.url.hosts[2]"), "\(reply.body)")
            for tools: [String: Any] in [
                ["t": ["arguments": ["a": ["bogus": 1]]]], ["t": ["arguments": ["a": ["regex": "(a+)+\\1"]]]],
                ["t": ["arguments": ["a": ["one_of": Array(0..<100_000)]]]], ["t": "not an object"],
            ] {
                mission["tools"] = tools
                let bad = try await client.post("/issue", token: fixture.adminKey, json: ["mission": mission])
                #expect(bad.status == .badRequest, "\(bad.body.prefix(200))")
                #expect(bad.body.contains("mission.tools.t"), "\(bad.body.prefix(200))")
            }
        }
    }

    @Test("delegation: narrowing accepted, widening refused with 400 naming the argument, constraints inherited")
    func attenuation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            var mission = Self.mission
            mission["delegation_allowed"] = true
            mission["max_delegation_depth"] = 1
            let parent = try await client.issue(fixture.adminKey, mission)
            _ = try await client.start(parent)
            func delegate(_ tools: [String: Any]?) async throws -> IAMClient.Reply {
                var body: [String: Any] = [
                    "parent_token": parent, "child_agent_id": "c", "child_mission": "m", "child_allowed_tools": ["fetch", "run"],
                    "child_max_tool_calls": 1,
                ]
                if let tools { body["child_tools"] = tools }
                return try await client.post("/delegate", json: body)
            }
            let wider = try await delegate(["fetch": ["arguments": ["url": ["url": ["schemes": ["https", "http"], "hosts": ["api.example.com"]]]]]])
            #expect(wider.status == .badRequest)
            #expect(wider.body.contains("fetch.arguments.url"), "\(wider.body)")
            let dropped = try await delegate(["fetch": ["allow_unknown_arguments": true]])
            #expect(dropped.status == .badRequest)
            let narrower = try await delegate(["fetch": ["arguments": ["url": ["url": ["schemes": ["https"], "hosts": ["api.example.com"]]]]]])
            #expect(narrower.status == .ok, "\(narrower.body)")
            let child = try #require(narrower.json["child_token"] as? String)
            let childSession = try await client.start(child)
            // Inherited: `run` keeps the parent's shell constraint.
            #expect(try await client.evaluate(childSession, "run", ["cmd": "git push"]).json["decision"] as? String == "DENY")
            // Narrowed: the wildcard host is gone for the child.
            #expect(try await client.evaluate(childSession, "fetch", ["url": "https://a.docs.example.com/"]).json["decision"] as? String == "DENY")
        }
    }

    @Test("approvals: request → two distinct grants → PERMIT once → the same call needs a new approval; non-approvers 403; budget only on PERMIT; seen from another process")
    func approvals() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        let other = try await IAMFixture.attach(directory: directory)
        try await fixture.withClient { client in
            let alice = try await client.createUser(fixture.adminKey, "alice", roles: ["approver"])
            let bob = try await client.createUser(fixture.adminKey, "bob", roles: ["approver"])
            _ = try await client.createUser(fixture.adminKey, "mallory", roles: ["reader"])
            _ = (alice, bob)
            let aliceJWT = try await client.jwt("alice"), bobJWT = try await client.jwt("bob"), malloryJWT = try await client.jwt("mallory")
            let session = try await client.start(try await client.issue(fixture.adminKey, Self.mission))
            // Under the threshold: no approval needed.
            #expect(try await client.evaluate(session, "transfer", ["amount": 50, "to": "ops"]).json["decision"] as? String == "PERMIT")
            let big: [String: Any] = ["amount": 500, "to": "payroll"]
            let first = try await client.evaluate(session, "transfer", big)
            #expect(first.json["decision"] as? String == "APPROVAL_REQUIRED", "\(first.body)")
            #expect(first.json["calls_used"] as? Int == 1)
            let id = try #require(first.json["approval_id"] as? String)
            // Asking again is the same pending request.
            #expect(try await client.evaluate(session, "transfer", big).json["approval_id"] as? String == id)
            // Listed for approvers with the exact arguments; not for a reader.
            let listed = try await client.get("/approvals", token: aliceJWT)
            let entry = try #require((listed.json["approvals"] as? [[String: Any]])?.first { $0["approval_id"] as? String == id })
            #expect((entry["arguments"] as? [String: Any])?["amount"] as? Int == 500)
            #expect(try await client.get("/approvals", token: malloryJWT).status == .forbidden)
            #expect(try await client.post("/approvals/\(id)/grant", token: malloryJWT, json: [:]).status == .forbidden)
            // One grant is not enough; the same approver twice does not count twice.
            #expect(try await client.post("/approvals/\(id)/grant", token: aliceJWT, json: [:]).status == .ok)
            #expect(try await client.post("/approvals/\(id)/grant", token: aliceJWT, json: [:]).status == .conflict)
            #expect(try await client.evaluate(session, "transfer", big).json["decision"] as? String == "APPROVAL_REQUIRED")
            // The second grant lands on another process sharing the store.
            let bobIdentity = await other.environment.authenticator.authenticate(bearer: bobJWT)
            let second = try await other.environment.governance.decideApproval(id: id, grant: true, by: try #require(bobIdentity))
            #expect(second.status == "granted")
            // PERMIT exactly once, budget spent once.
            let permitted = try await client.evaluate(session, "transfer", big)
            #expect(permitted.json["decision"] as? String == "PERMIT", "\(permitted.body)")
            #expect(permitted.json["calls_used"] as? Int == 2)
            let again = try await client.evaluate(session, "transfer", big)
            #expect(again.json["decision"] as? String == "APPROVAL_REQUIRED")
            #expect(again.json["approval_id"] as? String != id)
            // A denial is final.
            let newID = try #require(again.json["approval_id"] as? String)
            #expect(try await client.post("/approvals/\(newID)/deny", token: bobJWT, json: [:]).status == .ok)
            #expect(try await client.post("/approvals/\(newID)/grant", token: aliceJWT, json: [:]).status == .conflict)
            #expect(try await client.post("/approvals/apr_nope/grant", token: aliceJWT, json: [:]).status == .notFound)
            // Requests, grants and the denial are all on the chain.
            let receipts = try await client.get("/receipts?session_id=\(session)", token: fixture.adminKey)
            let tools = receipts.body.split(separator: "\n").compactMap { line -> String? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let jwt = object["jwt"] as? String else { return nil }
                return CompactJWS.unverifiedPayload(jwt, as: ReceiptClaims.self).map { "\($0.tool):\($0.decision)" }
            }
            #expect(tools.filter { $0 == "approval_grant:PERMIT" }.count == 2)
            #expect(tools.contains("approval_deny:DENY"))
            #expect(tools.filter { $0 == "transfer:APPROVAL_REQUIRED" }.count == 4)
        }
    }
}

extension ConstraintsAndApprovalsTests {
    @Test(
        "fleet: an approval requested on one PostgreSQL node is granted on another and used on a third",
        .enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)"))
    func approvalsAcrossNodes() async throws {
        let url = try await TestDatabase.makeEmptyDatabase()
        var nodes: [ServerEnvironment] = []
        for _ in 0..<3 {
            var configuration = ServerConfiguration()
            configuration.port = 0
            nodes.append(try await ServerEnvironment(configuration: configuration, store: try await PostgresStore(url: url), logger: Logger(label: "test")))
        }
        func person(_ id: String, _ roles: [String]) -> Identity {
            Identity(user: UserRecord(id: id, username: id, passwordHash: "", roles: roles, defaultWorkspace: "default", created: Date()), workspace: "default", source: .apiKey(id: id))
        }
        let mission = try Mission.parse(try StrictJSON.object(try JSONSerialization.data(withJSONObject: Self.mission)))
        let (token, _) = try await nodes[0].governance.issue(.init(mission: mission, ttl: 300, jkt: nil), by: person("admin", ["admin"]))
        let session = try await nodes[0].governance.start(token: token, proof: nil)
        let call: [String: JSONValue] = ["amount": 500, "to": "ops"]
        let asked = try await nodes[0].governance.evaluate(sessionID: session.id, tool: "transfer", arguments: call)
        #expect(asked.decision == "APPROVAL_REQUIRED")
        let id = try #require(asked.approval_id)
        #expect(try await nodes[1].governance.pendingApprovals(for: person("alice", ["approver"])).approvals.map(\.approval_id) == [id])
        _ = try await nodes[1].governance.decideApproval(id: id, grant: true, by: person("alice", ["approver"]))
        _ = try await nodes[2].governance.decideApproval(id: id, grant: true, by: person("bob", ["approver"]))
        let used = try await nodes[2].governance.evaluate(sessionID: session.id, tool: "transfer", arguments: call)
        #expect(used.decision == "PERMIT")
        let again = try await nodes[0].governance.evaluate(sessionID: session.id, tool: "transfer", arguments: call)
        #expect(again.decision == "APPROVAL_REQUIRED")
        #expect(again.approval_id != id)
        for node in nodes { (node.store as? PostgresStore)?.close() }
    }
}

extension IAMFixture {
    /// A second server environment (another process) on an existing store.
    static func attach(directory: String) async throws -> IAMFixture {
        let environment = try await makeEnvironment(directory: directory) { $0.passwordIterations = 1_000 }
        return IAMFixture(environment: environment, adminKey: "", adminID: "")
    }
}
