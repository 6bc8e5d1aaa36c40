import Crypto
import Foundation
import Testing

@testable import TesseraCore

/// Claims used to exercise the verifier: the registered ones plus one of our own.
struct TestClaims: JWSClaims, Equatable {
    var iss: String?
    var sub: String?
    var aud: Audience?
    var iat: Int64?
    var nbf: Int64?
    var exp: Int64?
    var jti: String?
    var note: String?
}

@Suite("JWS signing and verification rules")
struct JWSVerifierTests {
    static let now: Int64 = 1_800_000_000
    let clock = FixedClock(Date(timeIntervalSince1970: TimeInterval(now)))
    let key = Ed25519KeyPair()
    let policy = JWSPolicy(type: "test+jwt", issuers: ["https://issuer.test"], audience: "svc")

    func claims(iat: Int64 = now, nbf: Int64? = now, exp: Int64? = now + 300, aud: [String]? = ["svc"]) -> TestClaims {
        TestClaims(
            iss: "https://issuer.test", sub: "did:key:z6Mk", aud: aud.map(Audience.init), iat: iat, nbf: nbf, exp: exp,
            jti: UUID().uuidString, note: "hello")
    }

    func verifier(_ keys: [Ed25519KeyPair]? = nil) async -> JWSVerifier {
        let keys = keys ?? [key]
        return await JWSVerifier(keys: Dictionary(uniqueKeysWithValues: keys.map { ($0.kid, $0.publicKey) }))
    }

    func sign(_ claims: TestClaims, with key: Ed25519KeyPair? = nil) async throws -> String {
        try JWSSigner(keyPair: key ?? self.key).sign(claims, type: "test+jwt")
    }

    /// Builds a token by hand, for headers and algorithms the signer would never produce.
    func forge(header: [String: Any], claims: TestClaims, sign: (Data) -> [UInt8]) throws -> String {
        let h = Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let p = Base64URL.encode(try JSONEncoder().encode(claims))
        let signature = sign(Data("\(h).\(p)".utf8))
        return "\(h).\(p).\(Base64URL.encode(signature))"
    }

    func ed25519(_ key: Ed25519KeyPair) -> (Data) -> [UInt8] {
        { data in [UInt8](try! key.privateKey.signature(for: data)) }
    }

    func expectFailure(_ expected: JWSError, _ token: String, policy: JWSPolicy? = nil, keys: [Ed25519KeyPair]? = nil) async {
        let verifier = await verifier(keys)
        await #expect(throws: expected) {
            _ = try await verifier.verify(token, as: TestClaims.self, policy: policy ?? self.policy, clock: clock)
        }
    }

    @Test("a token signed with a known key round-trips with its claims and header")
    func roundTrip() async throws {
        let original = claims()
        let token = try await sign(original)
        let verified = try await verifier().verify(token, as: TestClaims.self, policy: policy, clock: clock)
        #expect(verified == original)
        let header = try JSONSerialization.jsonObject(
            with: Data(Base64URL.decode(token.split(separator: ".")[0])!)) as! [String: Any]
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["kid"] as? String == key.kid)
        #expect(header["typ"] as? String == "test+jwt")
    }

    @Test("alg none is refused, with or without a signature")
    func algNone() async throws {
        let unsigned = try forge(header: ["alg": "none", "kid": key.kid, "typ": "test+jwt"], claims: claims()) { _ in [] }
        await expectFailure(.malformed("expected three non-empty segments"), unsigned)
        let withJunk = try forge(header: ["alg": "none", "kid": key.kid, "typ": "test+jwt"], claims: claims()) { _ in [1, 2, 3] }
        await expectFailure(.unsupportedAlgorithm("none"), withJunk)
        let missing = try forge(header: ["kid": key.kid, "typ": "test+jwt"], claims: claims()) { _ in [1] }
        await expectFailure(.unsupportedAlgorithm("(none)"), missing)
    }

    @Test("HS256 signed with the public key as the secret (alg confusion) is refused")
    func hmacConfusion() async throws {
        let secret = SymmetricKey(data: Array(key.publicKey.jwk.x!.utf8))
        let token = try forge(header: ["alg": "HS256", "kid": key.kid, "typ": "test+jwt"], claims: claims()) { data in
            Array(HMAC<SHA256>.authenticationCode(for: data, using: secret))
        }
        await expectFailure(.unsupportedAlgorithm("HS256"), token)
    }

    @Test("RS256 and other algorithms, and case variants of EdDSA, are refused")
    func otherAlgorithms() async throws {
        for alg in ["RS256", "ES256", "eddsa", "Ed25519", "PS256"] {
            let token = try forge(header: ["alg": alg, "kid": key.kid, "typ": "test+jwt"], claims: claims(), sign: ed25519(key))
            await expectFailure(.unsupportedAlgorithm(alg), token)
        }
    }

    @Test("a missing or unknown kid is refused: no fallback to a default key")
    func keyIDRules() async throws {
        let noKid = try forge(header: ["alg": "EdDSA", "typ": "test+jwt"], claims: claims(), sign: ed25519(key))
        await expectFailure(.missingKeyID, noKid)
        let stranger = Ed25519KeyPair()
        let unknown = try await sign(claims(), with: stranger)
        await expectFailure(.unknownKeyID(stranger.kid), unknown)
    }

    @Test("a signature by another key under a known kid is refused")
    func keySubstitution() async throws {
        let attacker = Ed25519KeyPair()
        let token = try forge(header: ["alg": "EdDSA", "kid": key.kid, "typ": "test+jwt"], claims: claims(), sign: ed25519(attacker))
        await expectFailure(.signatureInvalid, token)
    }

    @Test("a changed payload or signature is refused")
    func tampering() async throws {
        let token = try await sign(claims())
        let parts = token.split(separator: ".").map(String.init)
        var tampered = claims()
        tampered.sub = "did:key:someone-else"
        let forgedPayload = parts[0] + "." + Base64URL.encode(try JSONEncoder().encode(tampered)) + "." + parts[2]
        await expectFailure(.signatureInvalid, forgedPayload)
        var signature = Base64URL.decode(parts[2])!
        signature[0] ^= 1
        await expectFailure(.signatureInvalid, parts[0] + "." + parts[1] + "." + Base64URL.encode(signature))
    }

    @Test("tokens over 16 KiB are refused before parsing")
    func sizeLimit() async throws {
        var big = claims()
        big.note = String(repeating: "a", count: 17 * 1024)
        let token = try await sign(big)
        await expectFailure(.tooLarge(limit: 16 * 1024), token)
    }

    @Test("malformed shapes are refused", arguments: ["", "a.b", "a.b.c.d", "..", "!!.e30.AA", "e30.e30.AA", "bm90IGpzb24.e30.AA"])
    func malformed(token: String) async {
        let verifier = await verifier()
        await #expect(throws: JWSError.self) {
            _ = try await verifier.verify(token, as: TestClaims.self, policy: policy, clock: clock)
        }
    }

    @Test("a critical header extension is refused")
    func critical() async throws {
        let token = try forge(
            header: ["alg": "EdDSA", "kid": key.kid, "typ": "test+jwt", "crit": ["exp"]], claims: claims(), sign: ed25519(key))
        await expectFailure(.malformed("crit"), token)
    }

    @Test("a token of another type is refused")
    func wrongType() async throws {
        let token = try JWSSigner(keyPair: key).sign(claims(), type: "other+jwt")
        await expectFailure(.wrongType("other+jwt"), token)
    }

    @Test("expiry is enforced with at most 60 s leeway")
    func expiry() async throws {
        let verifier = await verifier()
        let justInside = try await sign(claims(iat: Self.now - 400, nbf: Self.now - 400, exp: Self.now - 59))
        _ = try await verifier.verify(justInside, as: TestClaims.self, policy: policy, clock: clock)
        await expectFailure(.expired, try await sign(claims(iat: Self.now - 400, nbf: Self.now - 400, exp: Self.now - 60)))
        await expectFailure(.missingClaim("exp"), try await sign(claims(exp: nil)))
        // A policy cannot widen the leeway past 60 s.
        let lax = JWSPolicy(type: "test+jwt", leewaySeconds: 3600)
        #expect(lax.leewaySeconds == 60)
    }

    @Test("not-yet-valid and issued-in-the-future tokens are refused beyond the leeway")
    func notBefore() async throws {
        let verifier = await verifier()
        _ = try await verifier.verify(
            try await sign(claims(iat: Self.now + 59, nbf: Self.now + 59)), as: TestClaims.self, policy: policy, clock: clock)
        await expectFailure(.notYetValid, try await sign(claims(nbf: Self.now + 61)))
        await expectFailure(.issuedInFuture, try await sign(claims(iat: Self.now + 61, nbf: nil)))
    }

    @Test("wrong audience and untrusted issuer are refused")
    func audienceAndIssuer() async throws {
        await expectFailure(.audienceMismatch, try await sign(claims(aud: ["other"])))
        await expectFailure(.audienceMismatch, try await sign(claims(aud: nil)))
        var foreign = claims()
        foreign.iss = "https://evil.test"
        await expectFailure(.issuerUntrusted("https://evil.test"), try await sign(foreign))
        // A single-string aud is accepted like a one-element array.
        let single = try forge(
            header: ["alg": "EdDSA", "kid": key.kid, "typ": "test+jwt"], claims: claims(aud: ["svc"]), sign: ed25519(key))
        _ = try await verifier().verify(single, as: TestClaims.self, policy: policy, clock: clock)
    }

    @Test("a replayed token verifies cryptographically: replay is the caller's rule (jti)")
    func replayIsStateful() async throws {
        // The verifier is stateless by design; single-use tokens are enforced by the store's
        // replay cache (PoP proofs, passports). This pins that contract.
        let token = try await sign(claims())
        let verifier = await verifier()
        let first = try await verifier.verify(token, as: TestClaims.self, policy: policy, clock: clock)
        let second = try await verifier.verify(token, as: TestClaims.self, policy: policy, clock: clock)
        #expect(first.jti == second.jti)
    }
}
