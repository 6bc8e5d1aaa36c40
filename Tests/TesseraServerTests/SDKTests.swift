import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import AsyncHTTPClient
import Logging
import Testing
import TesseraBadgeMiddleware
@testable import TesseraClient
import TesseraCore

@testable import TesseraServer

@Suite("Agent SDK and badge middleware")
struct SDKTests {
    func withRegistry(_ body: @Sendable (String, String, String, IAMFixture) async throws -> Void) async throws {
        try await withAgentRegistry(named: "sdk", body)
    }

    @Test("connect gets a PoP badge and keeps renewing it in the background as PoP")
    func connectAndRenew() async throws {
        try await withRegistry { base, agent, keys, fixture in
            // The API key opens the first challenge; renewals authenticate with the badge in hand.
            let identity = try await Tessera.connect(
                server: base, agentID: agent, keysDir: keys, apiKey: fixture.adminKey, lifetime: .seconds(8), renewBefore: .seconds(4))
            defer { identity.close() }
            #expect(identity.assurance == "1")
            let first = identity.currentBadge()
            // 8 s badges renewed 4 s ahead (2 s per request): room for a loaded machine's slow
            // answer without the keeper's by-design IAL-0 bridge near expiry.
            let deadline = ContinuousClock.now + .seconds(15)
            while identity.currentBadge() == first, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(identity.currentBadge() != first)
            #expect(identity.assurance == "1")
            var request = HTTPClientRequestBox().request
            identity.authorize(&request)
            #expect(request.headers.first(name: "Authorization") == "Bearer \(identity.currentBadge())")
        }
    }

    @Test("after the registry rotates its signing key, a verifier that cached the old JWKS refetches it and accepts the new badge")
    func verifierFollowsRotation() async throws {
        try await withRegistry { base, agent, _, fixture in
            let registry = try TesseraHTTPClient(baseURL: base, token: fixture.adminKey)
            let clock = ManualClock()
            let verifier = try RegistryBadgeVerifier(server: base, clock: clock)
            let before = try await registry.issueBadge(agent: agent, lifetime: 600, audience: nil).token
            #expect(try await verifier.verify(before).agent_id == agent)
            _ = try await fixture.environment.keys.rotate()
            // The verifier's cached keys lack the new kid; the refetch is allowed once a second.
            clock.advance(by: 1.1)
            let after = try await registry.issueBadge(agent: agent, lifetime: 600, audience: nil).token
            #expect(try await verifier.verify(after).agent_id == agent)
            // A token whose kid is nowhere in the registry's JWKS stays refused.
            let forgedKey = Ed25519KeyPair()
            let now = Date().unixSeconds
            let forged = try CompactJWS.sign(
                BadgeClaims(iss: base, sub: forgedKey.publicKey.did, audience: nil, iat: now, exp: now + 60, ial: "0", key: forgedKey.publicKey.publicJWK,
                            cnf: nil, level: "1", domain: nil, status: nil),
                type: BadgeClaims.type, key: forgedKey)
            await #expect(throws: BadgeError.signatureInvalid) { _ = try await verifier.verify(forged) }
        }
    }

    @Test("the keeper renews by PoP with only the IAL-1 badge in hand (no API key): the registry accepts the badge for its own DID's challenge")
    func renewalWithoutAPIKey() async throws {
        try await withRegistry { base, agent, keys, fixture in
            let key = try Tessera.loadKey(keysDir: keys)
            var configuration = BadgeKeeper.Configuration(server: base, agentID: agent, output: "")
            configuration.key = key
            configuration.apiKey = fixture.adminKey
            configuration.mode = .pop
            configuration.lifetime = .seconds(120)
            let first = try await BadgeKeeper(configuration: configuration, logger: Logger(label: "test")).acquire(current: nil)
            #expect(first.ial == "1")
            configuration.apiKey = nil
            let keeper = BadgeKeeper(configuration: configuration, logger: Logger(label: "test"))
            let renewed = try await keeper.acquire(current: first)
            #expect(renewed.ial == "1")
            #expect(renewed.jti != first.jti)
            // Without a badge or a key there is nothing to open a challenge with.
            await #expect(throws: (any Error).self) { _ = try await keeper.acquire(current: nil) }
            // A revoked badge no longer opens one.
            try await TesseraHTTPClient(baseURL: base, token: fixture.adminKey).revokeBadge(jti: renewed.jti)
            await #expect(throws: (any Error).self) { _ = try await keeper.acquire(current: renewed) }
        }
    }

    @Test("a verifier holding a cached status list keeps it for its TTL, then refetches on its own (no run()) and refuses a revoked badge")
    func revocationWithinTTL() async throws {
        // One clock for registry and verifier: the list's `iat` and the verifier's freshness agree.
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock) { $0.statusListTTLSeconds = 1 }
        try await buildApplication(fixture.environment).test(.live) { raw in
            let base = "http://127.0.0.1:\(try #require(raw.port))"
            let registry = try TesseraHTTPClient(baseURL: base, token: fixture.adminKey)
            let pair = Ed25519KeyPair()
            let agent = try await registry.registerAgent(name: "a", publicJWK: pair.publicKey.jwk, domain: nil, workspace: nil)
            let badge = try await registry.issueBadge(agent: agent.did, lifetime: 600, audience: nil)
            let verifier = try RegistryBadgeVerifier(server: base, clock: clock)
            #expect(try await verifier.verify(badge.token).jti == badge.jti)
            try await registry.revokeBadge(jti: badge.jti)
            // Within the TTL the verifier answers from the list it holds: that is the contract.
            #expect(try await verifier.verify(badge.token).jti == badge.jti)
            // Past the TTL (1 s) the next verification fetches the list again and refuses.
            clock.advance(by: 2)
            await #expect(throws: BadgeError.revoked) { _ = try await verifier.verify(badge.token) }
        }
    }

    @Test("no key anywhere is a clear error")
    func noKey() async throws {
        await #expect(throws: Tessera.ConnectError.self) {
            _ = try await Tessera.connect(server: "http://127.0.0.1:1", agentID: "a", keysDir: "/nonexistent")
        }
    }

    @Test("the middleware admits a valid badge of sufficient assurance from either header and refuses everything else with a 401 naming the RFC-002 code")
    func middleware() async throws {
        try await withRegistry { base, agent, keys, fixture in
            let verifier = try RegistryBadgeVerifier(server: base, minimumIAL: 1)
            let router = Router(context: BasicBadgeRequestContext.self)
            router.add(middleware: try BadgeAuthMiddleware(verifier: verifier))
            router.get("/whoami") { _, context in context.badge?.agent_id ?? "-" }
            let identity = try await Tessera.connect(server: base, agentID: agent, keysDir: keys, apiKey: fixture.adminKey)
            defer { identity.close() }
            let registry = try TesseraHTTPClient(baseURL: base, token: fixture.adminKey)
            let caBadge = try await registry.issueBadge(agent: agent, lifetime: 600, audience: nil).token
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(identity.currentBadge())"]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == agent)
                }
                try await client.execute(uri: "/whoami", method: .get, headers: [HTTPField.Name("X-Capiscio-Badge")!: identity.currentBadge()]) { response in
                    #expect(response.status == .ok)
                }
                let cases: [(HTTPFields, BadgeError)] = [
                    ([:], .malformed), ([.authorization: "Bearer garbage"], .malformed), ([.authorization: "Bearer \(caBadge)"], .ialInsufficient),
                    ([.authorization: "Basic abc"], .malformed),
                    // Both headers: refused (RFC-002 §9.1), even when both hold the same valid badge.
                    ([.authorization: "Bearer \(identity.currentBadge())", HTTPField.Name("X-Capiscio-Badge")!: identity.currentBadge()], .malformed),
                ]
                for (headers, expected) in cases {
                    try await client.execute(uri: "/whoami", method: .get, headers: headers) { response in
                        #expect(response.status == .unauthorized)
                        #expect(String(buffer: response.body) == #"{"error":"\#(expected.rawValue)","message":"badge refused"}"#)
                        #expect(response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
                    }
                }
                // Disabling the agent suspends its badges once the verifier refreshes its status list.
                _ = try await registry.disableAgent(agent)
                let fresh = try RegistryBadgeVerifier(server: base, minimumIAL: 1)
                await #expect(throws: BadgeError.agentDisabled) { _ = try await fresh.verify(identity.currentBadge()) }
            }
        }
    }

    @Test("with requireProof the middleware wants a DPoP proof by the badge's key for this request: the SDK's passes once, a stolen badge alone or a replay does not")
    func presentationProof() async throws {
        try await withRegistry { base, agent, keys, fixture in
            let verifier = try RegistryBadgeVerifier(server: base, minimumIAL: 1)
            let router = Router(context: BasicBadgeRequestContext.self)
            router.add(middleware: try BadgeAuthMiddleware(verifier: verifier, requireProof: true, publicOrigin: "http://svc.test"))
            router.get("/whoami") { _, context in context.badge?.agent_id ?? "-" }
            let identity = try await Tessera.connect(server: base, agentID: agent, keysDir: keys, apiKey: fixture.adminKey)
            defer { identity.close() }
            let badge = identity.currentBadge()
            var request = HTTPClientRequest(url: "http://svc.test/whoami")
            identity.authorize(&request)
            let proof = try #require(request.headers.first(name: "DPoP"))
            try await Application(router: router).test(.router) { client in
                let dpop = HTTPField.Name("DPoP")!
                try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(badge)", dpop: proof]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == agent)
                }
                // The same proof again: replay.
                try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(badge)", dpop: proof]) { response in
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body).contains("BADGE_PROOF_INVALID"))
                }
                // The stolen badge alone, or with a proof by another key, or for another URL.
                let thief = Ed25519KeyPair()
                let now = Date().unixSeconds
                let others = [
                    nil,
                    try DPoPProofClaims.sign(method: "GET", url: "http://svc.test/whoami", badge: badge, key: thief, now: now),
                    try identity.proof(method: "GET", url: "http://svc.test/other"),
                    try identity.proof(method: "POST", url: "http://svc.test/whoami"),
                ]
                for other in others {
                    var headers: HTTPFields = [.authorization: "Bearer \(badge)"]
                    if let other { headers[dpop] = other }
                    try await client.execute(uri: "/whoami", method: .get, headers: headers) { response in
                        #expect(response.status == .unauthorized)
                        #expect(response.headers[.wwwAuthenticate]?.hasPrefix("DPoP") == true)
                    }
                }
            }
        }
    }
}

/// A request to decorate.
struct HTTPClientRequestBox {
    var request = AsyncHTTPClient.HTTPClientRequest(url: "http://127.0.0.1/")
}
