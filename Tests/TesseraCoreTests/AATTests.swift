import Crypto
import Foundation
import Testing

@testable import TesseraCore

/// draft-niyikiza-oauth-attenuating-agent-tokens-01 §7, every step, with keys made here.
@Suite("AAT chains (draft-01 §7)")
struct AATTests {
    static let now: Int64 = 1_893_456_000
    let rootKey = AATIssuance.SigningKey.ed25519(Ed25519KeyPair(), kid: nil)
    let planner = AATIssuance.SigningKey.ed25519(Ed25519KeyPair(), kid: nil)
    let worker = AATIssuance.SigningKey.ed25519(Ed25519KeyPair(), kid: nil)
    let tool = "https://tools.example/read_file"

    var anchors: [AATTrustAnchor] { [AATTrustAnchor(issuer: "https://issuer.example", key: rootKey.publicKey)] }

    func constraint(_ type: String, _ members: [String: JSONValue] = [:]) -> JSONValue {
        var o = members
        o["constraint_type"] = .string(type)
        return .object(o)
    }

    func rootClaims(_ edit: (inout [String: JSONValue]) -> Void = { _ in }) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [
            "iss": "https://issuer.example", "jti": "root-1", "iat": .number(JSONNumber(Int(Self.now))),
            "exp": .number(JSONNumber(Int(Self.now + 3600))), "del_depth": 0, "del_max_depth": 2,
            "cnf": .object(["jwk": AATIssuance.jwkValue(planner.publicKey.jwk)]),
            "authorization_details": .array([.object([
                "type": "attenuating_agent_token",
                "tools": .object([tool: .object(["path": constraint("one_of", ["values": .array(["/data/a.txt", "/data/b.txt"])])])]),
            ])]),
        ]
        edit(&claims)
        return claims
    }

    func childClaims(parent: String, _ edit: (inout [String: JSONValue]) -> Void = { _ in }) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [
            "iss": .string(AATToken.thumbprintIssuerPrefix + planner.publicKey.thumbprint), "jti": "child-1",
            "iat": .number(JSONNumber(Int(Self.now))), "exp": .number(JSONNumber(Int(Self.now + 1800))), "del_depth": 1, "del_max_depth": 2,
            "par_hash": .string(try! ForeignJWS(parent, maximumBytes: 1 << 20).signingInputHash),
            "cnf": .object(["jwk": AATIssuance.jwkValue(worker.publicKey.jwk)]),
            "authorization_details": .array([.object([
                "type": "attenuating_agent_token",
                "tools": .object([tool: .object(["path": constraint("exact", ["value": "/data/a.txt"])])]),
            ])]),
        ]
        edit(&claims)
        return claims
    }

    func chain(root: (inout [String: JSONValue]) -> Void = { _ in }, child: (inout [String: JSONValue]) -> Void = { _ in }, childSigner: AATIssuance.SigningKey? = nil) throws -> [String] {
        let r = try rootKey.sign(rootClaims(root))
        let c = try (childSigner ?? planner).sign(childClaims(parent: r, child))
        return [r, c]
    }

    func proof(_ leafJTI: String = "child-1", tool: String? = nil, arguments: [String: JSONValue] = ["path": "/data/a.txt"], iat: Int64 = now, signer: AATIssuance.SigningKey? = nil) throws -> String {
        try (signer ?? worker).sign(AATIssuance.proofClaims(leafJTI: leafJTI, tool: tool ?? self.tool, arguments: arguments, audience: "https://enforcer.example", now: iat))
    }

    func step(_ tokens: [String], now: Int64 = now) -> String? {
        do {
            _ = try AATVerifier(anchors: anchors).verify(tokens, now: now)
            return nil
        } catch {
            return error.step
        }
    }

    @Test("the Ardur draft-01 fixture (root → child → grandchild with a PoP) is permitted; its leaf's exact constraint denies /data/b.txt")
    func ardurFixture() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/aat/ardur-draft01-v0.2.json")
        let fixture = try StrictJSON.object(Array(try Data(contentsOf: url)))
        guard case .array(let items)? = fixture["chain"], case .string(let pop)? = fixture["pop_jwt"],
            case .object(let keys)? = fixture["public_keys"], let anchorValue = keys["root_trust_anchor"]
        else { Issue.record("fixture shape"); return }
        let anchor = try ForeignPublicKey(jwk: StrictJSON.decode(JWK.self, from: Array(CanonicalJSON.serialize(anchorValue).utf8)))
        let tokens = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        let at: Int64 = 1_893_456_000
        let verified = try AATVerifier(anchors: [AATTrustAnchor(issuer: nil, key: anchor)]).verify(tokens, now: at)
        #expect(verified.tokens.count == 3)
        try verified.authorize(tool: "https://tools.example/read_file", arguments: ["path": "/data/a.txt"])
        _ = try AATProof.verify(pop, chain: verified, tool: "https://tools.example/read_file", arguments: ["path": "/data/a.txt"], audience: "https://enforcer.example", now: at)
        #expect(throws: AATFailure.self) { try verified.authorize(tool: "https://tools.example/read_file", arguments: ["path": "/data/b.txt"]) }
        #expect((try? verified.authorize(tool: "https://tools.example/read_file", arguments: ["path": "/data/b.txt"])) == nil)
        // Issued in 2030: not valid today.
        #expect(throws: AATFailure.self) { try AATVerifier(anchors: [AATTrustAnchor(issuer: nil, key: anchor)]).verify(tokens, now: Int64(Date().timeIntervalSince1970)) }
    }

    @Test("a well-formed two-link chain verifies and maps onto Tessera's engine")
    func goodChain() throws {
        let tokens = try chain()
        let verified = try AATVerifier(anchors: anchors).verify(tokens, now: Self.now)
        try verified.authorize(tool: tool, arguments: ["path": "/data/a.txt"])
        _ = try AATProof.verify(try proof(), chain: verified, tool: tool, arguments: ["path": "/data/a.txt"], audience: "https://enforcer.example", now: Self.now)
        #expect(verified.missionTools[tool] == .object(["arguments": .object(["path": .object(["exact": "/data/a.txt"])])]))
        _ = try Mission.parse(Mission(agent_id: "a", mission: "m", tools: verified.missionTools).jsonObject)
    }

    @Test("each §7 step, violated once, denies at that step", arguments: [
        "1", "2a", "2c", "3a", "3b", "3c", "3d", "3e", "3f", "3g", "3h", "3i", "3j", "3k", "3l", "3m", "3n",
        "4b", "4c", "4d", "4e", "4g", "4h", "4j", "4m", "4n", "4p1", "4p2", "4p4", "4q", "unknown-type",
    ])
    func hostileChain(_ violated: String) throws {
        let tokens: [String]
        var expected = violated
        switch violated {
        case "1": tokens = []
        case "2a": tokens = try chain(root: { $0["pad"] = .string(String(repeating: "x", count: 70_000)) })
        case "2c": tokens = try chain(child: { $0["jti"] = "root-1" })
        case "3a":
            let claims = CanonicalJSON.serialize(.object(rootClaims()))
            tokens = [Base64URL.encode(Array(#"{"alg":"none"}"#.utf8)) + "." + Base64URL.encode(Array(claims.utf8)) + "."]
        case "3b": tokens = [try planner.sign(rootClaims())]
        case "3c": tokens = [try rootKey.sign(rootClaims { $0["del_depth"] = 1 })]
        case "3d": tokens = [try rootKey.sign(rootClaims { $0["par_hash"] = "abc" })]
        case "3e": tokens = [try rootKey.sign(rootClaims { $0["exp"] = .number(JSONNumber(Int(Self.now))) })]
        case "3f": tokens = [try rootKey.sign(rootClaims { $0["iat"] = .number(JSONNumber(Int(Self.now + 31))) })]
        case "3g": tokens = [try rootKey.sign(rootClaims { $0["iat"] = .number(JSONNumber(Int(Self.now + 10))); $0["exp"] = .number(JSONNumber(Int(Self.now + 5))) })]
        case "3h": tokens = [try rootKey.sign(rootClaims { $0["exp"] = .number(JSONNumber(Int(Self.now + 91 * 86_400))) })]
        case "3i": tokens = [try rootKey.sign(rootClaims { $0["del_max_depth"] = nil })]
        case "3j": tokens = [try rootKey.sign(rootClaims { $0["jti"] = "" })]
        case "3k":
            // Anchors are bound to issuers (a root naming another is refused at 3a); an anchor
            // for any issuer, as the CLI's, reaches the URI check.
            let token = try rootKey.sign(rootClaims { $0["iss"] = "not a uri" })
            #expect(throws: AATFailure(link: 0, step: "3k", "iss must be a URI")) {
                try AATVerifier(anchors: [AATTrustAnchor(issuer: nil, key: rootKey.publicKey)]).verify([token], now: Self.now)
            }
            return
        case "3l": tokens = [try rootKey.sign(rootClaims { $0["cnf"] = .object(["jwk": .object(["kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "BBBB"])]) })]
        case "3m": tokens = [try rootKey.sign(rootClaims { claims in
                guard case .array(let d)? = claims["authorization_details"] else { return }
                claims["authorization_details"] = .array(d + d)
            })]
        case "3n":
            var deep = constraint("wildcard")
            for _ in 0..<33 { deep = constraint("all", ["constraints": .array([deep])]) }
            tokens = [try rootKey.sign(rootClaims { $0["authorization_details"] = .array([.object(["type": "attenuating_agent_token", "tools": .object([tool: .object(["path": deep])])])]) })]
        case "4b": tokens = try chain(childSigner: worker)
        case "4c": tokens = try chain(child: { $0["iss"] = "https://issuer.example" })
        case "4d": tokens = try chain(child: { $0["del_depth"] = 2 })
        case "4e":
            tokens = try chain(root: { $0["del_max_depth"] = 0 }, child: { $0["del_max_depth"] = 0 })
            expected = "4e"
        case "4g": tokens = try chain(child: { $0["del_max_depth"] = 3 })
        case "4h": tokens = try chain(child: { $0["exp"] = .number(JSONNumber(Int(Self.now + 7200))) })
        case "4j": tokens = try chain(child: { $0["iat"] = .number(JSONNumber(Int(Self.now - 10))) })
        case "4m": tokens = try chain(root: { $0["del_max_depth"] = 2 }, child: { $0["del_max_depth"] = 0 })
        case "4n": tokens = try chain(child: { claims in
                guard case .array(let d)? = claims["authorization_details"] else { return }
                claims["authorization_details"] = .array(d + d)
            })
        case "4p1": tokens = try chain(child: { $0["authorization_details"] = .array([.object(["type": "attenuating_agent_token", "tools": .object(["https://tools.example/delete": .object([:])])])]) })
        case "4p2": tokens = try chain(child: { $0["authorization_details"] = .array([.object(["type": "attenuating_agent_token", "tools": .object([tool: .object([:])])])]) })
        case "4p4": tokens = try chain(child: { $0["authorization_details"] = .array([.object(["type": "attenuating_agent_token", "tools": .object([tool: .object(["path": constraint("one_of", ["values": .array(["/data/a.txt", "/data/c.txt"])])])])])]) })
        case "4q": tokens = try chain(child: { $0["par_hash"] = "D0stXz8jLnghEKWzbZwN4JFQgmeHDVBumzfUnqAm3io" })
        case "unknown-type":
            tokens = [try rootKey.sign(rootClaims { $0["authorization_details"] = .array([.object(["type": "attenuating_agent_token", "tools": .object([tool: .object(["path": .object(["constraint_type": "regex", "pattern": ".*"])])])])]) })]
            expected = "3n"
        default: Issue.record("no case for \(violated)"); return
        }
        #expect(step(tokens) == expected)
    }

    @Test("proof of possession: each §7 step 7 check denies")
    func proofChecks() throws {
        let verified = try AATVerifier(anchors: anchors).verify(try chain(), now: Self.now)
        func failingStep(_ pop: String, tool: String? = nil, arguments: [String: JSONValue] = ["path": "/data/a.txt"]) -> String? {
            do {
                _ = try AATProof.verify(pop, chain: verified, tool: tool ?? self.tool, arguments: arguments, audience: "https://enforcer.example", now: Self.now)
                return nil
            } catch {
                return error.step
            }
        }
        #expect(failingStep(try proof()) == nil)
        #expect(failingStep(try proof(signer: planner)) == "7b")
        #expect(failingStep(try proof("root-1")) == "7c")
        #expect(failingStep(try proof(tool: "https://tools.example/write")) == "7e")
        #expect(failingStep(try proof(arguments: ["path": "/data/b.txt"])) == "7f")
        #expect(failingStep(try proof(iat: Self.now - 31)) == "7g")
        #expect(failingStep(try proof(iat: Self.now + 31)) == "7g")
        // Audience: required when the verifier names one.
        let noAud = try worker.sign(AATIssuance.proofClaims(leafJTI: "child-1", tool: tool, arguments: ["path": "/data/a.txt"], audience: nil, now: Self.now))
        #expect(failingStep(noAud) == "7d")
        let otherAud = try worker.sign(AATIssuance.proofClaims(leafJTI: "child-1", tool: tool, arguments: ["path": "/data/a.txt"], audience: "https://other.example", now: Self.now))
        #expect(failingStep(otherAud) == "7d")
        // A payload that is not RFC 8785: refused even though the signature verifies.
        guard case .ed25519(let pair, _) = worker else { return }
        let header = Base64URL.encode(Array(#"{"alg":"EdDSA"}"#.utf8))
        let payload = Base64URL.encode(Array(#"{"jti":"p","iat":1893456000,"aat_id":"child-1","aat_tool":"https://tools.example/read_file","aat_aud":"https://enforcer.example","hta":{"path":"/data/a.txt"}}"#.utf8))
        let nonCanonical = try CompactJWS.sign(signingInput: header + "." + payload, key: pair)
        #expect(failingStep(nonCanonical) == "7b")
    }

    @Test("strings are compared exactly, not by Unicode canonical equivalence: a decomposed é is another value, tool and proof")
    func exactStrings() throws {
        let nfc = "/data/caf\u{E9}.txt", nfd = "/data/cafe\u{301}.txt"
        #expect(nfc == nfd)  // Swift's String equality, which the checks must not rely on
        #expect(ArgumentConstraint.exact(.string(nfc)).check(.string(nfd)) != nil)
        #expect(ArgumentConstraint.exact(.string(nfc)).check(.string(nfc)) == nil)
        #expect(ArgumentConstraint.oneOf([CanonicalJSON.serialize(.string(nfc))]).check(.string(nfd)) != nil)
        #expect(ArgumentConstraint.subset([CanonicalJSON.serialize(.string(nfc))]).check(.array([.string(nfd)])) != nil)
        let passport = PassportClaims(mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["r\u{E9}sum\u{E9}"]), issuer: "t", workspace: "w", issuedAt: Self.now, ttl: 60)
        #expect(Evaluator(passport: passport).decide(tool: "re\u{301}sume\u{301}", arguments: [:]).verdict == .deny)
        #expect(Evaluator(passport: passport).decide(tool: "r\u{E9}sum\u{E9}", arguments: [:]).verdict == .permit)
        // A proof for the precomposed arguments does not cover the decomposed call.
        let open: JSONValue = .array([.object(["type": "attenuating_agent_token", "tools": .object([tool: .object([:])])])])
        let tokens = try chain(root: { $0["authorization_details"] = open }, child: { $0["authorization_details"] = open })
        let verified = try AATVerifier(anchors: anchors).verify(tokens, now: Self.now)
        let pop = try proof(arguments: ["path": .string(nfc)])
        #expect(throws: AATFailure.self) {
            try AATProof.verify(pop, chain: verified, tool: self.tool, arguments: ["path": .string(nfd)], audience: "https://enforcer.example", now: Self.now)
        }
    }

    @Test("subsumption follows draft-01 §4.5's table of allowed pairs, with all/any matching")
    func subsumption() throws {
        func c(_ json: String) throws -> AATConstraint { try AATConstraint.parse(try StrictJSON.parse(Array(json.utf8)), path: "c") }
        let wildcard = try c(#"{"constraint_type":"wildcard"}"#)
        let oneOf = try c(#"{"constraint_type":"one_of","values":["a","b"]}"#)
        let exactA = try c(#"{"constraint_type":"exact","value":"a"}"#)
        let exactC = try c(#"{"constraint_type":"exact","value":"c"}"#)
        let notOneOf = try c(#"{"constraint_type":"not_one_of","excluded":["x"]}"#)
        #expect(exactA.subsumes(oneOf))
        #expect(!exactC.subsumes(oneOf))
        #expect(oneOf.subsumes(wildcard) && exactA.subsumes(wildcard))
        #expect(!wildcard.subsumes(oneOf))
        // Sound, but not a listed pair: refused.
        #expect(!exactA.subsumes(notOneOf))
        #expect(!(try c(#"{"constraint_type":"not_one_of","excluded":["x"]}"#)).subsumes(oneOf))
        let range = try c(#"{"constraint_type":"range","min":0,"max":10}"#)
        #expect((try c(#"{"constraint_type":"range","min":0,"max":10,"max_inclusive":false}"#)).subsumes(range))
        // At an equal bound inclusivity may only tighten.
        #expect(!range.subsumes(try c(#"{"constraint_type":"range","min":0,"max":10,"max_inclusive":false}"#)))
        #expect(!(try c(#"{"constraint_type":"range","min":0}"#)).subsumes(range))
        #expect((try c(#"{"constraint_type":"exact","value":5}"#)).subsumes(range))
        // all: a distinct derived clause per parent clause.
        let parentAll = try c(#"{"constraint_type":"all","constraints":[{"constraint_type":"one_of","values":["a","b"]},{"constraint_type":"one_of","values":["a","c"]}]}"#)
        #expect((try c(#"{"constraint_type":"all","constraints":[{"constraint_type":"exact","value":"a"},{"constraint_type":"exact","value":"a"}]}"#)).subsumes(parentAll))
        #expect(!(try c(#"{"constraint_type":"all","constraints":[{"constraint_type":"exact","value":"a"}]}"#)).subsumes(parentAll))
        // any: every derived clause within some parent clause.
        let parentAny = try c(#"{"constraint_type":"any","constraints":[{"constraint_type":"one_of","values":["pdf","csv"]}]}"#)
        #expect((try c(#"{"constraint_type":"any","constraints":[{"constraint_type":"exact","value":"pdf"}]}"#)).subsumes(parentAny))
        #expect(!(try c(#"{"constraint_type":"any","constraints":[{"constraint_type":"exact","value":"doc"}]}"#)).subsumes(parentAny))
        // Unknown and draft-00 types are refused at parse time.
        for json in [#"{"constraint_type":"regex","pattern":"x"}"#, #"{"constraint_type":"pattern","pattern":"x"}"#, #"{"constraint_type":"not"}"#, #"{"constraint_type":"exact","value":"a","extra":1}"#] {
            #expect(throws: AATFailure.Detail.self) { try c(json) }
        }
    }

    @Test("a mission declaration's digest is the SHA-256 of its RFC 8785 payload (Ardur's value for the seed's declaration)")
    func missionDigest() throws {
        let payload = #"{"iss":"vibap-governance-proxy","sub":"md-authority","aud":"vibap-proxy","iat":1893456000,"nbf":1893456000,"exp":1893456300,"jti":"7d1f0c9e-0000-4000-8000-000000000001","mission_id":"urn:ardur:mission:aat:http","mission":"authoritative AAT HTTP mission","allowed_tools":["read"],"forbidden_tools":[],"resource_scope":[],"max_tool_calls":3,"max_duration_s":300,"delegation_allowed":true,"max_delegation_depth":2,"receipt_policy":{"level":"minimal"},"conformance_profile":"Delegation-Core","tool_manifest_digest":"sha-256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","revocation_ref":"https://issuer.example/status/v01-default-5d4602cccc77f17f.jwt#idx=0","governed_memory_stores":[],"probing_rate_limit":10}"#
        let claims = try StrictJSON.object(Array(payload.utf8))
        let md = try MissionDeclaration(claims: claims, now: 1_893_456_100)
        // Python: json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        #expect(md.digest == "sha-256:387136d864c1c909db3022dcbdcf5aec369e8d3a621d959074deba71ee24a313")
        #expect(md.maxToolCalls == 3 && md.allowedTools == ["read"] && md.revocation?.index == 0)
        var refused = claims
        refused["approval_policy"] = .object(["max_approvals_per_hour_per_operator": 3])
        #expect(throws: MissionDeclaration.Refusal("mission_unsupported", "approval_policy: per-operator approval rate limits are not in Tessera's approval model")) {
            try MissionDeclaration(claims: refused, now: 1_893_456_100)
        }
        var unknown = claims
        unknown["surprise"] = 1
        #expect(throws: MissionDeclaration.Refusal("mission_schema_invalid", "unknown claim surprise")) { try MissionDeclaration(claims: unknown, now: 1_893_456_100) }
        #expect(throws: MissionDeclaration.Refusal.self) { try MissionDeclaration(claims: claims, now: 1_893_456_300) }
    }

    @Test("a root Tessera issues from a mission verifies, maps back to the same constraints, and refuses what an AAT cannot say")
    func issuance() throws {
        let mission = try Mission.parse(try StrictJSON.object(Array(#"{"agent_id":"a","mission":"m","allowed_tools":["list"],"max_tool_calls":5,"delegation_allowed":true,"max_delegation_depth":2,"tools":{"read":{"arguments":{"path":{"one_of":["/a","/b"]},"n":{"range":{"min":1,"max":9,"exclusive_max":true}}}}}}"#.utf8)))
        let claims = try AATIssuance.rootClaims(mission: mission, issuer: "https://issuer.example", holder: planner.publicKey, issuedAt: Self.now, ttl: 600)
        let token = try rootKey.sign(claims)
        let verified = try AATVerifier(anchors: anchors).verify([token], now: Self.now)
        try verified.authorize(tool: "read", arguments: ["path": "/a", "n": 8])
        #expect(throws: AATFailure.self) { try verified.authorize(tool: "read", arguments: ["path": "/a", "n": 9]) }
        #expect(throws: AATFailure.self) { try verified.authorize(tool: "read", arguments: ["path": "/a"]) }
        try verified.authorize(tool: "list", arguments: ["anything": true])
        // Derivation narrows and verifies; widening is refused before signing.
        let child = try AATIssuance.derivedClaims(
            parent: verified.leaf, tools: ["read": .object(["path": constraint("exact", ["value": "/a"]), "n": constraint("exact", ["value": 3])])],
            child: worker.publicKey, now: Self.now, ttl: 60)
        let chain = try AATVerifier(anchors: anchors).verify([token, try planner.sign(child)], now: Self.now)
        try chain.authorize(tool: "read", arguments: ["path": "/a", "n": 3])
        #expect(throws: AATFailure.self) {
            try AATIssuance.derivedClaims(parent: verified.leaf, tools: ["read": .object(["path": self.constraint("wildcard"), "n": self.constraint("exact", ["value": 3])])], child: self.worker.publicKey, now: Self.now, ttl: 60)
        }
        for bad in [#"{"pattern":"/a/*"}"#, #"{"regex":"a"}"#, #"{"optional":{"exact":"a"}}"#] {
            let m = try Mission.parse(try StrictJSON.object(Array(#"{"agent_id":"a","mission":"m","tools":{"read":{"arguments":{"path":\#(bad)}}}}"#.utf8)))
            #expect(throws: MissionError.self) { try AATIssuance.rootClaims(mission: m, issuer: "https://i", holder: self.planner.publicKey, issuedAt: Self.now, ttl: 60) }
        }
    }
}
