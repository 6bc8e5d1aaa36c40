import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

/// Each failure schemathesis found (scripts/api-fuzz, docs/reliability.md), kept so it stays fixed.
@Suite("Fuzzing regressions (schemathesis findings)")
struct FuzzRegressionTests {
    @Test("ST204: a known path with another method is 405 with Allow, an unknown path 404")
    func methodNotAllowed() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let wrong = try await client.client.execute(uri: "/v1/agents", method: .delete) { $0 }
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow] == "POST, GET")
            let parameterised = try await client.client.execute(uri: "/v1/agents/agt_x/badge", method: .get) { $0 }
            #expect(parameterised.status == .methodNotAllowed)
            #expect(parameterised.headers[.allow] == "POST")
            #expect(try await client.get("/no/such/path").status == .notFound)
        }
    }

    @Test("ST201: an empty-object body must be an object: [null] or 7 is a 400")
    func emptyBodyIsAnObject() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            for raw in ["[null, null]", "7", "\"x\""] {
                let reply = try await client.post("/api/v1/auth/bootstrap-status", raw: Data(raw.utf8))
                #expect(reply.status == .badRequest, "\(raw)")
            }
            #expect(try await client.post("/api/v1/auth/bootstrap-status", json: [:]).status == .ok)
        }
    }

    @Test("ST201: /revoke refuses a non-string session_id or jti instead of ignoring it")
    func revokeFieldsTyped() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let reply = try await client.post("/revoke", token: fixture.adminKey, json: ["session_id": 5, "jti": "x"])
            #expect(reply.status == .badRequest)
            #expect(reply.body.contains("session_id"))
        }
    }

    @Test("ST201: reasons are bounded (1024 characters) on badge revocation and agent disable")
    func reasonBounded() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let agent = try await client.registerAgent(fixture.adminKey, key: key)
            let long = String(repeating: "é", count: 1025)
            let disable = try await client.post("/v1/agents/\(agent)/disable", token: fixture.adminKey, json: ["reason": long])
            #expect(disable.status == .badRequest)
            #expect(disable.body.contains("reason"))
            #expect(try await client.post("/v1/agents/\(agent)/disable", token: fixture.adminKey, json: ["reason": String(long.dropLast())]).status == .ok)
        }
    }

    @Test("ST202: usernames follow the documented character rule exactly (Unicode spaces refused, other characters allowed)")
    func usernames() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            for bad in ["a\u{00A0}b", "a\u{0085}b", "a\u{2003}b", "a@b", "a b", ""] {
                let reply = try await client.iam(fixture.adminKey, ["operation": "create-user", "user": ["username": bad]])
                #expect(reply.status == .badRequest, "\(bad.unicodeScalars.map { $0.value })")
            }
            for good in ["é", "名前", "a\u{0080}b", String(repeating: "x", count: 128)] {
                let reply = try await client.iam(fixture.adminKey, ["operation": "create-user", "user": ["username": good, "enabled": false]])
                #expect(reply.status == .ok, "\(good): \(reply.body)")
            }
        }
    }

    @Test("ST201/ST202: badge lifetimes beyond a year are refused, above the maximum capped; audiences are counted in characters")
    func badgeBounds() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let agent = try await client.registerAgent(fixture.adminKey, key: Ed25519KeyPair())
            let path = "/v1/agents/\(agent)/badge"
            let absurd = try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0", "ttl": 31_622_401])
            #expect(absurd.status == .badRequest)
            #expect(absurd.json["error"] as? String == "invalid_request")
            #expect(try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0", "ttl": 31_622_400]).status == .ok)
            let wide = String(repeating: "名", count: 512)
            #expect(try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0", "badge_aud": [wide]]).status == .ok)
            #expect(try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0", "badge_aud": [wide + "x"]]).status == .badRequest)
            // Agent status by id as well as by DID; a reference that is neither is invalid_did.
            #expect(try await client.get("/v1/agents/\(agent)/status").json["status"] as? String == "active")
            #expect(try await client.get("/v1/agents/agent-1/status").json["error"] as? String == "invalid_did")
        }
    }

    @Test("ST201: mission strings are bounded in characters (1024), as the document says")
    func missionStrings() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            func issue(_ mission: String) async throws -> IAMClient.Reply {
                try await client.post("/issue", token: fixture.adminKey, json: ["mission": ["agent_id": "a", "mission": mission]])
            }
            let atLimit = try await issue(String(repeating: "é", count: 1024))
            let over = try await issue(String(repeating: "é", count: 1025))
            #expect(atLimit.status == .ok)
            #expect(over.status == .badRequest)
        }
    }
}
