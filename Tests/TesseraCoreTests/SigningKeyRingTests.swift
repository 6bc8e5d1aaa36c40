import Foundation
import Testing

@testable import TesseraCore

@Suite("Signing key ring: active key and grace period")
struct SigningKeyRingTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("the newest unretired key signs; retired keys verify until their grace ends")
    func grace() throws {
        var first = SigningKeyRecord.generate(at: t0)
        let second = SigningKeyRecord.generate(at: t0.addingTimeInterval(100))
        first.retiredAt = second.createdAt
        let ring = SigningKeyRing(records: [second, first], gracePeriod: 3600)
        #expect(ring.active?.kid == second.kid)
        #expect(ring.jwks(at: t0.addingTimeInterval(200)).keys.map(\.kid) == [second.kid, first.kid])
        #expect(ring.jwks(at: t0.addingTimeInterval(100 + 3599)).keys.count == 2)
        #expect(ring.jwks(at: t0.addingTimeInterval(100 + 3600)).keys.map(\.kid) == [second.kid])
        #expect(Set(ring.verificationKeys(at: t0.addingTimeInterval(200)).keys) == [first.kid, second.kid])
    }

    @Test("published keys are public only: no private member ever leaves")
    func publicOnly() throws {
        let ring = SigningKeyRing(records: [.generate(at: t0)], gracePeriod: 60)
        let jwks = ring.jwks(at: t0)
        #expect(jwks.keys.allSatisfy { $0.d == nil && $0.alg == "EdDSA" && $0.use == "sig" && $0.kid != nil })
        let json = String(decoding: try JSONEncoder().encode(jwks), as: UTF8.self)
        #expect(!json.contains("\"d\""))
    }
}
