import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

@Suite("Governance: key-bound passports, revocation lineage, bad input")
struct GovernanceBindingTests {
    /// A proof of possession: JWS with the agent's public `jwk` and `kid` in the header.
    func proof(_ key: Ed25519KeyPair, passportJTI: String, iat: Int64 = Date().unixSeconds) throws -> String {
        try PassportProofClaims.sign(PassportProofClaims(passportJTI: passportJTI, purpose: .sessionStart, iat: iat), key: key)
    }

    /// The same proof with another (or no) `typ`: what a different token signed by the agent's key looks like.
    func proof(_ key: Ed25519KeyPair, passportJTI: String, typ: String?) throws -> String {
        var jwk = key.publicKey.jwk
        jwk.kid = nil
        var header: [String: Any] = ["alg": "EdDSA", "kid": key.kid, "jwk": ["kty": "OKP", "crv": "Ed25519", "x": jwk.x!]]
        if let typ { header["typ"] = typ }
        let headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let payload = try JSONEncoder().encode(PassportProofClaims(passportJTI: passportJTI, purpose: .sessionStart, iat: Date().unixSeconds))
        return try CompactJWS.sign(signingInput: Base64URL.encode(headerData) + "." + Base64URL.encode(payload), key: key)
    }

    @Test("a passport bound to an agent key (cnf.jkt) starts only with a fresh proof by that key")
    func keyBinding() async throws {
        let fixture = try await IAMFixture.make()
        let agent = Ed25519KeyPair()
        let thief = Ed25519KeyPair()
        try await fixture.withClient { client in
            let issued = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission, "cnf_jkt": agent.kid])
            let token = try #require(issued.json["token"] as? String)
            let jti = try #require((issued.json["claims"] as? [String: Any])?["jti"] as? String)
            #expect(((issued.json["claims"] as? [String: Any])?["cnf"] as? [String: Any])?["jkt"] as? String == agent.kid)
            for bad in [
                nil, try proof(thief, passportJTI: jti), try proof(agent, passportJTI: "other"),
                try proof(agent, passportJTI: jti, iat: Date().unixSeconds - 120),
                // Finding 15: the key's signature on a token of another type is not a proof.
                try proof(agent, passportJTI: jti, typ: nil), try proof(agent, passportJTI: jti, typ: KeyOwnershipProofClaims.type),
            ] as [String?] {
                var body: [String: Any] = ["token": token]
                if let bad { body["proof"] = bad }
                let reply = try await client.post("/session/start", json: body)
                #expect(reply.status == .unauthorized)
                #expect(reply.body == #"{"error":"invalid_token"}"#)
            }
            let ok = try await client.post("/session/start", json: ["token": token, "proof": try proof(agent, passportJTI: jti)])
            #expect(ok.status == .ok)
        }
    }

    @Test("a registered agent must be active and in the issuer's workspace; cnf_jkt \"agent\" binds its key")
    func registryCheck() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let agent = try await client.registerAgent(fixture.adminKey, key: key)
            var mission = exampleMission
            mission["agent_id"] = agent
            let bound = try await client.post("/issue", token: fixture.adminKey, json: ["mission": mission, "cnf_jkt": "agent"])
            #expect(bound.status == .ok)
            #expect(((bound.json["claims"] as? [String: Any])?["cnf"] as? [String: Any])?["jkt"] as? String == key.kid)
            let unknown = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission, "cnf_jkt": "agent"])
            #expect(unknown.status == .badRequest)
            _ = try await client.post("/v1/agents/\(agent)/disable", token: fixture.adminKey, json: [:])
            let disabled = try await client.post("/issue", token: fixture.adminKey, json: ["mission": mission])
            #expect(disabled.status == .forbidden)
            #expect(disabled.body.contains("disabled"))
        }
    }

    @Test("revoking a parent passport revokes its delegated children immediately")
    func lineageRevocation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read"], maxCalls: 10))
            let parentSession = try await client.start(parent)
            let delegated = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "c", "child_mission": "sub", "child_allowed_tools": ["read"],
                "child_max_tool_calls": 2,
            ])
            let childToken = try #require(delegated.json["child_token"] as? String)
            let childSession = try await client.start(childToken)
            #expect(try await client.evaluate(childSession, "read").json["decision"] as? String == "PERMIT")
            #expect(try await client.post("/revoke", token: fixture.adminKey, json: ["session_id": parentSession]).status == .ok)
            let child = try await client.evaluate(childSession, "read")
            #expect(child.status == .forbidden)
            #expect(child.body == #"{"error":"passport_revoked"}"#)
            // A child passport not yet started is refused too.
            let verify = try await client.post("/verify", json: ["token": childToken])
            #expect(verify.body == #"{"error":"passport_revoked"}"#)
        }
    }

    @Test("governance routes: bad input names the field; missing capability is refused in the flat shape")
    func badInput() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            let missing = try await client.post("/evaluate", json: ["session_id": session])
            #expect(missing.status == .badRequest)
            #expect(missing.body == #"{"error":"tool_name must be a non-empty string"}"#)
            let args = try await client.post("/evaluate", json: ["session_id": session, "tool_name": "read_file", "arguments": [1]])
            #expect(args.body == #"{"error":"arguments must be a JSON object"}"#)
            let unknown = try await client.evaluate("ses_nope", "read_file")
            #expect(unknown.status == .notFound)
            let typo = try await client.post("/issue", token: fixture.adminKey, json: ["mission": ["agent_id": "a", "mission": "m", "allowed_tool": ["x"]]])
            #expect(typo.status == .badRequest)
            #expect(typo.body.contains("allowed_tool"))
            let noAuth = try await client.post("/issue", json: ["mission": exampleMission])
            #expect(noAuth.status == .unauthorized)
            #expect(noAuth.body == #"{"error":"invalid_token"}"#)
            _ = try await client.createUser(fixture.adminKey, "r", roles: ["reader"])
            let reader = try await client.post("/issue", token: try await client.jwt("r"), json: ["mission": exampleMission])
            #expect(reader.status == .forbidden)
            #expect(reader.body == #"{"error":"access_denied"}"#)
            let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
            let nested = try await client.post("/evaluate", raw: Data(#"{"session_id":"x","tool_name":"t","arguments":{"a":\#(deep)}}"#.utf8))
            #expect(nested.status == .badRequest)
        }
    }
}
