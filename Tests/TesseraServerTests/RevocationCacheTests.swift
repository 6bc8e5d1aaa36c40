import Foundation
import Testing

@testable import TesseraServer

/// The in-memory revocation answers behind `/verify`: used only while the change feed is fresh,
/// and never left holding an answer read before a revocation.
@Suite("Revocation cache")
struct RevocationCacheTests {
    @Test("without a follower, or with a feed read more than a second ago, nothing is answered from memory")
    func failsClosed() {
        let cache = RevocationCache()
        cache.remember(false, jti: "p1", parent: nil, readAtGeneration: cache.generation)
        #expect(cache.revoked(jti: "p1", parent: nil) == nil)  // no follower: never used

        cache.followChanges()
        #expect(cache.revoked(jti: "p1", parent: nil) == nil)  // followed, but no read yet
        cache.apply(revocationSeen: false, readStartedAt: .now)
        cache.remember(false, jti: "p1", parent: nil, readAtGeneration: cache.generation)
        #expect(cache.revoked(jti: "p1", parent: nil) == false)

        // The last successful read is now older than the limit: answers are not trusted.
        cache.apply(revocationSeen: false, readStartedAt: .now - .seconds(2))
        #expect(cache.revoked(jti: "p1", parent: nil) == nil)
    }

    @Test("a revocation clears every answer, and an answer read before it cannot be stored after it")
    func clearsAndRefusesStaleAnswers() {
        let cache = RevocationCache()
        cache.followChanges()
        cache.apply(revocationSeen: false, readStartedAt: .now)
        cache.remember(false, jti: "p1", parent: "root", readAtGeneration: cache.generation)
        #expect(cache.revoked(jti: "p1", parent: "root") == false)
        // The key includes the parent: another lineage is another question.
        #expect(cache.revoked(jti: "p1", parent: nil) == nil)

        let before = cache.generation  // a request starts its store read…
        cache.apply(revocationSeen: true, readStartedAt: .now)  // …a revocation is seen…
        #expect(cache.revoked(jti: "p1", parent: "root") == nil)
        cache.remember(false, jti: "p2", parent: nil, readAtGeneration: before)  // …and its answer arrives late
        #expect(cache.revoked(jti: "p2", parent: nil) == nil)

        cache.remember(true, jti: "p2", parent: nil, readAtGeneration: cache.generation)
        #expect(cache.revoked(jti: "p2", parent: nil) == true)
        cache.clear()
        #expect(cache.revoked(jti: "p2", parent: nil) == nil)
    }
}
