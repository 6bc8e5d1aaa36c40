import Foundation
import GRDB
import TesseraFileSystem
import Testing
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// seed 004 (the governance proxy's HTTP test suite), test for test, against the real server.
@Suite("Governance: seed 004 HTTP contract")
struct GovernanceSeedTests {
    @Test("GET /health returns 200 with status and version")
    func health() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.get("/health")
            #expect(reply.status == .ok)
            #expect(reply.json["status"] as? String == "ok")
            #expect(reply.json["version"] != nil)
        }
    }

    @Test("evaluate: PERMIT, DENY with a reason, and 403 passport_revoked after revocation")
    func evaluate() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission, ttl: 60))
            let permit = try await client.evaluate(session, "read_file", ["path": "/x"])
            #expect(permit.status == .ok)
            #expect(permit.json["decision"] as? String == "PERMIT")
            let deny = try await client.evaluate(session, "delete_file")
            #expect(deny.status == .ok)
            #expect(deny.json["decision"] as? String == "DENY")
            #expect(deny.json["reason"] != nil)

            let revoke = try await client.post("/revoke", token: fixture.adminKey, json: ["session_id": session])
            #expect(revoke.body == #"{"revoked":true}"#)
            let revoked = try await client.evaluate(session, "read_file", ["path": "/x"])
            #expect(revoked.status == .forbidden)
            #expect(revoked.body == #"{"error":"passport_revoked"}"#)
        }
    }

    @Test("delegate: a valid delegation returns the child token and narrowed claims")
    func validDelegation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read", "write"]))
            _ = try await client.start(parent)
            let reply = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_ttl_s": 60,
            ])
            #expect(reply.status == .ok)
            #expect(reply.json["child_token"] != nil)
            #expect((reply.json["child_claims"] as? [String: Any])?["allowed_tools"] as? [String] == ["read"])
        }
    }

    @Test("delegate: asking for a tool the parent lacks is a 403 scope escalation")
    func escalation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"]))
            _ = try await client.start(parent)
            let reply = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "evil",
                "child_allowed_tools": ["read", "rm_rf"], "child_ttl_s": 60,
            ])
            #expect(reply.status == .forbidden)
            #expect((reply.json["error"] as? String)?.contains("scope escalation") == true)
        }
    }

    @Test("delegate: a retried delegation_request_id returns the same child and reserves once, with one receipt")
    func idempotentRetry() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 1, maxDuration: nil))
            let session = try await client.start(parent)
            let request: [String: Any] = [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_max_tool_calls": 1, "delegation_request_id": "retry-1",
            ]
            let first = try await client.post("/delegate", json: request)
            let second = try await client.post("/delegate", json: request)
            #expect(first.status == .ok)
            #expect(second.status == .ok)
            let c1 = try #require(first.json["child_claims"] as? [String: Any])
            let c2 = try #require(second.json["child_claims"] as? [String: Any])
            #expect(c1["max_tool_calls"] as? Int == 1)
            #expect(c2["max_tool_calls"] as? Int == 1)
            #expect(second.json["child_token"] as? String == first.json["child_token"] as? String)
            #expect(c2["jti"] as? String == c1["jti"] as? String)
            let state = try #require(try await fixture.environment.store.session(id: session))
            #expect(state.reservedForChildren == 1)
            #expect(state.delegations == 1)
            let receipts = try await fixture.environment.store.receipts(sessionID: session)
            let delegationReceipts = receipts.compactMap { CompactJWS.unverifiedPayload($0.jwt, as: ReceiptClaims.self) }
                .filter { $0.tool == "delegate_passport" }
            #expect(delegationReceipts.count == 1)
        }
    }

    @Test("delegate: a retry with the same lists in another order is the same request")
    func normalizedRetry() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(
                fixture.adminKey, parentMission(tools: ["read", "write"], maxCalls: 3, scope: ["/data/*", "/logs/*"], maxDuration: nil))
            _ = try await client.start(parent)
            let first: [String: Any] = [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub",
                "child_allowed_tools": ["write", "read"], "child_resource_scope": ["/logs/*", "/data/*"],
                "child_max_tool_calls": 2, "child_ttl_s": 120, "delegation_request_id": "retry-normalized",
            ]
            var second = first
            second["child_allowed_tools"] = ["read", "write"]
            second["child_resource_scope"] = ["/data/*", "/logs/*"]
            let r1 = try await client.post("/delegate", json: first)
            let r2 = try await client.post("/delegate", json: second)
            #expect(r1.status == .ok)
            #expect(r2.status == .ok)
            #expect(r2.json["child_token"] as? String == r1.json["child_token"] as? String)
            let c2 = try #require(r2.json["child_claims"] as? [String: Any])
            #expect(c2["jti"] as? String == (r1.json["child_claims"] as? [String: Any])?["jti"] as? String)
            #expect(c2["allowed_tools"] as? [String] == ["read", "write"])
            #expect(c2["resource_scope"] as? [String] == ["/data/*", "/logs/*"])
        }
    }

    @Test("delegate: the same request id for another child is 409 different reservation")
    func conflictingRequestID() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 2, maxDuration: nil))
            _ = try await client.start(parent)
            let first: [String: Any] = [
                "parent_token": parent, "child_agent_id": "child-a", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_max_tool_calls": 1, "delegation_request_id": "dup",
            ]
            var second = first
            second["child_agent_id"] = "child-b"
            #expect(try await client.post("/delegate", json: first).status == .ok)
            let reply = try await client.post("/delegate", json: second)
            #expect(reply.status == .conflict)
            #expect((reply.json["error"] as? String)?.contains("different reservation") == true)
        }
    }

    @Test(
        "delegate: changing any field under a used request id is 409 and issues no token",
        arguments: [
            ("child_mission", #""narrow-request""#), ("child_allowed_tools", #"["read"]"#),
            ("child_resource_scope", #"["/data/*"]"#), ("child_max_tool_calls", "1"), ("child_ttl_s", "60"),
        ])
    func changedFields(field: String, replacementJSON: String) async throws {
        let fixture = try await IAMFixture.make()
        let replacement = UncheckedBox(try JSONSerialization.jsonObject(with: Data(replacementJSON.utf8), options: .fragmentsAllowed))
        try await fixture.withClient { client in
            let parent = try await client.issue(
                fixture.adminKey, parentMission(tools: ["read", "write"], maxCalls: 5, scope: ["/data/*", "/logs/*"], maxDuration: nil))
            _ = try await client.start(parent)
            let first: [String: Any] = [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "broad",
                "child_allowed_tools": ["read", "write"], "child_resource_scope": ["/data/*", "/logs/*"],
                "child_max_tool_calls": 2, "child_ttl_s": 120, "delegation_request_id": "dup-same-child",
            ]
            var second = first
            second[field] = replacement.value
            let r1 = try await client.post("/delegate", json: first)
            let r2 = try await client.post("/delegate", json: second)
            #expect(r1.status == .ok)
            let c1 = try #require(r1.json["child_claims"] as? [String: Any])
            #expect(c1["mission"] as? String == "broad")
            #expect(c1["allowed_tools"] as? [String] == ["read", "write"])
            #expect(c1["resource_scope"] as? [String] == ["/data/*", "/logs/*"])
            #expect(c1["max_tool_calls"] as? Int == 2)
            #expect(r2.status == .conflict)
            #expect((r2.json["error"] as? String)?.contains("different reservation") == true)
            #expect(r2.json["child_token"] == nil)
        }
    }

    @Test("persisted delegation state is private (0600 in 0700) under umask 022")
    func privateState() async throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 2, maxDuration: nil))
            _ = try await client.start(parent)
            let reply = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_max_tool_calls": 1, "delegation_request_id": "secret-replay",
            ])
            #expect(reply.status == .ok)
        }
        #expect(fileMode(directory) == 0o700)
        for suffix in ["", "-wal", "-shm"] { #expect(fileMode(directory + "/tessera.sqlite" + suffix) == 0o600) }
    }

    @Test(
        "a malformed token gets 401 invalid_token with WWW-Authenticate",
        arguments: [
            ("/verify", #"{"token":"not-a-jwt"}"#), ("/session/start", #"{"token":"not-a-jwt"}"#),
            ("/sessions", #"{"token":"not-a-jwt"}"#),
            ("/delegate", #"{"parent_token":"not-a-jwt","child_agent_id":"child","child_mission":"subtask","child_allowed_tools":["read"]}"#),
        ])
    func invalidToken(path: String, payload: String) async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.post(path, raw: Data(payload.utf8))
            #expect(reply.status == .unauthorized)
            #expect(reply.body == #"{"error":"invalid_token"}"#)
            #expect(reply.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
        }
    }

    @Test("issue: a non-object mission is 400 mission must be a JSON object")
    func nonObjectMission() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.post("/issue", token: fixture.adminKey, raw: Data(#"{"mission":null}"#.utf8))
            #expect(reply.status == .badRequest)
            #expect(reply.body == #"{"error":"mission must be a JSON object"}"#)
        }
    }

    @Test("issue: lineage_budgets is refused as deferred to a later phase")
    func lineageBudgets() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.post("/issue", token: fixture.adminKey, json: ["mission": [
                "agent_id": "parent", "mission": "coordinate child work", "allowed_tools": ["read"],
                "delegation_allowed": true, "max_delegation_depth": 1,
                "lineage_budgets": [["type": "max_child_tool_calls", "limit": 3]],
            ]])
            #expect(reply.status == .badRequest)
            #expect(reply.json["token"] == nil)
            let error = try #require(reply.json["error"] as? String)
            #expect(error.contains("lineage_budgets") && error.contains("Phase 1") && error.contains("deferred"))
        }
    }

    @Test("delegate: string lists are refused before they could be split into characters")
    func stringLists() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], scope: ["/data/*"]))
            _ = try await client.start(parent)
            let tools = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub", "child_allowed_tools": "read",
            ])
            #expect(tools.status == .badRequest)
            #expect(tools.body == #"{"error":"child_allowed_tools must be a JSON array of non-empty strings"}"#)
            let scope = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_resource_scope": "/data/*",
            ])
            #expect(scope.status == .badRequest)
            #expect(scope.body == #"{"error":"child_resource_scope must be a JSON array of non-empty strings"}"#)
        }
    }

    @Test("session end returns the attestation and a summary counting permits")
    func sessionEnd() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission, ttl: 60))
            _ = try await client.evaluate(session, "read_file")
            let reply = try await client.post("/session/end", json: ["session_id": session])
            #expect(reply.status == .ok)
            #expect(reply.json["attestation_token"] != nil)
            #expect(((reply.json["summary"] as? [String: Any])?["permits"] as? Int ?? 0) >= 1)
        }
    }

    @Test("session start answers 503 replay_cache_unavailable when the replay cache is gone")
    func replayCacheUnavailable() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        try await fixture.withClient { client in
            _ = try await client.start(try await client.issue(fixture.adminKey, exampleMission, ttl: 60))
            // Destroy the replay cache from outside, as the seed deletes its file.
            let outside = try DatabaseQueue(path: directory + "/tessera.sqlite")
            try await outside.write { db in try db.execute(sql: "DROP TABLE gov_replay") }
            let fresh = try await client.issue(fixture.adminKey, exampleMission, ttl: 60)
            let reply = try await client.post("/session/start", json: ["token": fresh])
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.body == #"{"error":"replay_cache_unavailable"}"#)
        }
    }

    @Test("attest is idempotent after end: byte-identical on every call")
    func attestIdempotent() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission, ttl: 60))
            _ = try await client.evaluate(session, "read_file")
            let end = try await client.post("/end", json: ["session": session])
            #expect(end.status == .ok)
            #expect(end.json["summary"] != nil)
            let a1 = try await client.post("/attest", json: ["session": session])
            // Past a whole second (the unit of every time claim): an attestation signed again
            // now would differ.
            clock.advance(by: 1.1)
            let a2 = try await client.post("/attest", json: ["session": session])
            #expect(a1.status == .ok)
            #expect(a2.status == .ok)
            #expect(a1.body == a2.body)
            #expect(a1.json["attestation_token"] as? String == end.json["attestation_token"] as? String)
        }
    }

    @Test("delegate without a started parent session is 403 naming the parent session")
    func unstartedParent() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 100))
            let reply = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "c", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_max_tool_calls": 999,
            ])
            #expect(reply.status == .forbidden)
            #expect((reply.json["error"] as? String)?.lowercased().contains("parent session") == true)
        }
    }

    @Test("delegate from an ended parent session is 403 containing ended")
    func endedParent() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 100))
            let session = try await client.start(parent)
            _ = try await client.post("/session/end", json: ["session_id": session])
            let reply = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "c", "child_mission": "sub", "child_allowed_tools": ["read"],
            ])
            #expect(reply.status == .forbidden)
            #expect((reply.json["error"] as? String)?.lowercased().contains("ended") == true)
        }
    }

    @Test("the child budget is clamped to what the parent has left")
    func clampToRemaining() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 10))
            let session = try await client.start(parent)
            for _ in 0..<7 { _ = try await client.evaluate(session, "read") }
            let reply = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "c", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_max_tool_calls": 999,
            ])
            #expect(reply.status == .ok)
            #expect((reply.json["child_claims"] as? [String: Any])?["max_tool_calls"] as? Int == 3)
            #expect(reply.json["parent_calls_remaining_at_delegation"] as? Int == 3)
            // The reservation is the parent's loss: its own next call is over budget.
            #expect(try await client.evaluate(session, "read").json["decision"] as? String == "DENY")
        }
    }
}

/// Carries a non-Sendable test argument into a `@Sendable` closure.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
