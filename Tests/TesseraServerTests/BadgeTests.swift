import Foundation
import Testing
import TesseraClient
import TesseraCore

@testable import TesseraServer

@Suite("Agents and trust badges")
struct BadgeTests {
    /// A registered agent with its key, in a fixture server.
    func register(_ client: IAMClient, _ admin: String, key: Ed25519KeyPair = Ed25519KeyPair(), workspace: String? = nil) async throws -> (String, Ed25519KeyPair) {
        var extra: [String: Any] = ["domain": "bot.example"]
        if let workspace { extra["workspace"] = workspace }
        return (try await client.registerAgent(admin, key: key, extra: extra), key)
    }

    func proof(_ key: Ed25519KeyPair, nonce: String, aud: String = "tessera", iat: Int64 = Date().unixSeconds) throws -> String {
        try CompactJWS.sign(PoPProofClaims(nonce: nonce, audience: aud, iat: iat), type: PoPProofClaims.type, key: key)
    }

    func challenge(_ client: IAMClient, _ agent: String) async throws -> (String, String) {
        let reply = try await client.post("/v1/agents/\(agent)/badge/challenge", json: [:])
        #expect(reply.status == .ok)
        let nonce = try #require(reply.json["nonce"] as? String)
        #expect(Base64URL.decode(nonce)?.count == 32)
        return (try #require(reply.json["challenge_id"] as? String), nonce)
    }

    func verify(_ environment: ServerEnvironment, _ token: String, _ verification: BadgeVerification = .init(), at clock: any TesseraClock = SystemClock()) async throws(BadgeError) -> BadgeClaims {
        let keys = await JWSVerifier(jwks: await environment.keys.jwks())
        let status = try? await environment.badges.status()
        let list = await BadgeStatusCache.verifiedList(status?.token, keys: keys)
        return try await verification.verify(token, keys: keys, status: list, clock: clock)
    }

    @Test("registration derives the DID from the key and refuses mismatches, private keys, duplicates and readers")
    func registration() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let (id, _) = try await register(client, fixture.adminKey, key: key)
            let agent = try await client.get("/v1/agents/\(id)", token: fixture.adminKey)
            #expect(agent.json["did"] as? String == key.publicKey.did)
            #expect((agent.json["public_jwk"] as? [String: Any])?["kid"] as? String == key.kid)
            #expect(agent.json["status"] as? String == "active")
            let jwk: [String: Any] = ["kty": "OKP", "crv": "Ed25519", "x": Ed25519KeyPair().publicKey.jwk.x!]
            let mismatch = try await client.post("/v1/agents", token: fixture.adminKey, json: ["name": "x", "public_jwk": jwk, "did": key.publicKey.did])
            #expect(mismatch.status == .badRequest)
            #expect(mismatch.body.contains("did"))
            var secret = jwk
            secret["d"] = Ed25519KeyPair().privateJWK.d!
            #expect(try await client.post("/v1/agents", token: fixture.adminKey, json: ["name": "x", "public_jwk": secret]).status == .badRequest)
            let duplicate = try await client.post("/v1/agents", token: fixture.adminKey, json: [
                "name": "again", "public_jwk": ["kty": "OKP", "crv": "Ed25519", "x": key.publicKey.jwk.x!],
            ])
            #expect(duplicate.status == .conflict)
            _ = try await client.createUser(fixture.adminKey, "reader", roles: ["reader"])
            let reader = try await client.jwt("reader")
            #expect(try await client.post("/v1/agents", token: reader, json: ["name": "x", "public_jwk": jwk]).status == .forbidden)
            #expect(try await client.get("/v1/agents/\(id)", token: reader).status == .ok)
            let list = try await client.get("/v1/agents", token: reader)
            #expect((list.json["agents"] as? [Any])?.count == 1)
        }
    }

    @Test("an agent in another workspace is invisible to a writer of this one")
    func isolation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            _ = try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "other"]])
            let (id, _) = try await register(client, fixture.adminKey, workspace: "other")
            _ = try await client.createUser(fixture.adminKey, "w", roles: ["writer"])
            let writer = try await client.jwt("w")
            #expect(try await client.get("/v1/agents/\(id)", token: writer).status == .notFound)
            #expect(try await client.post("/v1/agents/\(id)/badge", token: writer, json: [:]).status == .notFound)
            #expect(try await client.post("/v1/agents/\(id)/disable", token: writer, json: [:]).status == .notFound)
            #expect(try await client.get("/v1/agents?workspace=other", token: writer).status == .forbidden)
        }
    }

    @Test("CA badge: IAL-0 with the spec's claims, bound to the agent key; lifetime bounds")
    func caBadge() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let (id, key) = try await register(client, fixture.adminKey)
            let reply = try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: ["aud": ["svc"]])
            #expect(reply.status == .ok)
            #expect(reply.json["ial"] as? String == "0")
            let token = try #require(reply.json["token"] as? String)
            let claims = try await verify(fixture.environment, token, .init(trustedIssuers: ["tessera"], audience: "svc"))
            #expect(claims.sub == key.publicKey.did)
            #expect(claims.agent_id == id)
            #expect(claims.workspace == "default")
            #expect(claims.domain == "bot.example")
            #expect(claims.cnf?.jkt == key.kid)
            #expect((claims.exp ?? 0) - (claims.iat ?? 0) == 3600)
            let short = try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: ["exp_s": 10])
            #expect(short.status == .badRequest)
            #expect(short.body.contains("exp_s"))
            let long = try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: ["exp_s": 10 * 86400])
            let longToken = try #require(long.json["token"] as? String)
            let longClaims = try #require(CompactJWS.unverifiedPayload(longToken, as: BadgeClaims.self))
            #expect((longClaims.exp ?? 0) - (longClaims.iat ?? 0) == 86400)
        }
    }

    @Test("PoP badge: IAL-1 for a fresh proof; replayed, foreign-key, wrong-nonce, wrong-audience and expired proofs get 401")
    func popBadge() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            let (id, key) = try await register(client, fixture.adminKey)
            func answer(_ challengeID: String, _ proof: String) async throws -> IAMClient.Reply {
                try await client.post("/v1/agents/\(id)/badge/pop", json: ["challenge_id": challengeID, "proof": proof])
            }
            let (c1, n1) = try await challenge(client, id)
            let good = try proof(key, nonce: n1, iat: clock.now().unixSeconds)
            let ok = try await answer(c1, good)
            #expect(ok.status == .ok)
            #expect(ok.json["ial"] as? String == "1")
            let okToken = try #require(ok.json["token"] as? String)
            let claims = try await verify(fixture.environment, okToken, .init(minimumIAL: 1), at: clock)
            #expect(claims.ial == "1")
            #expect(claims.cnf?.jkt == key.kid)

            let replay = try await answer(c1, good)
            #expect(replay.status == .unauthorized)
            #expect(replay.body == authFailureBody)
            let (c2, n2) = try await challenge(client, id)
            #expect(try await answer(c2, try proof(Ed25519KeyPair(), nonce: n2, iat: clock.now().unixSeconds)).body == authFailureBody)
            let (c3, _) = try await challenge(client, id)
            #expect(try await answer(c3, try proof(key, nonce: "not-the-nonce", iat: clock.now().unixSeconds)).body == authFailureBody)
            let (c4, n4) = try await challenge(client, id)
            #expect(try await answer(c4, try proof(key, nonce: n4, aud: "elsewhere", iat: clock.now().unixSeconds)).body == authFailureBody)
            let (c5, n5) = try await challenge(client, id)
            clock.advance(by: 61)
            #expect(try await answer(c5, try proof(key, nonce: n5, iat: clock.now().unixSeconds)).body == authFailureBody)
            let unknownAgent = try await client.post("/v1/agents/agt_nope/badge/challenge", json: [:])
            #expect(unknownAgent.status == .notFound)
        }
    }

    @Test("revocation by jti and by disabling the agent reaches verifiers through the signed status list")
    func revocation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let (id, _) = try await register(client, fixture.adminKey)
            let firstReply = try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: [:])
            let secondReply = try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: [:])
            let first = try #require(firstReply.json["token"] as? String)
            let second = try #require(secondReply.json["token"] as? String)
            let jti = try #require(CompactJWS.unverifiedPayload(first, as: BadgeClaims.self)).jti
            #expect(try await client.post("/v1/badges/\(jti)/revoke", token: fixture.adminKey, json: [:]).status == .ok)
            let status = try await client.get("/v1/badges/status")
            #expect(status.headers[.cacheControl] == "public, max-age=60")
            #expect(status.json["ttl"] as? Int == 60)
            await #expect(throws: BadgeError.revoked) { _ = try await verify(fixture.environment, first) }
            _ = try await verify(fixture.environment, second)
            #expect(try await client.post("/v1/agents/\(id)/disable", token: fixture.adminKey, json: [:]).status == .ok)
            await #expect(throws: BadgeError.revoked) { _ = try await verify(fixture.environment, second) }
            #expect(try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: [:]).status == .forbidden)
            #expect(try await client.post("/v1/agents/\(id)/badge/challenge", json: [:]).status == .notFound)
        }
    }

    @Test("every verification error code is reachable, in the spec's order")
    func errorCodes() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        let environment = fixture.environment
        let now = clock.now().unixSeconds
        let agentKey = Ed25519KeyPair()
        func badge(iss: String = "tessera", aud: [String]? = ["svc"], iat: Int64 = now, exp: Int64 = now + 600, ial: String = "0") async throws -> String {
            try await environment.keys.sign(
                BadgeClaims(iss: iss, sub: agentKey.publicKey.did, aud: aud, iat: iat, exp: exp, ial: ial, domain: "", workspace: "default", agentID: "a", jkt: agentKey.kid),
                type: BadgeClaims.type)
        }
        let keys = await JWSVerifier(jwks: await environment.keys.jwks())
        let strict = BadgeVerification(trustedIssuers: ["tessera"], audience: "svc", minimumIAL: 1, requireFreshStatus: true)
        let list = BadgeStatusClaims(iss: "tessera", iat: now, ttl: 60, revoked: [], disabledAgents: [])
        func code(_ token: String, _ verification: BadgeVerification = .init(trustedIssuers: ["tessera"], audience: "svc"), status: (BadgeStatusClaims, Bool)? = nil) async -> BadgeError? {
            do {
                _ = try await verification.verify(token, keys: keys, status: status.map { (list: $0.0, fresh: $0.1) }, clock: clock)
                return nil
            } catch {
                return error
            }
        }
        #expect(await code("garbage") == .malformed)
        #expect(await code(try CompactJWS.sign(BadgeClaims(iss: "tessera", sub: "x", aud: ["svc"], iat: now, exp: now + 60, ial: "0", domain: "", workspace: "", agentID: "a", jkt: nil), type: BadgeClaims.type, key: Ed25519KeyPair())) == .signatureInvalid)
        #expect(await code(try await badge(exp: now - 61)) == .expired)
        #expect(await code(try await badge(iat: now + 120, exp: now + 600)) == .notYetValid)
        #expect(await code(try await badge(iss: "https://evil.example")) == .issuerUntrusted)
        #expect(await code(try await badge(aud: ["other"])) == .audienceMismatch)
        #expect(await code(try await badge(), strict, status: (list, true)) == .ialInsufficient)
        #expect(await code(try await badge(ial: "1"), strict, status: nil) == .revocationUnavailable)
        #expect(await code(try await badge(ial: "1"), strict, status: (list, false)) == .revocationUnavailable)
        let revokedList = BadgeStatusClaims(iss: "tessera", iat: now, ttl: 60, revoked: [], disabledAgents: ["a"])
        #expect(await code(try await badge(ial: "1"), strict, status: (revokedList, true)) == .revoked)
        #expect(await code(try await badge(ial: "1"), strict, status: (list, true)) == nil)
    }
}
