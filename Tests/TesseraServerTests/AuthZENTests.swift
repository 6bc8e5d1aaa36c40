import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

/// The OpenID AuthZEN Authorization API 1.0 front (docs/authzen.md) over the live test server.
@Suite("AuthZEN: access evaluation API")
struct AuthZENTests {
    static var read: [String: Any] { ["path": "/data/q3/report.csv"] }

    /// An AuthZEN evaluation body for a tool call.
    static func evaluation(
        session: String? = nil, passport: String? = nil, tool: String, arguments: [String: Any] = read, requestID: String? = nil
    ) -> [String: Any] {
        var body: [String: Any] = [
            "subject": session.map { ["type": "session", "id": $0] } ?? ["type": "passport", "id": passport ?? ""],
            "action": ["name": tool],
            "resource": ["type": "tool_call", "id": tool, "properties": ["arguments": arguments]],
        ]
        if let requestID { body["context"] = ["request_id": requestID] }
        return body
    }

    /// A boxcar item naming only its tool (subject and context come from the defaults).
    static func item(_ tool: String, _ arguments: [String: Any] = read) -> [String: Any] {
        ["action": ["name": tool], "resource": ["type": "tool_call", "id": tool, "properties": ["arguments": arguments]]]
    }

    static func context(_ reply: IAMClient.Reply) -> [String: Any] { reply.json["context"] as? [String: Any] ?? [:] }

    @Test("single evaluations: PERMIT is true, DENY and APPROVAL_REQUIRED are false, each with its receipt")
    func single() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            let permit = try await client.post("/access/v1/evaluation", token: fixture.adminKey, json: Self.evaluation(session: session, tool: "read_file"))
            #expect(permit.status == .ok, "\(permit.body)")
            #expect(permit.json["decision"] as? Bool == true)
            #expect(Self.context(permit)["decision"] as? String == "PERMIT")
            #expect((Self.context(permit)["receipt_id"] as? String)?.isEmpty == false)
            #expect(Self.context(permit)["calls_remaining"] as? Int == 49)
            #expect(permit.headers[.cacheControl] == "no-store")

            let deny = try await client.post("/access/v1/evaluation", token: fixture.adminKey, json: Self.evaluation(session: session, tool: "delete_file"))
            #expect(deny.status == .ok)
            #expect(deny.json["decision"] as? Bool == false)
            #expect(Self.context(deny)["decision"] as? String == "DENY")
            #expect((Self.context(deny)["reason"] as? String)?.isEmpty == false)
            #expect(Self.context(deny)["receipt_id"] is String)

            let payments = try await client.start(try await client.issue(fixture.adminKey, ConstraintsAndApprovalsTests.mission))
            let approval = try await client.post(
                "/access/v1/evaluation", token: fixture.adminKey,
                json: Self.evaluation(session: payments, tool: "transfer", arguments: ["amount": 500, "to": "ops"]))
            #expect(approval.json["decision"] as? Bool == false, "\(approval.body)")
            #expect(Self.context(approval)["decision"] as? String == "APPROVAL_REQUIRED")
            #expect(Self.context(approval)["approval_id"] is String)
            let violation = try await client.post(
                "/access/v1/evaluation", token: fixture.adminKey,
                json: Self.evaluation(session: payments, tool: "transfer", arguments: ["amount": 5000, "to": "ops"]))
            #expect(violation.json["decision"] as? Bool == false)
            #expect((Self.context(violation)["violations"] as? [[String: Any]])?.first?["argument"] as? String == "amount")

            // The receipts are the session's own chain, as /evaluate writes it.
            let receipts = try await client.get("/receipts?session_id=\(session)", token: fixture.adminKey)
            #expect(receipts.body.split(separator: "\n").count == 2)
        }
    }

    @Test("a passport subject evaluates on the session that passport started; the PEP's X-Request-ID comes back")
    func passportSubject() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let issued = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission])
            let token = try #require(issued.json["token"] as? String)
            let jti = try #require((issued.json["claims"] as? [String: Any])?["jti"] as? String)
            // Not started yet: no session for this passport.
            let early = try await client.post("/access/v1/evaluation", token: fixture.adminKey, json: Self.evaluation(passport: jti, tool: "read_file"))
            #expect(early.status == .notFound)
            #expect(early.json["error"] as? String == "unknown_subject")
            let session = try await client.start(token)
            let reply = try await client.post(
                "/access/v1/evaluation", token: fixture.adminKey, raw: try JSONSerialization.data(withJSONObject: Self.evaluation(passport: jti, tool: "read_file")),
                headers: ["X-Request-ID": "pep-42"])
            #expect(reply.json["decision"] as? Bool == true, "\(reply.body)")
            #expect(reply.headers[.init("X-Request-Id")!] == "pep-42")
            let direct = try await client.evaluate(session, "read_file", Self.read)
            #expect(direct.json["calls_remaining"] as? Int == 48)
        }
    }

    @Test("context.request_id is idempotent exactly like /evaluate's, and a different call under it is a 409")
    func idempotency() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            let body = Self.evaluation(session: session, tool: "read_file", requestID: "r-1")
            let first = try await client.post("/access/v1/evaluation", token: fixture.adminKey, json: body)
            let again = try await client.post("/access/v1/evaluation", token: fixture.adminKey, json: body)
            #expect(first.status == .ok)
            #expect(Self.context(again)["receipt_id"] as? String == Self.context(first)["receipt_id"] as? String)
            #expect(Self.context(again)["calls_remaining"] as? Int == 49)
            // The same id through /evaluate is the same request: its stored answer, nothing spent.
            let viaEvaluate = try await client.post(
                "/evaluate", json: ["session_id": session, "tool_name": "read_file", "arguments": Self.read, "request_id": "r-1"])
            #expect(viaEvaluate.json["receipt_id"] as? String == Self.context(first)["receipt_id"] as? String)
            let other = try await client.post(
                "/access/v1/evaluation", token: fixture.adminKey, json: Self.evaluation(session: session, tool: "list_dir", requestID: "r-1"))
            #expect(other.status == .conflict)
            #expect(other.json["error"] as? String == "conflict")
            #expect((other.json["message"] as? String)?.contains("r-1") == true)
        }
    }

    @Test("decisions:evaluate is required: no credential is 401 with WWW-Authenticate, a reader is 403, an evaluator passes")
    func capability() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            let body = Self.evaluation(session: session, tool: "read_file")
            for path in ["/access/v1/evaluation", "/access/v1/evaluations"] {
                let anonymous = try await client.post(path, json: body)
                #expect(anonymous.status == .unauthorized)
                #expect(anonymous.json["error"] as? String == "unauthorized")
                #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
                let forged = try await client.post(path, token: "tsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", json: body)
                #expect(forged.status == .unauthorized)
            }
            _ = try await client.createUser(fixture.adminKey, "reader", roles: ["reader"])
            let reader = try await client.post("/access/v1/evaluation", token: try await client.jwt("reader"), json: body)
            #expect(reader.status == .forbidden)
            #expect(reader.json["error"] as? String == "forbidden")
            let pep = try await client.createUser(fixture.adminKey, "pep", roles: ["evaluator"])
            let key = try await client.apiKey(fixture.adminKey, userID: pep).plaintext
            let allowed = try await client.post("/access/v1/evaluation", token: key, json: body)
            #expect(allowed.json["decision"] as? Bool == true, "\(allowed.body)")
            // The evaluator role grants nothing else.
            #expect(try await client.get("/receipts?session_id=\(session)", token: key).status == .forbidden)
            #expect(RoleCatalog.capabilities(of: "writer").contains(Capability.decisionsEvaluate) == false)
            #expect(RoleCatalog.capabilities(of: "admin").contains(Capability.decisionsEvaluate))
        }
    }

    @Test("a session in a workspace the PEP may not evaluate in looks exactly like one that does not exist")
    func crossWorkspace() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "a"]]).status == .ok)
            let issued = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission])
            let jti = try #require((issued.json["claims"] as? [String: Any])?["jti"] as? String)
            let session = try await client.start(try #require(issued.json["token"] as? String))
            let pep = try await client.createUser(fixture.adminKey, "pep-a", roles: ["evaluator"], workspace: "a")
            let key = try await client.apiKey(fixture.adminKey, userID: pep).plaintext
            let hidden = try await client.post("/access/v1/evaluation", token: key, json: Self.evaluation(session: session, tool: "read_file"))
            let byPassport = try await client.post("/access/v1/evaluation", token: key, json: Self.evaluation(passport: jti, tool: "read_file"))
            let unknown = try await client.post("/access/v1/evaluation", token: key, json: Self.evaluation(session: "no-such-session", tool: "read_file"))
            #expect(hidden.status == .notFound)
            #expect(hidden.body == unknown.body)
            #expect(byPassport.body == unknown.body)
            // In a boxcar: the same error, per item, and nothing spent.
            let boxcar = try await client.post("/access/v1/evaluations", token: key, json: [
                "subject": ["type": "session", "id": session], "evaluations": [Self.item("read_file")],
            ])
            let item = (boxcar.json["evaluations"] as? [[String: Any]])?.first
            #expect(item?["decision"] as? Bool == false)
            #expect(((item?["context"] as? [String: Any])?["error"] as? [String: Any])?["status"] as? Int == 404)
            let spent = try await client.evaluate(session, "read_file", Self.read)
            #expect(spent.json["calls_remaining"] as? Int == 49)
        }
    }

    @Test("boxcar semantics: execute_all evaluates every item, deny_on_first_deny stops at the first false, permit_on_first_permit at the first true")
    func semantics() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let items = [Self.item("read_file"), Self.item("delete_file"), Self.item("list_dir")]
            for (semantic, expected) in [("execute_all", [true, false, true]), ("deny_on_first_deny", [true, false]), ("permit_on_first_permit", [true])] {
                let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
                let reply = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                    "subject": ["type": "session", "id": session], "options": ["evaluations_semantic": semantic], "evaluations": items,
                ])
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["decision"] == nil)
                let decisions = (reply.json["evaluations"] as? [[String: Any]])?.map { $0["decision"] as? Bool }
                #expect(decisions == expected, "\(semantic)")
                // One receipt per evaluated item; the short-circuited ones were never decided.
                let receipts = try await client.get("/receipts?session_id=\(session)", token: fixture.adminKey)
                #expect(receipts.body.split(separator: "\n").count == expected.count, "\(semantic)")
            }
            // The default is execute_all; an unknown semantic is a 400 naming the option.
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            let all = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                "subject": ["type": "session", "id": session], "evaluations": items,
            ])
            #expect((all.json["evaluations"] as? [Any])?.count == 3)
            let bad = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                "subject": ["type": "session", "id": session], "options": ["evaluations_semantic": "sometimes"], "evaluations": items,
            ])
            #expect(bad.status == .badRequest)
            #expect((bad.json["message"] as? String)?.contains("options.evaluations_semantic") == true)
            // No items: one Access Evaluation, answered as one.
            let single = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: Self.evaluation(session: session, tool: "read_file"))
            #expect(single.json["decision"] as? Bool == true, "\(single.body)")
        }
    }

    @Test("malformed requests are 400s naming the field, refused before anything is evaluated")
    func malformed() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            var mismatch = Self.evaluation(session: session, tool: "read_file")
            mismatch["action"] = ["name": "delete_file"]
            let cases: [([String: Any], String)] = [
                (mismatch, "action.name and resource.id"),
                (["action": ["name": "x"], "resource": ["type": "tool_call", "id": "x"]], "subject is required"),
                (Self.evaluation(session: session, tool: "read_file").merging(["subject": ["type": "user", "id": "alice"]]) { $1 }, "subject.type"),
                (Self.evaluation(session: session, tool: "read_file").merging(["resource": ["type": "doc", "id": "read_file"]]) { $1 }, "resource.type"),
                (Self.evaluation(session: session, tool: "read_file").merging(["context": ["request_id": ""]]) { $1 }, "context.request_id"),
                (Self.evaluation(session: session, tool: "read_file", arguments: [:]).merging(
                    ["resource": ["type": "tool_call", "id": "read_file", "properties": ["arguments": [1]]]]) { $1 }, "resource.properties.arguments"),
            ]
            for (body, field) in cases {
                let reply = try await client.post("/access/v1/evaluation", token: fixture.adminKey, json: body)
                #expect(reply.status == .badRequest, "\(field): \(reply.body)")
                #expect(reply.json["error"] as? String == "invalid_request")
                #expect((reply.json["message"] as? String)?.contains(field) == true, "\(field): \(reply.body)")
            }
            // A bad item 2 refuses the whole boxcar: item 0 is not evaluated either.
            var badItem = Self.item("read_file")
            badItem["action"] = ["name": "list_dir"]
            let boxcar = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                "subject": ["type": "session", "id": session], "evaluations": [Self.item("read_file"), Self.item("read_file"), badItem],
            ])
            #expect(boxcar.status == .badRequest)
            #expect((boxcar.json["message"] as? String)?.contains("evaluations[2].action.name") == true, "\(boxcar.body)")
            // More than 1,000 items.
            let oversize = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                "subject": ["type": "session", "id": session], "evaluations": Array(repeating: Self.item("read_file"), count: 1001),
            ])
            #expect(oversize.status == .badRequest)
            #expect((oversize.json["message"] as? String)?.contains("at most 1000") == true)
            // One request_id shared by every item, and one repeated.
            let shared = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                "subject": ["type": "session", "id": session], "context": ["request_id": "r"], "evaluations": [Self.item("read_file")],
            ])
            #expect(shared.status == .badRequest)
            var withID = Self.item("read_file")
            withID["context"] = ["request_id": "same"]
            let repeated = try await client.post("/access/v1/evaluations", token: fixture.adminKey, json: [
                "subject": ["type": "session", "id": session], "evaluations": [withID, withID],
            ])
            #expect(repeated.status == .badRequest)
            #expect((repeated.json["message"] as? String)?.contains("evaluations[1].context.request_id") == true)
            // Duplicate member names (the strict parser) and an oversized X-Request-ID.
            let duplicate = try await client.post(
                "/access/v1/evaluation", token: fixture.adminKey,
                raw: Data(#"{"subject":{"type":"session","id":"a","id":"b"},"action":{"name":"t"},"resource":{"type":"tool_call","id":"t"}}"#.utf8))
            #expect(duplicate.status == .badRequest)
            let longID = try await client.post(
                "/access/v1/evaluation", token: fixture.adminKey,
                raw: try JSONSerialization.data(withJSONObject: Self.evaluation(session: session, tool: "read_file")),
                headers: ["X-Request-ID": String(repeating: "x", count: 300)])
            #expect(longID.status == .badRequest)
            // Nothing above was evaluated.
            let spent = try await client.evaluate(session, "read_file", Self.read)
            #expect(spent.json["calls_remaining"] as? Int == 49)
        }
    }

    @Test("budgets stay exact when /evaluate and AuthZEN (single and boxcar) interleave on one session")
    func interleavedBudget() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            var mission = exampleMission
            mission["max_tool_calls"] = 20
            let session = try await client.start(try await client.issue(fixture.adminKey, mission))
            let admin = fixture.adminKey
            let permits = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        switch index % 3 {
                        case 0:
                            let reply = try await client.evaluate(session, "read_file", Self.read)
                            return reply.json["decision"] as? String == "PERMIT" ? 1 : 0
                        case 1:
                            let reply = try await client.post("/access/v1/evaluation", token: admin, json: Self.evaluation(session: session, tool: "read_file"))
                            return reply.json["decision"] as? Bool == true ? 1 : 0
                        default:
                            let reply = try await client.post("/access/v1/evaluations", token: admin, json: [
                                "subject": ["type": "session", "id": session], "evaluations": [Self.item("read_file"), Self.item("list_dir")],
                            ])
                            return (reply.json["evaluations"] as? [[String: Any]] ?? []).filter { $0["decision"] as? Bool == true }.count
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            // 4 + 4 + 4×2 = 16 calls asked, all within 20: every one PERMIT; then 4 more fit, and no fifth.
            #expect(permits == 16)
            let rest = try await client.post("/access/v1/evaluations", token: admin, json: [
                "subject": ["type": "session", "id": session], "evaluations": Array(repeating: Self.item("read_file"), count: 6),
            ])
            let decisions = (rest.json["evaluations"] as? [[String: Any]])?.map { $0["decision"] as? Bool }
            #expect(decisions == [true, true, true, true, false, false])
            let last = (rest.json["evaluations"] as? [[String: Any]])?.last?["context"] as? [String: Any]
            #expect(last?["calls_remaining"] as? Int == 0)
            let direct = try await client.evaluate(session, "read_file", Self.read)
            #expect(direct.json["decision"] as? String == "DENY")
        }
    }

    @Test("the PDP metadata names this server's origin and the two endpoints, and no search endpoints")
    func metadata() async throws {
        let fixture = try await IAMFixture.make { $0.publicURL = "https://pdp.example.com" }
        try await fixture.withClient { client in
            let reply = try await client.get("/.well-known/authzen-configuration")
            #expect(reply.status == .ok)
            #expect(reply.json["policy_decision_point"] as? String == "https://pdp.example.com")
            #expect(reply.json["access_evaluation_endpoint"] as? String == "https://pdp.example.com/access/v1/evaluation")
            #expect(reply.json["access_evaluations_endpoint"] as? String == "https://pdp.example.com/access/v1/evaluations")
            #expect(Set(reply.json.keys) == ["policy_decision_point", "access_evaluation_endpoint", "access_evaluations_endpoint"])
        }
    }
}
