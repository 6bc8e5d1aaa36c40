import Foundation
import Testing

@testable import TesseraCore

@Suite("Token Status List (draft-ietf-oauth-status-list)")
struct StatusListTests {
    @Test("the draft's 1-bit example decodes to its statuses: index 0 is the least significant bit of byte 0")
    func oneBit() throws {
        let list = try StatusList(bits: 1, lst: "eNrbuRgAAhcBXQ")
        #expect(list.bytes == [0xB9, 0xA3])
        let expected: [UInt8] = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
        #expect(try (0..<16).map { try list.status(at: $0) } == expected)
        #expect(throws: StatusList.Failure.indexOutOfRange) { try list.status(at: 16) }
        // And back: the same bytes from the same statuses.
        var rebuilt = try StatusList(bits: 1, count: 16)
        for (index, value) in expected.enumerated() { try rebuilt.set(value, at: index) }
        #expect(rebuilt.bytes == [0xB9, 0xA3])
        #expect(try StatusList(bits: 1, lst: rebuilt.lst) == rebuilt)
    }

    @Test("the draft's 2-bit example (with SUSPENDED) decodes to its statuses")
    func twoBits() throws {
        let list = try StatusList(bits: 2, lst: "eNo76fITAAPfAgc")
        #expect(list.bytes == [0xC9, 0x44, 0xF9])
        let expected: [UInt8] = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
        #expect(try (0..<12).map { try list.status(at: $0) } == expected)
        var rebuilt = try StatusList(bits: 2, count: 12)
        for (index, value) in expected.enumerated() { try rebuilt.set(value, at: index) }
        #expect(rebuilt.bytes == list.bytes)
        #expect(throws: StatusList.Failure.valueTooLarge) { try rebuilt.set(4, at: 0) }
    }

    struct Vectors: Decodable {
        struct Vector: Decodable {
            var bits: Int
            var lst: String
            var size: Int
            var statuses: [String: UInt8]
        }
        var vectors: [Vector]
    }

    @Test("the draft's test vectors (1, 2, 4 and 8 bits, 2^20 entries each) decode to exactly the documented statuses, and re-encode to lists that decode the same")
    func draftVectors() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/status-list-vectors.json")
        let vectors = try JSONDecoder().decode(Vectors.self, from: try Data(contentsOf: path)).vectors
        #expect(vectors.map(\.bits) == [1, 2, 4, 8])
        for vector in vectors {
            let list = try StatusList(bits: vector.bits, lst: vector.lst)
            #expect(list.capacity == vector.size)
            var expected = [Int: UInt8]()
            for (index, value) in vector.statuses { expected[Int(index)!] = value }
            var nonZero = [Int: UInt8]()
            for index in 0..<list.capacity {
                let value = try list.status(at: index)
                if value != 0 { nonZero[index] = value }
            }
            #expect(nonZero == expected.filter { $0.value != 0 }, "bits \(vector.bits)")
            var rebuilt = try StatusList(bits: vector.bits, count: vector.size)
            for (index, value) in expected { try rebuilt.set(value, at: index) }
            #expect(rebuilt.bytes == list.bytes)
            #expect(try StatusList(bits: vector.bits, lst: rebuilt.lst) == list)
        }
    }

    @Test("hostile lists are refused: bad bit widths, non-ZLIB data, trailing garbage, inflation bombs")
    func hostile() throws {
        #expect(throws: StatusList.Failure.invalidBits) { try StatusList(bits: 3, count: 8) }
        #expect(throws: StatusList.Failure.notCompressed) { try StatusList(bits: 1, lst: "not zlib") }
        let good = try #require(Base64URL.decode("eNrbuRgAAhcBXQ"))
        #expect(throws: StatusList.Failure.notCompressed) { try StatusList(bits: 1, lst: Base64URL.encode(good + [0])) }
        #expect(throws: StatusList.Failure.notCompressed) { try StatusList(bits: 1, lst: Base64URL.encode(Array(good.dropLast(3)))) }
        let bomb = StatusList.deflate([UInt8](repeating: 0, count: StatusList.maximumBytes + 1))
        #expect(bomb.count < 40_000)
        #expect(throws: StatusList.Failure.tooLarge) { try StatusList(bits: 1, lst: Base64URL.encode(bomb)) }
    }
}

@Suite("RFC-002 badge verification")
struct TrustBadgeVerificationTests {
    let ca = Ed25519KeyPair()
    let agent = Ed25519KeyPair()
    let issuer = "https://registry.example"
    let now: Int64 = 1_800_000_000

    var keys: JWSVerifier { JWSVerifier(synchronousKeys: [ca.kid: ca.publicKey]) }

    func claims(ial: String = "0", level: String = "1") -> BadgeClaims {
        BadgeClaims(
            iss: issuer, sub: agent.publicKey.did, audience: ["https://api.example"], iat: now, exp: now + 300, ial: ial,
            key: agent.publicKey.publicJWK, cnf: ial == "1" ? .init(kid: DIDs.keyID(did: agent.publicKey.did, key: agent.publicKey)) : nil,
            level: level, domain: "finance.example", status: StatusClaim(idx: 3, uri: issuer + "/v1/status-lists/0"))
    }

    func sign(_ payload: some Encodable, typ: String = "JWT", key: Ed25519KeyPair? = nil, kid: String? = nil) throws -> String {
        let signer = key ?? ca
        return try CompactJWS.sign(payload, header: .init(typ: typ, kid: kid ?? signer.kid), key: signer)
    }

    /// `claims` as a mutable JSON object, for tampering.
    func object(_ c: BadgeClaims) throws -> [String: JSONValue] {
        try StrictJSON.decode([String: JSONValue].self, from: try JSONEncoder().encode(c))
    }

    func code(_ token: String, _ verification: BadgeVerification? = nil, list: StatusLookup = .unavailable, at time: Int64? = nil) -> BadgeError? {
        let v = verification ?? BadgeVerification(trustedIssuers: [issuer], audience: "https://api.example")
        do {
            _ = try v.verify(token, now: time ?? now, keys: { _ in keys }, status: { _ in list })
            return nil
        } catch {
            return error
        }
    }

    @Test("RFC-002 §16.2 test vectors TV-001…TV-013 give the RFC's error codes")
    func vectors() throws {
        var o = try object(claims())
        o["aud"] = .string("https://api.example")
        #expect(code(try sign(o)) == .claimsInvalid)  // TV-001
        o = try object(claims(ial: "1", level: "0"))
        #expect(code(try sign(o)) == .claimsInvalid)  // TV-002
        o = try object(claims())
        o["cnf"] = .object(["kid": .string("did:key:x#y")])
        #expect(code(try sign(o)) == .claimsInvalid)  // TV-003
        o = try object(claims(ial: "1"))
        o["cnf"] = nil
        #expect(code(try sign(o)) == .claimsInvalid)  // TV-004
        o = try object(claims(ial: "1"))
        o["cnf"] = .object(["kid": .string(agent.publicKey.did + "#key-9")])
        #expect(code(try sign(o)) == .claimsInvalid)  // TV-005
        o = try object(claims(ial: "1"))
        o["key"] = try StrictJSON.decode(JSONValue.self, from: try JSONEncoder().encode(Ed25519KeyPair().publicKey.publicJWK))
        #expect(code(try sign(o)) == .claimsInvalid)  // TV-006
        var revoked = try StatusList(bits: 2, count: 8)
        try revoked.set(1, at: 3)
        #expect(code(try sign(claims()), list: .list(revoked, fresh: true)) == .revoked)  // TV-007
        var suspended = try StatusList(bits: 2, count: 8)
        try suspended.set(2, at: 3)
        #expect(code(try sign(claims()), list: .list(suspended, fresh: true)) == .agentDisabled)  // TV-008
        #expect(code(try sign(claims()), at: now + 300 + 60) == .expired)  // TV-009
        #expect(code(try sign(claims()), at: now + 300 + 59) == nil)  // within the 60 s of skew
        #expect(code(try sign(claims()), BadgeVerification(trustedIssuers: ["https://other.example"])) == .issuerUntrusted)  // TV-010
        #expect(code(try sign(claims(), key: Ed25519KeyPair(), kid: ca.kid)) == .signatureInvalid)  // TV-011
        let valid = try StatusList(bits: 2, count: 8)
        #expect(code(try sign(claims()), list: .list(valid, fresh: true)) == nil)  // TV-013
        #expect(code(try sign(claims(ial: "1")), list: .list(valid, fresh: true)) == nil)  // IAL-1, did:key binding
    }

    @Test("TV-012: a self-signed level-0 did:key badge is accepted only when the verifier allows level 0")
    func selfSigned() throws {
        let token = try SelfSignedBadge.issue(key: agent, lifetime: 300, audience: nil, domain: nil, now: now)
        #expect(CompactJWS.unverifiedHeader(token)?["kid"] == .string(DIDs.keyID(did: agent.publicKey.did, key: agent.publicKey)))
        #expect(code(token) == .issuerUntrusted)
        #expect(code(token, BadgeVerification(trustedIssuers: [], selfSigned: .any)) == nil)
        #expect(code(token, BadgeVerification(trustedIssuers: [], selfSigned: .only([agent.publicKey.did]))) == nil)
        #expect(code(token, BadgeVerification(trustedIssuers: [], selfSigned: .only([Ed25519KeyPair().publicKey.did]))) == .issuerUntrusted)
        // Signed by another key than its DID's: not a self-signed badge of that DID.
        var o = try object(claims(level: "0"))
        o["iss"] = .string(agent.publicKey.did)
        o["status"] = nil
        #expect(code(try sign(o, key: Ed25519KeyPair()), BadgeVerification(trustedIssuers: [], selfSigned: .any)) == .signatureInvalid)
    }

    @Test("order and remaining codes: malformed before anything, issuer before signature, time, audience, IAL, freshness")
    func order() throws {
        #expect(code("garbage") == .malformed)
        #expect(code(try sign(claims(), typ: "tessera-passport+jwt")) == .malformed)
        // An untrusted issuer is refused without any key being asked for.
        var asked = false
        let untrusted = BadgeVerification(trustedIssuers: ["https://other.example"])
        #expect(throws: BadgeError.issuerUntrusted) {
            _ = try untrusted.verify(try sign(claims(), key: Ed25519KeyPair()), now: now, keys: { _ in asked = true; return keys }, status: { _ in .unavailable })
        }
        #expect(!asked)
        #expect(code(try sign(claims()), at: now - 61) == .notYetValid)
        #expect(code(try sign(claims()), BadgeVerification(trustedIssuers: [issuer], audience: "https://elsewhere.example")) == .audienceMismatch)
        #expect(code(try sign(claims()), BadgeVerification(trustedIssuers: [issuer], audience: "https://api.example", minimumIAL: 1)) == .ialInsufficient)
        let fresh = BadgeVerification(trustedIssuers: [issuer], audience: "https://api.example", requireFreshStatus: true)
        #expect(code(try sign(claims()), fresh) == .revocationUnavailable)
        #expect(code(try sign(claims()), fresh, list: .list(try StatusList(bits: 2, count: 8), fresh: false)) == .revocationUnavailable)
        // A list too short for the index fails closed.
        #expect(code(try sign(claims()), fresh, list: .list(try StatusList(bits: 8, count: 2), fresh: true)) == .revocationUnavailable)
        // A status URI off the issuer's origin is not fetched, and not accepted.
        var o = try object(claims())
        o["status"] = .object(["status_list": .object(["idx": .number(3), "uri": .string("https://evil.example/list")])])
        #expect(code(try sign(o)) == .claimsInvalid)
        // A missing `kid` is tried against the issuer's keys.
        #expect(code(try CompactJWS.sign(claims(), header: .init(typ: "JWT"), key: ca)) == nil)
    }

    @Test("an IAL-1 did:web badge is bound through the subject's DID document")
    func didWeb() throws {
        let did = "did:web:registry.example:agents:bot"
        var c = claims(ial: "1")
        c.sub = did
        c.cnf = .init(kid: did + "#key-1")
        let token = try sign(c)
        let verification = BadgeVerification(trustedIssuers: [issuer], audience: "https://api.example")
        let document = DIDDocument.forKey(did: did, key: agent.publicKey)
        func run(_ doc: DIDDocument?) -> BadgeError? {
            do {
                _ = try verification.verify(token, now: now, keys: { _ in keys }, status: { _ in .unavailable }, document: { _ in doc })
                return nil
            } catch { return error }
        }
        #expect(run(document) == nil)
        #expect(run(nil) == .claimsInvalid)
        #expect(run(DIDDocument.forKey(did: did, key: Ed25519KeyPair().publicKey)) == .claimsInvalid)
        #expect(DIDWeb(did)?.documentURL() == "https://registry.example/agents/bot/did.json")
        #expect(DIDWeb("did:web:example.com")?.documentURL() == "https://example.com/.well-known/did.json")
        #expect(DIDWeb("did:web:127.0.0.1%3A8080:agents:x")?.authority == "127.0.0.1:8080")
        #expect(DIDWeb("did:web:ex.com:agents:..") == nil)
        #expect(DIDWeb("did:web:ex.com/x") == nil)
    }

    @Test("DPoP: a proof by the badge's key for this method and URL verifies; anything else is BADGE_PROOF_INVALID")
    func dpop() throws {
        let badge = try sign(claims(ial: "1"))
        let proof = try DPoPProofClaims.sign(method: "GET", url: "https://svc.example/x?q=1", badge: badge, key: agent, now: now)
        #expect(try DPoPProofClaims.verify(proof, method: "GET", url: "https://svc.example/x", badge: badge, key: agent.publicKey, now: now).iat == now)
        #expect(throws: BadgeError.proofInvalid) { _ = try DPoPProofClaims.verify(proof, method: "POST", url: "https://svc.example/x", badge: badge, key: agent.publicKey, now: now) }
        #expect(throws: BadgeError.proofInvalid) { _ = try DPoPProofClaims.verify(proof, method: "GET", url: "https://svc.example/y", badge: badge, key: agent.publicKey, now: now) }
        #expect(throws: BadgeError.proofInvalid) { _ = try DPoPProofClaims.verify(proof, method: "GET", url: "https://svc.example/x", badge: badge + "x", key: agent.publicKey, now: now) }
        #expect(throws: BadgeError.proofInvalid) { _ = try DPoPProofClaims.verify(proof, method: "GET", url: "https://svc.example/x", badge: badge, key: Ed25519KeyPair().publicKey, now: now) }
        #expect(throws: BadgeError.proofInvalid) { _ = try DPoPProofClaims.verify(proof, method: "GET", url: "https://svc.example/x", badge: badge, key: agent.publicKey, now: now + 61) }
    }
}
