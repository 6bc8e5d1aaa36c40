import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

/// The verified-passport cache (issue 28) fails safe: a hit never outlives the token's `exp`, the
/// keys that verified it, or its revocation.
@Suite("Verified-token cache")
struct VerifiedTokenCacheTests {
    @Test("a cached passport that is then revoked is refused on its next use")
    func revokedWhileCached() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let token = try await client.issue(fixture.adminKey, exampleMission)
            #expect(try await client.post("/verify", json: ["token": token]).status == .ok)
            #expect(try await client.post("/verify", json: ["token": token]).status == .ok)
            // The second one was answered from the cache, or this tested nothing.
            #expect(fixture.environment.governance.verifiedPassports.count == 1)
            #expect(fixture.environment.governance.verifiedPassports.hitCount >= 1)
            let claims = try await fixture.environment.governance.verify(token)
            #expect(try await client.post("/revoke", token: fixture.adminKey, json: ["jti": claims.jti]).status == .ok)
            let after = try await client.post("/verify", json: ["token": token])
            #expect(after.body == #"{"error":"passport_revoked"}"#)
            #expect(try await client.post("/session/start", json: ["token": token]).body == #"{"error":"passport_revoked"}"#)
        }
    }

    @Test("a cached passport past its exp (and the verifier's leeway) is refused: the cache never extends a token")
    func expiredWhileCached() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            let token = try await client.issue(fixture.adminKey, exampleMission, ttl: 60)
            #expect(try await client.post("/verify", json: ["token": token]).status == .ok)
            #expect(try await client.post("/verify", json: ["token": token]).status == .ok)
            #expect(fixture.environment.governance.verifiedPassports.hitCount == 1)
            clock.advance(by: 60 + 61)
            let after = try await client.post("/verify", json: ["token": token])
            #expect(after.status == .unauthorized, "\(after.body)")
        }
    }

    @Test("a cached passport whose signing key was retired is refused: entries belong to the keys that verified them")
    func keyRetiredWhileCached() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock) { $0.keyGraceSeconds = 0 }
        try await fixture.withClient { client in
            let token = try await client.issue(fixture.adminKey, exampleMission, ttl: 600)
            #expect(try await client.post("/verify", json: ["token": token]).status == .ok)
            #expect(try await client.post("/verify", json: ["token": token]).status == .ok)
            #expect(fixture.environment.governance.verifiedPassports.hitCount == 1)
            let keys = fixture.environment.governance.keys
            let before = keys.snapshot.verifierGeneration
            try await keys.rotate()
            clock.advance(by: 1)
            try await keys.refresh()
            #expect(keys.snapshot.verifierGeneration != before)
            let after = try await client.post("/verify", json: ["token": token])
            #expect(after.status == .unauthorized, "\(after.body)")
            // A passport signed with the new key verifies (and is cached under the new keys).
            let fresh = try await client.issue(fixture.adminKey, exampleMission, ttl: 600)
            #expect(try await client.post("/verify", json: ["token": fresh]).status == .ok)
        }
    }

    @Test("the cache is bounded, keyed by the exact token, and answers only before exp under the same keys")
    func unitRules() {
        let cache = VerifiedTokenCache<String>(capacity: 3)
        cache.remember("claims-a", for: "token-a", expiresAt: 100, generation: 1)
        #expect(cache.claims(for: "token-a", now: 99, generation: 1) == "claims-a")
        #expect(cache.claims(for: "token-a", now: 100, generation: 1) == nil)  // at exp: no longer
        #expect(cache.claims(for: "token-a", now: 50, generation: 2) == nil)  // other keys
        #expect(cache.claims(for: "token-a ", now: 50, generation: 1) == nil)  // another token
        for i in 0..<3 { cache.remember("c\(i)", for: "t\(i)", expiresAt: 100, generation: 1) }
        #expect(cache.count <= 3)
    }
}
