import Foundation
import Testing

@testable import TesseraCore

/// Security round three (issue 23), the pure halves of findings 8 and 11: each test fails on the
/// code before the fix. The server-side halves are in TesseraServerTests/SecurityRound3BindingTests.
@Suite("Security round 3: bound tokens stay bound (pure)")
struct SecurityRound3BindingCoreTests {
    let holder = Ed25519KeyPair()
    let now: Int64 = 1_800_000_000

    func request(_ extra: String = "") throws -> DelegationRequest {
        let body = #"{"parent_token":"p.p.p","child_agent_id":"reader","child_mission":"read","child_allowed_tools":["read_file"],"child_max_tool_calls":1\#(extra)}"#
        return try DelegationRequest.parse(try StrictJSON.object(Array(body.utf8)))
    }

    func proof(_ claims: PassportProofClaims, key: Ed25519KeyPair? = nil) throws -> String {
        try PassportProofClaims.sign(claims, key: key ?? holder)
    }

    func verify(_ proof: String, request: DelegationRequest? = nil, purpose: PassportProofClaims.Purpose = .sessionStart, at: Int64? = nil)
        -> PassportProofClaims.Failure?
    {
        do {
            _ = try PassportProofClaims.verify(
                proof, jkt: holder.kid, passportJTI: "passport-1", purpose: purpose, childJKT: request.map { $0.childCnfJKT ?? holder.kid },
                requestDigest: request?.proofDigest, now: at ?? now)
            return nil
        } catch {
            return error
        }
    }

    @Test("round3 8: a proof may be at most 5 s ahead and 60 s old; an exp may not stretch it; jti is required")
    func proofWindow() throws {
        func at(_ offset: Int64) -> PassportProofClaims { PassportProofClaims(passportJTI: "passport-1", purpose: .sessionStart, iat: now + offset) }
        // The attack run's proof, "issued" 59 s in the future, was valid for two minutes.
        #expect(verify(try proof(at(59))) == .inFuture)
        #expect(verify(try proof(at(6))) == .inFuture)
        #expect(verify(try proof(at(5))) == nil)
        #expect(verify(try proof(at(-60))) == nil)
        #expect(verify(try proof(at(-61))) == .stale)
        var long = at(0)
        long.exp = now + 120
        #expect(verify(try proof(long)) == .tooLong)
        var noJTI = at(0)
        noJTI.jti = nil
        #expect(verify(try proof(noJTI)) == .missingJTI)
        var hugeJTI = at(0)
        hugeJTI.jti = String(repeating: "j", count: 129)
        #expect(verify(try proof(hugeJTI)) == .missingJTI)
        #expect(verify(try proof(at(0), key: Ed25519KeyPair())) == .wrongKey)
    }

    @Test("round3 8: a delegation proof carries the digest of its request; any wider or other child is a mismatch")
    func delegationDigest() throws {
        let narrow = try request()
        let signed = try proof(.delegation(passportJTI: "passport-1", parentJKT: holder.kid, request: narrow, iat: now))
        #expect(verify(signed, request: narrow, purpose: .delegate) == nil)
        // Every governing field changes the digest: tools, budget, lifetime, scope, key, constraints, agent, mission.
        let variants: [DelegationRequest] = [
            try DelegationRequest.parse(try StrictJSON.object(Array(
                #"{"parent_token":"p.p.p","child_agent_id":"reader","child_mission":"read","child_allowed_tools":["read_file","write_file","delete_file"],"child_max_tool_calls":9}"#.utf8))),
            try DelegationRequest.parse(try StrictJSON.object(Array(
                #"{"parent_token":"p.p.p","child_agent_id":"reader","child_mission":"read","child_allowed_tools":["read_file"],"child_max_tool_calls":9}"#.utf8))),
            try DelegationRequest.parse(try StrictJSON.object(Array(
                #"{"parent_token":"p.p.p","child_agent_id":"reader","child_mission":"read","child_allowed_tools":["read_file"]}"#.utf8))),
            try request(#","child_ttl_s":86400"#),
            try request(#","child_resource_scope":["/**"]"#),
            try request(#","child_tools":{"read_file":{"arguments":{"path":{"pattern":"/data/*"}}}}"#),
            try DelegationRequest.parse(try StrictJSON.object(Array(
                #"{"parent_token":"p.p.p","child_agent_id":"other","child_mission":"read","child_allowed_tools":["read_file"],"child_max_tool_calls":1}"#.utf8))),
        ]
        for variant in variants {
            #expect(variant.proofDigest != narrow.proofDigest)
            #expect(verify(signed, request: variant, purpose: .delegate) == .requestMismatch)
        }
        // Another child key: refused before the digest.
        let keyed = try request(#","child_cnf_jkt":"\#(Ed25519KeyPair().kid)""#)
        #expect(verify(signed, request: keyed, purpose: .delegate) == .wrongChildKey)
        // A delegation proof without a digest (what the SDK sent before) is refused.
        let bare = try proof(PassportProofClaims(passportJTI: "passport-1", purpose: .delegate, iat: now, childJKT: holder.kid))
        #expect(verify(bare, request: narrow, purpose: .delegate) == .requestMismatch)
        // The same request in another order, with duplicates, is the same request.
        let reordered = try DelegationRequest.parse(try StrictJSON.object(Array(
            #"{"child_max_tool_calls":1,"child_allowed_tools":["read_file","read_file"],"child_mission":"read","child_agent_id":"reader","parent_token":"x.y.z","proof":"a.b.c"}"#.utf8)))
        #expect(reordered.proofDigest == narrow.proofDigest)
        // The digest is base64url SHA-256 of the RFC 8785 form of the governing fields.
        #expect(narrow.proofDigest.utf8.count == 43)
    }

    @Test("round3 8: replay keys are per holder key and fixed-length; a proof is remembered past the last moment any node accepts it")
    func replayKeys() throws {
        let a = PassportProofClaims.replayKey(jkt: holder.kid, jti: "same")
        let b = PassportProofClaims.replayKey(jkt: Ed25519KeyPair().kid, jti: "same")
        #expect(a != b)
        #expect(a.utf8.count == 43 && PassportProofClaims.replayKey(jkt: holder.kid, jti: String(repeating: "x", count: 128)).utf8.count == 43)
        let use = try PassportProofClaims.verify(
            try proof(PassportProofClaims(passportJTI: "passport-1", purpose: .sessionStart, iat: now + 5)), jkt: holder.kid,
            passportJTI: "passport-1", purpose: .sessionStart, childJKT: nil, requestDigest: nil, now: now)
        #expect(use.expiresAt >= now + 5 + PassportProofClaims.maximumAge + PassportProofClaims.maximumFutureSkew)
        #expect(use.replayKey == PassportProofClaims.replayKey(jkt: holder.kid, jti: try #require(use.claims.jti)))
    }

    // MARK: Finding 11

    let ca = Ed25519KeyPair()
    let agent = Ed25519KeyPair()
    let issuer = "https://registry.example"

    func badge(audience: [String]?) throws -> String {
        let claims = BadgeClaims(
            iss: issuer, sub: agent.publicKey.did, audience: nil, iat: now, exp: now + 300, ial: "0", key: agent.publicKey.publicJWK,
            cnf: nil, level: "1", domain: "finance.example", status: nil)
        // Written by hand so that an empty array stays one (the initialiser drops it).
        var object = try StrictJSON.decode([String: JSONValue].self, from: try JSONEncoder().encode(claims))
        if let audience { object["aud"] = .array(audience.map(JSONValue.string)) }
        return try CompactJWS.sign(object, header: .init(typ: "JWT", kid: ca.kid), key: ca)
    }

    func code(_ token: String, audience: String?) -> BadgeError? {
        do {
            _ = try BadgeVerification(trustedIssuers: [issuer], audience: audience).verify(
                token, now: now, keys: { _ in JWSVerifier(synchronousKeys: [ca.kid: ca.publicKey]) }, status: { _ in .unavailable })
            return nil
        } catch {
            return error
        }
    }

    @Test("round3 11: a badge that names an audience is refused by a verifier that does not state it is one of them")
    func audienceFailsClosed() throws {
        let forA = try badge(audience: ["https://service-a.example"])
        // Before: accepted by any verifier without a configured audience (service B).
        #expect(code(forA, audience: nil) == .audienceMismatch)
        #expect(code(forA, audience: "https://service-b.example") == .audienceMismatch)
        #expect(code(forA, audience: "https://service-a.example") == nil)
        // A badge naming nobody ([]) is for nobody; a badge without aud is for any verifier.
        #expect(code(try badge(audience: []), audience: nil) == .audienceMismatch)
        #expect(code(try badge(audience: nil), audience: nil) == nil)
        #expect(code(try badge(audience: nil), audience: "https://service-b.example") == nil)
    }
}
