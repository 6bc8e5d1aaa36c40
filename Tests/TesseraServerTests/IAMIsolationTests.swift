import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

@Suite("IAM: capabilities and cross-workspace isolation")
struct IAMIsolationTests {
    /// Two workspaces, A and B, each with a writer and a reader; the caller is A's writer.
    struct World {
        let fixture: IAMFixture
        let writerA: String
        let writerAID: String
        let userB: String
        let keyB: String
    }

    func world(_ client: IAMClient, _ fixture: IAMFixture) async throws -> World {
        for id in ["a", "b"] {
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": id]]).status == .ok)
        }
        let writerAID = try await client.createUser(fixture.adminKey, "writer-a", roles: ["writer"], workspace: "a")
        let userB = try await client.createUser(fixture.adminKey, "writer-b", roles: ["writer"], workspace: "b")
        let (keyB, _) = try await client.apiKey(fixture.adminKey, userID: userB)
        return World(fixture: fixture, writerA: try await client.jwt("writer-a"), writerAID: writerAID, userB: userB, keyB: keyB)
    }

    /// Every IAM operation aimed at workspace B or its user, by A's writer. None may succeed.
    static func crossWorkspaceRequests(_ w: World) -> [(String, [String: Any])] {
        [
            ("create-user", ["operation": "create-user", "workspace": "b", "user": ["username": "mole", "password": "long enough pw", "roles": ["reader"]]]),
            ("list-users", ["operation": "list-users", "workspace": "b"]),
            ("list-users (all)", ["operation": "list-users"]),
            ("get-user", ["operation": "get-user", "user_id": w.userB]),
            ("update-user", ["operation": "update-user", "user_id": w.userB, "user": ["name": "pwned"]]),
            ("disable-user", ["operation": "disable-user", "user_id": w.userB]),
            ("enable-user", ["operation": "enable-user", "user_id": w.userB]),
            ("delete-user", ["operation": "delete-user", "user_id": w.userB]),
            ("reset-password", ["operation": "reset-password", "user_id": w.userB]),
            ("create-workspace", ["operation": "create-workspace", "workspace_record": ["id": "c"]]),
            ("list-workspaces", ["operation": "list-workspaces"]),
            ("get-workspace", ["operation": "get-workspace", "workspace": "b"]),
            ("update-workspace", ["operation": "update-workspace", "workspace_record": ["id": "b", "name": "x"]]),
            ("disable-workspace", ["operation": "disable-workspace", "workspace": "b"]),
            ("create-api-key", ["operation": "create-api-key", "key": ["user_id": w.userB, "name": "mole"]]),
            ("list-api-keys", ["operation": "list-api-keys", "user_id": w.userB]),
            ("revoke-api-key", ["operation": "revoke-api-key", "key_id": w.keyB]),
            ("rotate-signing-key", ["operation": "rotate-signing-key"]),
            ("resolve-api-key", ["operation": "resolve-api-key", "api_key": "tsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]),
            ("authorise (other user)", ["operation": "authorise", "user_id": w.userB, "capability": "agents:write"]),
            ("list-audit", ["operation": "list-audit"]),
        ]
    }

    @Test("a writer in workspace A can neither read nor change anything in workspace B")
    func isolation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let w = try await world(client, fixture)
            for (name, request) in Self.crossWorkspaceRequests(w) {
                let reply = try await client.iam(w.writerA, request)
                #expect([.forbidden, .notFound].contains(reply.status), "\(name): \(reply.status) \(reply.body)")
                #expect(!reply.body.contains("writer-b"), "\(name) leaked B's user")
            }
            // B is untouched.
            let b = try await client.iam(fixture.adminKey, ["operation": "get-user", "user_id": w.userB])
            #expect((b.json["user"] as? [String: Any])?["enabled"] as? Bool == true)
            #expect((b.json["user"] as? [String: Any])?["name"] as? String == "")
            // Self-service stays scoped to the caller.
            let mine = try await client.iam(w.writerA, ["operation": "list-my-workspaces"])
            #expect((mine.json["workspaces"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["a"])
            let login = try await client.login("writer-a", workspace: "b")
            #expect(login.body == authFailureBody)
        }
    }

    @Test("authorise answers per capability and workspace, and fails closed on unknown capabilities")
    func authorise() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let w = try await world(client, fixture)
            func decide(_ token: String, _ capability: String, _ workspace: String?) async throws -> Bool? {
                var request: [String: Any] = ["operation": "authorise", "capability": capability]
                if let workspace { request["resource_json"] = #"{"workspace":"\#(workspace)"}"# }
                let reply = try await client.iam(token, request)
                #expect(reply.json["decision_ttl_seconds"] as? Int ?? 99 <= 60)
                return reply.json["decision_allow"] as? Bool
            }
            #expect(try await decide(w.writerA, "agents:write", "a") == true)
            #expect(try await decide(w.writerA, "agents:write", "b") == false)
            #expect(try await decide(w.writerA, "passports:issue", "a") == true)
            #expect(try await decide(w.writerA, "users:read", "a") == false)
            #expect(try await decide(w.writerA, "agents:write", nil) == false)
            #expect(try await decide(w.writerA, "agents:fly", "a") == false)
            #expect(try await decide(w.writerA, "agents:write", "no-such-workspace") == false)
            #expect(try await decide(fixture.adminKey, "agents:write", "b") == true)
            let many = try await client.iam(w.writerA, [
                "operation": "authorise-many",
                "authorise_checks": #"[{"capability":"agents:read","resource":{"workspace":"a"}},{"capability":"agents:read","resource":{"workspace":"b"}}]"#,
            ])
            let decisions = try JSONSerialization.jsonObject(with: Data(try #require(many.json["decisions_json"] as? String).utf8)) as? [[String: Any]]
            #expect(decisions?.map { $0["allow"] as? Bool } == [true, false])
        }
    }

    @Test("reader and writer roles grant exactly their capabilities; unknown roles are refused")
    func roleTable() async throws {
        #expect(RoleCatalog.allows(grants: [.init(role: "reader", workspace: "a")], enabled: true, capability: "agents:read", workspace: "a"))
        #expect(!RoleCatalog.allows(grants: [.init(role: "reader", workspace: "a")], enabled: true, capability: "agents:write", workspace: "a"))
        #expect(!RoleCatalog.allows(grants: [.init(role: "writer", workspace: "a")], enabled: false, capability: "agents:read", workspace: "a"))
        #expect(!RoleCatalog.allows(grants: [.init(role: "superuser", workspace: "*")], enabled: true, capability: "agents:read", workspace: "a"))
        #expect(RoleCatalog.allows(grants: [RoleGrant.parse("writer@b", homeWorkspace: "a")], enabled: true, capability: "badges:issue", workspace: "b"))
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.iam(fixture.adminKey, [
                "operation": "create-user", "user": ["username": "x", "password": "long enough pw", "roles": ["superuser"]],
            ])
            #expect(reply.status == .badRequest)
            #expect(reply.body.contains("user.roles"))
            // A writer cannot mint an admin even where it holds users:write (it does not).
            let writer = try await client.createUser(fixture.adminKey, "w", roles: ["writer"])
            _ = writer
            let jwt = try await client.jwt("w")
            let escalate = try await client.iam(jwt, ["operation": "create-user", "user": ["username": "y", "roles": ["admin"]]])
            #expect(escalate.status == .forbidden)
        }
    }

    @Test("actor is set by the server from the identity; the caller's value is ignored")
    func actorInjection() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.iam(fixture.adminKey, [
                "operation": "create-workspace", "actor": "someone-else", "workspace_record": ["id": "audited"],
            ])
            #expect(reply.status == .ok)
            let audit = try await client.iam(fixture.adminKey, ["operation": "list-audit", "limit": 5])
            let events = try #require(audit.json["audit"] as? [[String: Any]])
            let event = try #require(events.first { $0["action"] as? String == "create-workspace" })
            #expect(event["actor"] as? String == fixture.adminID)
            #expect(event["target"] as? String == "audited")
            #expect(event["outcome"] as? String == "ok")
        }
    }

    @Test("bad requests name the field; unknown operations are 400; duplicates 409; unknown targets 404")
    func badInput() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let unknown = try await client.iam(fixture.adminKey, ["operation": "make-coffee"])
            #expect(unknown.status == .badRequest)
            #expect(unknown.body.contains("make-coffee"))
            #expect(try await client.iam(fixture.adminKey, [:]).body.contains("operation"))
            let badJSON = try await client.post("/api/v1/iam", token: fixture.adminKey, raw: Data("{".utf8))
            #expect(badJSON.status == .badRequest)
            let wrongType = try await client.iam(fixture.adminKey, ["operation": "create-user", "user": ["username": 7]])
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.body.contains("user.username"))
            _ = try await client.createUser(fixture.adminKey, "dup", roles: ["reader"])
            let dup = try await client.iam(fixture.adminKey, ["operation": "create-user", "user": ["username": "dup"]])
            #expect(dup.status == .conflict)
            #expect(dup.errorType == "duplicate")
            let reserved = try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "_system"]])
            #expect(reserved.status == .badRequest)
            #expect(reserved.body.contains("workspace_record.id"))
            let missing = try await client.iam(fixture.adminKey, ["operation": "get-user", "user_id": "nope"])
            #expect(missing.status == .notFound)
            let weak = try await client.iam(fixture.adminKey, ["operation": "create-user", "user": ["username": "z", "password": "short"]])
            #expect(weak.errorType == "weak-password")
            let noAuth = try await client.iam(nil, ["operation": "whoami"])
            #expect(noAuth.body == authFailureBody)
        }
    }

    @Test("metrics need metrics:read")
    func metricsCapability() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            #expect(try await client.get("/metrics").status == .unauthorized)
            _ = try await client.createUser(fixture.adminKey, "r", roles: ["reader"])
            #expect(try await client.get("/metrics", token: try await client.jwt("r")).status == .forbidden)
            #expect(try await client.get("/metrics", token: fixture.adminKey).status == .ok)
        }
    }
}
