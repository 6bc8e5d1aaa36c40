import Foundation
import Testing
import TesseraClient
import TesseraCore

@testable import TesseraServer

@Suite("Agents and trust badges (RFC-002, RFC-003, Token Status List)")
struct BadgeTests {
    /// A registered agent with its key, in a fixture server.
    func register(_ client: IAMClient, _ admin: String, key: Ed25519KeyPair = Ed25519KeyPair(), workspace: String? = nil) async throws -> (String, Ed25519KeyPair) {
        var extra: [String: Any] = ["domain": "bot.example"]
        if let workspace { extra["workspace"] = workspace }
        return (try await client.registerAgent(admin, key: key, extra: extra), key)
    }

    static func encoded(_ did: String) -> String {
        did.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? did
    }

    func challenge(_ client: IAMClient, _ admin: String, _ did: String, body: [String: Any] = [:]) async throws -> PoPChallenge {
        let reply = try await client.post("/v1/agents/\(Self.encoded(did))/badge/challenge", headers: ["X-Capiscio-Registry-Key": admin], json: body)
        #expect(reply.status == .ok, "\(reply.body)")
        return try JSONDecoder().decode(PoPChallenge.self, from: Data(reply.body.utf8))
    }

    func answer(_ client: IAMClient, _ did: String, _ challengeID: String, _ proof: String) async throws -> IAMClient.Reply {
        try await client.post("/v1/agents/\(Self.encoded(did))/badge", json: ["mode": "ial1", "challenge_id": challengeID, "proof_jws": proof])
    }

    /// Verifies with what the server publishes: its JWKS and the status list the badge names.
    func verify(
        _ environment: ServerEnvironment, _ token: String, minimumIAL: Int = 0, audience: String? = nil, requireFresh: Bool = false,
        at clock: any TesseraClock = SystemClock()
    ) async throws -> BadgeClaims {
        let keys = await JWSVerifier(jwks: environment.keys.jwks())
        let origin = environment.origin.current
        var lists: [String: StatusLookup] = [:]
        if let uri = CompactJWS.unverifiedPayload(token, as: BadgeClaims.self)?.status?.status_list.uri,
            let n = Int64(uri.split(separator: "/").last ?? ""), let listToken = try await environment.statusLists.token(list: n),
            let (list, claims) = StatusListVerifier.verify(listToken, uri: uri, keys: keys, now: clock.now())
        {
            lists[uri] = .list(list, fresh: StatusListVerifier.isFresh(claims, now: clock.now()))
        }
        let verification = BadgeVerification(trustedIssuers: [origin], audience: audience, minimumIAL: minimumIAL, requireFreshStatus: requireFresh)
        return try verification.verify(token, now: clock.now().unixSeconds, keys: { _ in keys }, status: { lists[$0] ?? .unavailable })
    }

    @Test("registration derives the DID from the key and refuses mismatches, private keys, duplicates and readers; did:web agents get a DID document")
    func registration() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let (id, _) = try await register(client, fixture.adminKey, key: key)
            let agent = try await client.get("/v1/agents/\(id)", token: fixture.adminKey)
            #expect(agent.json["did"] as? String == key.publicKey.did)
            #expect((agent.json["public_jwk"] as? [String: Any])?["kid"] as? String == key.kid)
            #expect(agent.json["status"] as? String == "active")
            // Routes are keyed by the URL-encoded DID as well as by id.
            #expect(try await client.get("/v1/agents/\(Self.encoded(key.publicKey.did))", token: fixture.adminKey).json["id"] as? String == id)
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

            // did:web under this registry: its document is served at /agents/<slug>/did.json.
            let webKey = Ed25519KeyPair()
            let did = try #require(DIDWeb.agentDID(registryOrigin: fixture.environment.origin.current, slug: "web-bot"))
            let web = try await client.post("/v1/agents", token: fixture.adminKey, json: [
                "name": "web", "did": did, "public_jwk": ["kty": "OKP", "crv": "Ed25519", "x": webKey.publicKey.jwk.x!],
            ])
            #expect(web.status == .created, "\(web.body)")
            #expect(web.json["did"] as? String == did)
            let document = try await client.get("/agents/web-bot/did.json")
            #expect(document.status == .ok)
            #expect(document.headers[.contentType] == "application/did+json")
            let parsed = try JSONDecoder().decode(DIDDocument.self, from: Data(document.body.utf8))
            #expect(parsed.id == did)
            #expect(parsed.key(methodID: did + "#key-1") == webKey.publicKey)
            #expect(parsed.authentication == [did + "#key-1"])
            // Another host's did:web is not this registry's to assign.
            let foreign = try await client.post("/v1/agents", token: fixture.adminKey, json: [
                "name": "f", "did": "did:web:evil.example:agents:x", "public_jwk": ["kty": "OKP", "crv": "Ed25519", "x": Ed25519KeyPair().publicKey.jwk.x!],
            ])
            #expect(foreign.status == .badRequest)
            #expect(try await client.get("/agents/nobody/did.json").status == .notFound)
        }
    }

    @Test("an agent in another workspace is invisible to a writer of this one")
    func isolation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            _ = try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "other"]])
            let (id, key) = try await register(client, fixture.adminKey, workspace: "other")
            _ = try await client.createUser(fixture.adminKey, "w", roles: ["writer"])
            let writer = try await client.jwt("w")
            #expect(try await client.get("/v1/agents/\(id)", token: writer).status == .notFound)
            let badge = try await client.post("/v1/agents/\(id)/badge", token: writer, json: ["mode": "ial0"])
            #expect(badge.status == .notFound)
            #expect(try await client.post("/v1/agents/\(id)/disable", token: writer, json: [:]).status == .notFound)
            #expect(try await client.get("/v1/agents?workspace=other", token: writer).status == .forbidden)
            let foreign = try await client.post(
                "/v1/agents/\(Self.encoded(key.publicKey.did))/badge/challenge", headers: ["X-Capiscio-Registry-Key": writer], json: [:])
            #expect(foreign.status == .forbidden)
            #expect(foreign.json["error"] as? String == "agent_not_owned")
        }
    }

    @Test("IAL-0 badge: RFC-002 header and claims, the registered key, a status-list slot; lifetimes per RFC-002 §7.2; credential required")
    func caBadge() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let (id, key) = try await register(client, fixture.adminKey)
            let did = key.publicKey.did
            let path = "/v1/agents/\(Self.encoded(did))/badge"
            let reply = try await client.post(
                path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: ["mode": "ial0", "badge_aud": ["https://svc.example"]])
            #expect(reply.status == .ok, "\(reply.body)")
            let token = try #require(reply.json["badge"] as? String)
            #expect(reply.json["token"] as? String == token)
            #expect((reply.json["data"] as? [String: Any])?["assurance_level"] as? String == "IAL-0")
            let header = try #require(CompactJWS.unverifiedHeader(token))
            #expect(header["typ"] == .string("JWT"))
            #expect(header["alg"] == .string("EdDSA"))
            #expect(header["kid"] != nil)
            let payload = try #require(CompactJWS.unverifiedPayload(token, as: [String: JSONValue].self))
            #expect(payload["aud"] == .array([.string("https://svc.example")]))
            #expect(payload["cnf"] == nil)
            let claims = try await verify(fixture.environment, token, audience: "https://svc.example")
            #expect(reply.json["jti"] as? String == claims.jti)
            #expect(UUID(uuidString: claims.jti) != nil)
            #expect(claims.iss == fixture.environment.origin.current)
            #expect(claims.sub == did)
            #expect(claims.ial == "0")
            #expect(claims.level == "1")
            #expect(claims.domain == "bot.example")
            #expect(claims.key == key.publicKey.publicJWK)
            #expect(claims.agent_id == id)
            #expect(claims.workspace == "default")
            #expect(claims.status?.status_list.uri == fixture.environment.origin.current + "/v1/status-lists/0")
            #expect((claims.exp ?? 0) - (claims.iat ?? 0) == 300)

            let short = try await client.post(path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: ["mode": "ial0", "ttl": 10])
            #expect(short.status == .badRequest)
            #expect(short.json["error"] as? String == "invalid_request")
            #expect((short.json["message"] as? String)?.contains("ttl") == true)
            let long = try await client.post(path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: ["mode": "ial0", "ttl": 86400])
            let longToken = try #require(long.json["badge"] as? String)
            let longClaims = try #require(CompactJWS.unverifiedPayload(longToken, as: BadgeClaims.self))
            #expect((longClaims.exp ?? 0) - (longClaims.iat ?? 0) == 3600)
            // A bearer API key works too (Tessera's own clients); no credential is RFC-003's 401.
            #expect(try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0"]).status == .ok)
            let anonymous = try await client.post(path, json: ["mode": "ial0"])
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.json["error"] as? String == "unauthorized")
            let wrongKey = try await client.post(path, headers: ["X-Capiscio-Registry-Key": "tg_nope"], json: ["mode": "ial0"])
            #expect(wrongKey.status == .unauthorized)
            let badMode = try await client.post(path, headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: ["mode": "ial2"])
            #expect(badMode.status == .badRequest)
            #expect(badMode.json["error"] as? String == "invalid_mode")
            // Status per RFC-002 §12.2.
            let status = try await client.get("/v1/badges/\(claims.jti)/status")
            #expect(status.json["revoked"] as? Bool == false)
            #expect(status.json["sub"] as? String == did)
            #expect(try await client.get("/v1/badges/\(UUID().uuidString.lowercased())/status").status == .notFound)
        }
    }

    @Test("IAL-1 (RFC-003): challenge, proof, badge with cnf.kid and the challenge's audience and TTL; every checklist failure has its code")
    func popBadge() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            let (_, key) = try await register(client, fixture.adminKey)
            let did = key.publicKey.did
            let origin = fixture.environment.origin.current
            let c1 = try await challenge(client, fixture.adminKey, did, body: ["badge_aud": ["https://api.example"], "badge_ttl": 120, "challenge_ttl": 300])
            #expect(c1.challenge_id.hasPrefix("ch-"))
            #expect(Base64URL.decode(c1.nonce)?.count == 32)
            #expect(c1.proof_aud == origin)
            #expect(c1.htu == origin + "/v1/agents/" + did.replacingOccurrences(of: ":", with: "%3A") + "/badge")
            #expect(c1.htm == "POST")
            #expect(c1.badge_aud == ["https://api.example"])
            #expect(c1.badge_ttl == 120)
            let now = clock.now().unixSeconds
            let good = try KeyOwnershipProofClaims.sign(challenge: c1, did: did, key: key, now: now)
            let ok = try await answer(client, did, c1.challenge_id, good)
            #expect(ok.status == .ok, "\(ok.body)")
            let data = try #require(ok.json["data"] as? [String: Any])
            #expect(data["assurance_level"] as? String == "IAL-1")
            #expect(ok.json["success"] as? Bool == true)
            let token = try #require(ok.json["badge"] as? String)
            let claims = try await verify(fixture.environment, token, minimumIAL: 1, audience: "https://api.example", at: clock)
            #expect(claims.ial == "1")
            #expect(claims.cnf?.kid == DIDs.keyID(did: did, key: key.publicKey))
            #expect(claims.pop_challenge_id == c1.challenge_id)
            #expect(claims.audience == ["https://api.example"])
            #expect((claims.exp ?? 0) - (claims.iat ?? 0) == 120)

            func code(_ reply: IAMClient.Reply) -> String? { reply.json["error"] as? String }
            let replay = try await answer(client, did, c1.challenge_id, good)
            #expect(replay.status == .forbidden)
            #expect(code(replay) == "challenge_used")
            #expect(code(try await answer(client, did, "chl_123", good)) == "invalid_challenge_id")
            let missing = try await answer(client, did, "ch-" + UUID().uuidString.lowercased(), good)
            #expect(missing.status == .notFound)
            #expect(code(missing) == "challenge_not_found")

            // Each case on a fresh agent: RFC-003 §8.4 throttles a DID after 5 failed proofs.
            struct Agent { var key: Ed25519KeyPair; var did: String }
            func proof(_ c: PoPChallenge, _ agent: Agent, edit: (inout KeyOwnershipProofClaims) -> Void = { _ in }, signer: Ed25519KeyPair? = nil, kid: String? = nil, typ: String = "pop+jwt") throws -> String {
                var claims = KeyOwnershipProofClaims(
                    cid: c.challenge_id, nonce: c.nonce, sub: agent.did, audience: c.proof_aud, htu: c.htu, iat: clock.now().unixSeconds,
                    exp: clock.now().unixSeconds + 60)
                edit(&claims)
                return try CompactJWS.sign(
                    claims, header: .init(typ: typ, kid: kid ?? DIDs.keyID(did: agent.did, key: agent.key.publicKey)), key: signer ?? agent.key)
            }
            func expectCode(_ expected: String, status: Int = 403, _ make: (PoPChallenge, Agent) throws -> String) async throws {
                let (_, fresh) = try await register(client, fixture.adminKey)
                let agent = Agent(key: fresh, did: fresh.publicKey.did)
                let c = try await challenge(client, fixture.adminKey, agent.did)
                let reply = try await answer(client, agent.did, c.challenge_id, try make(c, agent))
                #expect(code(reply) == expected, "\(reply.body)")
                #expect(Int(reply.status.code) == status)
            }
            try await expectCode("invalid_proof", status: 400) { try proof($0, $1, typ: "JWT") }
            try await expectCode("cid_mismatch") { c, a in try proof(c, a) { $0.cid = "ch-" + UUID().uuidString } }
            try await expectCode("invalid_proof", status: 400) { c, a in try proof(c, a) { $0.nonce = "not-the-nonce" } }
            try await expectCode("audience_mismatch") { c, a in try proof(c, a) { $0.audience = "https://elsewhere.example" } }
            // htu is compared byte for byte: the unencoded form differs.
            try await expectCode("htu_mismatch") { c, a in try proof(c, a) { $0.htu = c.htu.replacingOccurrences(of: "%3A", with: ":") } }
            try await expectCode("invalid_proof", status: 400) { c, a in try proof(c, a) { $0.htm = "GET" } }
            try await expectCode("iat_invalid") { c, a in try proof(c, a) { $0.iat = clock.now().unixSeconds + 120; $0.exp = clock.now().unixSeconds + 150 } }
            try await expectCode("exp_too_long") { c, a in try proof(c, a) { $0.exp = clock.now().unixSeconds + 61 } }
            try await expectCode("proof_expired") { c, a in try proof(c, a) { $0.iat = clock.now().unixSeconds - 30; $0.exp = clock.now().unixSeconds - 1 } }
            try await expectCode("subject_mismatch") { c, a in try proof(c, a) { $0.sub = Ed25519KeyPair().publicKey.did } }
            try await expectCode("kid_not_found") { c, a in try proof(c, a, kid: a.did + "#key-9") }
            try await expectCode("proof_verification_failed") { c, a in try proof(c, a, signer: Ed25519KeyPair()) }
            // Five failed proofs for one DID by one principal: its sixth failure is throttled; a
            // valid proof is still issued (issue 23, finding 14: failures never refuse the key holder).
            let victim = Agent(key: key, did: did)
            for _ in 0..<5 {
                let c = try await challenge(client, fixture.adminKey, did)
                #expect(code(try await answer(client, did, c.challenge_id, try proof(c, victim, signer: Ed25519KeyPair()))) == "proof_verification_failed")
            }
            let c = try await challenge(client, fixture.adminKey, did)
            let throttled = try await answer(client, did, c.challenge_id, try proof(c, victim, signer: Ed25519KeyPair()))
            #expect(throttled.status == .tooManyRequests)
            #expect(code(throttled) == "rate_limit_exceeded")
            #expect(throttled.headers[.retryAfter] != nil)
            #expect(try await answer(client, did, c.challenge_id, try proof(c, victim)).status == .ok)
        }
    }

    @Test("expired challenges and proofs past the challenge window are refused with their codes")
    func challengeWindow() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            let (_, key) = try await register(client, fixture.adminKey)
            let did = key.publicKey.did
            let c = try await challenge(client, fixture.adminKey, did, body: ["challenge_ttl": 30])
            let late = try KeyOwnershipProofClaims.sign(challenge: c, did: did, key: key, now: clock.now().unixSeconds)
            #expect(try await answer(client, did, c.challenge_id, late).json["error"] as? String == "exp_outside_challenge_window")
            clock.advance(by: 31)
            let expired = try await answer(client, did, c.challenge_id, late)
            #expect(expired.json["error"] as? String == "challenge_expired")
            let tooLong = try await client.post(
                "/v1/agents/\(Self.encoded(did))/badge/challenge", headers: ["X-Capiscio-Registry-Key": fixture.adminKey], json: ["challenge_ttl": 601])
            #expect(tooLong.status == .badRequest)
            #expect((tooLong.json["message"] as? String)?.contains("challenge_ttl") == true)
        }
    }

    @Test("status list: revoking a badge sets INVALID, disabling its agent SUSPENDED, enabling clears it; served as statuslist+jwt with caching headers")
    func statusList() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let (id, key) = try await register(client, fixture.adminKey)
            let path = "/v1/agents/\(Self.encoded(key.publicKey.did))/badge"
            let firstReply = try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0"])
            let secondReply = try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0"])
            let first = try #require(firstReply.json["badge"] as? String)
            let second = try #require(secondReply.json["badge"] as? String)
            let firstClaims = try await verify(fixture.environment, first)
            let secondClaims = try await verify(fixture.environment, second)
            #expect(firstClaims.status!.status_list.idx != secondClaims.status!.status_list.idx)
            let revoked = try await client.post("/v1/badges/\(firstClaims.jti)/revoke", token: fixture.adminKey, json: ["reason": "key compromise"])
            #expect(revoked.status == .ok)
            #expect(revoked.json["revoked"] as? Bool == true)
            let served = try await client.get("/v1/status-lists/0")
            #expect(served.status == .ok)
            #expect(served.headers[.contentType] == "application/statuslist+jwt")
            #expect(served.headers[.cacheControl] == "public, max-age=60")
            #expect(CompactJWS.unverifiedHeader(served.body)?["typ"] == .string("statuslist+jwt"))
            let listClaims = try #require(CompactJWS.unverifiedPayload(served.body, as: StatusListClaims.self))
            #expect(listClaims.sub == fixture.environment.origin.current + "/v1/status-lists/0")
            #expect(listClaims.ttl == 60)
            let list = try listClaims.list()
            #expect(try list.status(at: firstClaims.status!.status_list.idx) == 1)
            #expect(try list.status(at: secondClaims.status!.status_list.idx) == 0)
            await #expect(throws: BadgeError.revoked) { _ = try await verify(fixture.environment, first) }
            #expect(try await client.get("/v1/badges/\(firstClaims.jti)/status").json["revoked"] as? Bool == true)
            _ = try await verify(fixture.environment, second)

            #expect(try await client.post("/v1/agents/\(id)/disable", token: fixture.adminKey, json: [:]).status == .ok)
            await #expect(throws: BadgeError.agentDisabled) { _ = try await verify(fixture.environment, second) }
            await #expect(throws: BadgeError.revoked) { _ = try await verify(fixture.environment, first) }
            let agentStatus = try await client.get("/v1/agents/\(Self.encoded(key.publicKey.did))/status")
            #expect(agentStatus.json["status"] as? String == "disabled")
            let refused = try await client.post(path, token: fixture.adminKey, json: ["mode": "ial0"])
            #expect(refused.status == .forbidden)
            #expect(refused.json["error"] as? String == "agent_disabled")
            _ = try await client.patch("/v1/agents/\(id)", token: fixture.adminKey, json: ["status": "active"])
            _ = try await verify(fixture.environment, second)
            #expect(try await client.get("/v1/status-lists/7").status == .notFound)
        }
    }

    @Test("passports carry a status-list reference; revoking one (and so its delegated children) sets INVALID")
    func passportStatus() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let issued = try await client.post("/issue", token: fixture.adminKey, json: ["mission": exampleMission])
            let token = try #require(issued.json["token"] as? String)
            let passport = try #require(CompactJWS.unverifiedPayload(token, as: PassportClaims.self))
            let reference = try #require(passport.status)
            #expect(reference.status_list.uri == fixture.environment.origin.current + "/v1/status-lists/0")
            #expect(try await client.post("/revoke", token: fixture.adminKey, json: ["jti": passport.jti]).status == .ok)
            let served = try await client.get("/v1/status-lists/0")
            let list = try #require(CompactJWS.unverifiedPayload(served.body, as: StatusListClaims.self)).list()
            #expect(try list.status(at: reference.status_list.idx) == 1)
        }
    }
}
