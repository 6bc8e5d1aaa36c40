import Foundation
import Hummingbird
import HummingbirdTesting
import AsyncHTTPClient
import Testing
import TesseraBadgeMiddleware
import TesseraClient
import TesseraCore

@testable import TesseraServer

@Suite("Agent SDK and badge middleware")
struct SDKTests {
    /// A live registry with one registered agent whose keys are in a folder.
    func withRegistry(_ body: @Sendable (String, String, String, IAMFixture) async throws -> Void) async throws {
        let fixture = try await IAMFixture.make { $0.badgeMinimumLifetimeSeconds = 1 }
        try await buildApplication(fixture.environment).test(.live) { raw in
            let base = "http://127.0.0.1:\(try #require(raw.port))"
            let keys = makeStateDirectory() + "/agent"
            let pair = Ed25519KeyPair()
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
            try JSONEncoder().encode(pair.privateJWK).write(to: URL(fileURLWithPath: keys + "/private.jwk"))
            let agent = try await TesseraHTTPClient(baseURL: base, token: fixture.adminKey).registerAgent(
                name: "sdk", publicJWK: pair.publicKey.jwk, domain: nil, workspace: nil)
            try await body(base, agent.id, keys, fixture)
        }
    }

    @Test("connect gets a PoP badge and keeps renewing it in the background as PoP")
    func connectAndRenew() async throws {
        try await withRegistry { base, agent, keys, _ in
            let identity = try await Tessera.connect(
                server: base, agentID: agent, keysDir: keys, lifetime: .seconds(4), renewBefore: .seconds(2))
            defer { identity.close() }
            #expect(identity.assurance == "1")
            let first = identity.currentBadge()
            let deadline = ContinuousClock.now + .seconds(10)
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
            let verifier = try RegistryBadgeVerifier(server: base, verification: BadgeVerification())
            let before = try await registry.issueBadge(agentID: agent, lifetime: 600, audience: nil).token
            #expect(try await verifier.verify(before).agent_id == agent)
            _ = try await fixture.environment.keys.rotate()
            // The verifier's cached keys lack the new kid; the refetch is allowed once a second.
            try await Task.sleep(for: .milliseconds(1100))
            let after = try await registry.issueBadge(agentID: agent, lifetime: 600, audience: nil).token
            #expect(try await verifier.verify(after).agent_id == agent)
            // A token whose kid is nowhere in the registry's JWKS stays refused.
            let forged = try CompactJWS.sign(
                BadgeClaims(iss: "x", sub: "did:key:z", aud: nil, iat: Date().unixSeconds, exp: Date().unixSeconds + 60, ial: "1",
                            domain: "d", workspace: "default", agentID: agent, jkt: nil),
                type: BadgeClaims.type, key: Ed25519KeyPair())
            await #expect(throws: BadgeError.signatureInvalid) { _ = try await verifier.verify(forged) }
        }
    }

    @Test("no key anywhere is a clear error")
    func noKey() async throws {
        await #expect(throws: Tessera.ConnectError.self) {
            _ = try await Tessera.connect(server: "http://127.0.0.1:1", agentID: "a", keysDir: "/nonexistent")
        }
    }

    @Test("the middleware admits a valid badge of sufficient assurance and refuses everything else with one 401")
    func middleware() async throws {
        try await withRegistry { base, agent, keys, fixture in
            let verifier = try RegistryBadgeVerifier(server: base, verification: BadgeVerification(minimumIAL: 1))
            let router = Router(context: BasicBadgeRequestContext.self)
            router.add(middleware: BadgeAuthMiddleware(verifier: verifier))
            router.get("/whoami") { _, context in context.badge?.agent_id ?? "-" }
            let identity = try await Tessera.connect(server: base, agentID: agent, keysDir: keys)
            defer { identity.close() }
            let registry = try TesseraHTTPClient(baseURL: base, token: fixture.adminKey)
            let caBadge = try await registry.issueBadge(agentID: agent, lifetime: 600, audience: nil).token
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(identity.currentBadge())"]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == agent)
                }
                for header in ["", "Bearer garbage", "Bearer \(caBadge)", "Basic abc"] {
                    try await client.execute(uri: "/whoami", method: .get, headers: header.isEmpty ? [:] : [.authorization: header]) { response in
                        #expect(response.status == .unauthorized)
                        #expect(String(buffer: response.body) == #"{"error":"invalid_badge"}"#)
                        #expect(response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
                    }
                }
                // Disabling the agent revokes its badges once the verifier refreshes its status list.
                _ = try await registry.disableAgent(agent)
                let fresh = try RegistryBadgeVerifier(server: base, verification: BadgeVerification(minimumIAL: 1))
                await #expect(throws: BadgeError.revoked) { _ = try await fresh.verify(identity.currentBadge()) }
            }
        }
    }
}

/// A request to decorate.
struct HTTPClientRequestBox {
    var request = AsyncHTTPClient.HTTPClientRequest(url: "http://127.0.0.1/")
}
