import Foundation
import Testing

@testable import TesseraCore

@Suite("Governance rules: paths, globs, evaluation order, canonical JSON")
struct GovernanceRulesTests {
    @Test(
        "paths are normalised; traversal, encoded traversal and NUL are refused or resolved",
        arguments: [
            ("/data/x", "/data/x"), ("/data//x/./y", "/data/x/y"), ("/data/a/../b", "/data/b"),
            ("/data/../etc/passwd", "/etc/passwd"), ("/data/%2e%2e/etc/passwd", "/etc/passwd"),
            ("/data/%252e%252e/etc", "/etc"), ("https://API.example.com/v1/../v2", "https://api.example.com/v2"),
            ("/data\\..\\etc", "/etc"),
            // URLs: canonical ones come back unchanged (a fast path); anything else is normalised.
            // A scope governs the resource: the query and fragment are cut off (round three).
            ("https://api.example.com/v1/rates", "https://api.example.com/v1/rates"),
            ("https://api.example.com/v1/rates?x=1", "https://api.example.com/v1/rates"),
            ("https://api.example.com", "https://api.example.com/"), ("https://api.example.com/v1/", "https://api.example.com/v1"),
            ("https://Api.example.com/v1", "https://api.example.com/v1"), ("https://api.example.com/a/%2e%2e/x", "https://api.example.com/x"),
            ("https://api.example.com//v1/./x", "https://api.example.com/v1/x"), ("git+ssh://host/repo", "git+ssh://host/repo"),
        ])
    func normalisation(raw: String, expected: String) {
        #expect(ResourcePath.normalize(raw) == expected)
    }

    @Test("NUL, escaping above the root and bad encodings cannot be normalised", arguments: ["/data/\0x", "/data/%00", "/../etc", "/data/../../etc", "/x/%zz"])
    func refused(raw: String) {
        #expect(ResourcePath.normalize(raw) == nil)
    }

    @Test("globs: * within a segment, ** across segments, ? one character")
    func globs() {
        #expect(Glob("/data/*").matches("/data/x"))
        #expect(!Glob("/data/*").matches("/data/x/y"))
        #expect(!Glob("/data/*").matches("/database"))
        #expect(Glob("/data/**").matches("/data/x/y/z"))
        #expect(Glob("/data/**").matches("/data"))
        #expect(Glob("/data/**/*.csv").matches("/data/a/b/c.csv"))
        #expect(!Glob("/data/**/*.csv").matches("/data/a/b/c.json"))
        #expect(Glob("/logs/app-?.log").matches("/logs/app-1.log"))
        #expect(!Glob("/logs/app-?.log").matches("/logs/app-12.log"))
        #expect(!Glob("/data/*").matches("data/x"))
        #expect(Glob("https://api.example.com/v1/*").matches("https://api.example.com/v1/users"))
    }

    @Test("glob containment never accepts a widening")
    func containment() {
        #expect(Glob("/data/**").covers(Glob("/data/x/*")))
        #expect(Glob("/data/*").covers(Glob("/data/report.csv")))
        #expect(Glob("/data/*").covers(Glob("/data/*.csv")))
        #expect(!Glob("/data/*").covers(Glob("/data/**")))
        #expect(!Glob("/data/*.csv").covers(Glob("/data/*")))
        #expect(!Glob("/data/*").covers(Glob("/etc/*")))
        #expect(!Glob("/data/x").covers(Glob("/data/*")))
    }

    func passport(_ mission: Mission, ttl: Int64 = 300) -> PassportClaims {
        PassportClaims(mission: mission, issuer: "t", workspace: "w", issuedAt: 1_800_000_000, ttl: ttl)
    }

    @Test("the first failing rule wins and the reason names it")
    func ruleOrder() {
        let mission = Mission(
            agent_id: "a", mission: "m", allowed_tools: ["read", "rm"], forbidden_tools: ["rm"], resource_scope: ["/data/*"],
            max_tool_calls: 1, max_duration_s: 100)
        var session = SessionState(id: "s", passport: passport(mission), startedAt: Date(timeIntervalSince1970: 1_800_000_000))
        let evaluator = Evaluator(passport: session.passport)
        let now = Date(timeIntervalSince1970: 1_800_000_010)
        func reason(_ tool: String, _ args: [String: JSONValue] = [:], at: Date? = nil) -> String? {
            evaluator.evaluate(session, tool: tool, arguments: args, now: at ?? now).reason
        }
        #expect(evaluator.evaluate(session, tool: "read", arguments: ["path": .string("/data/a")], now: now) == .permit)
        #expect(reason("rm")?.hasPrefix("tool_forbidden") == true)
        #expect(reason("write")?.hasPrefix("tool_not_allowed") == true)
        #expect(reason("read", ["path": .string("/etc/passwd")])?.hasPrefix("resource_out_of_scope") == true)
        #expect(reason("read", ["file": .string("/data/../etc/passwd")])?.hasPrefix("resource_out_of_scope") == true)
        #expect(reason("read", ["path": .string("/data/%2e%2e/etc/passwd")])?.hasPrefix("resource_out_of_scope") == true)
        #expect(reason("read", ["uri": .string("/data/a\0b")])?.hasPrefix("resource_invalid") == true)
        #expect(reason("read", ["path": .number(3)])?.hasPrefix("resource_invalid") == true)
        #expect(reason("read", ["url": .array([.string("/data/a"), .string("/etc/b")])])?.hasPrefix("resource_out_of_scope") == true)
        #expect(reason("read", at: Date(timeIntervalSince1970: 1_800_000_100))?.hasPrefix("max_duration_exceeded") == true)
        #expect(reason("read", at: Date(timeIntervalSince1970: 1_800_000_300))?.hasPrefix("passport_expired") == true)
        session.callsUsed = 1
        #expect(reason("read")?.hasPrefix("budget_exhausted") == true)
        // Forbidden is checked before budget: the reason names the first rule.
        #expect(reason("rm")?.hasPrefix("tool_forbidden") == true)
        session.endedAt = now
        #expect(reason("read")?.hasPrefix("session_ended") == true)
    }

    @Test("RFC 8785 canonical JSON: sorted keys, ECMAScript numbers, minimal escapes")
    func canonicalJSON() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"b":[1,2.5,1e21,0.000001,1e-7,-0,100],"a":"\u00e9\n\"","c":{"z":null,"y":true}}"#.utf8))
        #expect(CanonicalJSON.serialize(value) == #"{"a":"é\n\"","b":[1,2.5,1e+21,0.000001,1e-7,0,100],"c":{"y":true,"z":null}}"#)
        // RFC 8785 §3.2.3 example of key ordering by UTF-16 code units.
        let keys = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"\u20ac":1,"\r":2,"\ufb33":3,"1":4,"\ud83d\ude00":5,"\u0080":6,"\u00f6":7}"#.utf8))
        #expect(CanonicalJSON.serialize(keys) == "{\"\\r\":2,\"1\":4,\"\u{80}\":6,\"ö\":7,\"€\":1,\"😀\":5,\"\u{fb33}\":3}")
        #expect(ReceiptClaims.digest(.object([:])) == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    }

    @Test("mission decoding is strict and names the field")
    func missionParsing() throws {
        #expect(throws: MissionError.invalid("unknown mission field allowed_tool")) {
            try Mission.parse(["agent_id": .string("a"), "mission": .string("m"), "allowed_tool": .array([])])
        }
        #expect(throws: MissionError.self) { try Mission.parse(["mission": .string("m")]) }
        #expect(throws: MissionError.invalid("mission.max_tool_calls must be an integer from 0 to 1000000000")) {
            try Mission.parse(["agent_id": .string("a"), "mission": .string("m"), "max_tool_calls": .number(1.5)])
        }
        let parsed = try Mission.parse(["agent_id": .string("a"), "mission": .string("m"), "allowed_tools": .array([.string("x")])])
        #expect(parsed.allowed_tools == ["x"])
        #expect(parsed.delegation_allowed == false)
    }
}

@Suite("Receipt chains")
struct ReceiptChainTests {
    let key = Ed25519KeyPair()

    func chain(_ count: Int) throws -> [String] {
        let passport = PassportClaims(mission: Mission(agent_id: "a", mission: "m", allowed_tools: ["t"]), issuer: "t", workspace: "w", issuedAt: 1, ttl: 100)
        var session = SessionState(id: "s", passport: passport, startedAt: Date())
        return try (0..<count).map { i in
            try session.appendReceipt(
                tool: "t", decision: i % 2 == 0 ? .permit : .deny("tool_not_allowed", "x"), arguments: .object(["i": .number(JSONNumber(i))]),
                issuer: "t", now: Date(), key: key
            ).jwt
        }
    }

    func verifier() async -> JWSVerifier { await JWSVerifier(keys: [key.kid: key.publicKey]) }

    @Test("an intact chain verifies: signatures (swift-crypto Ed25519), seq and prev links")
    func intact() async throws {
        let claims = try await ReceiptChain.verify(try chain(5), verifier: await verifier())
        #expect(claims.map(\.seq) == [0, 1, 2, 3, 4])
        #expect(claims[0].prev == "")
        #expect(claims[1].prev == CompactJWS.digest(try chain(1)[0]) || claims[1].prev.count == 64)
    }

    @Test("one changed byte, a dropped receipt, or two swapped receipts are found at the right place")
    func tampering() async throws {
        let original = try chain(5)
        var flipped = original
        var bytes = Array(flipped[2].utf8)
        let middle = bytes.count / 2
        bytes[middle] = bytes[middle] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        flipped[2] = String(decoding: bytes, as: UTF8.self)
        await #expect(throws: ReceiptChain.Failure.self) { try await ReceiptChain.verify(flipped, verifier: await verifier()) }
        do {
            _ = try await ReceiptChain.verify(flipped, verifier: await verifier())
        } catch {
            #expect(error.index == 2)
        }
        var dropped = original
        dropped.remove(at: 1)
        do {
            _ = try await ReceiptChain.verify(dropped, verifier: await verifier())
            Issue.record("a dropped receipt verified")
        } catch {
            #expect(error.index == 1)
            #expect(error.problem.contains("seq"))
        }
        var swapped = original
        swapped.swapAt(3, 4)
        do {
            _ = try await ReceiptChain.verify(swapped, verifier: await verifier())
            Issue.record("swapped receipts verified")
        } catch {
            #expect(error.index == 3)
        }
        let stranger = Ed25519KeyPair()
        do {
            _ = try await ReceiptChain.verify(original, verifier: await JWSVerifier(keys: [stranger.kid: stranger.publicKey]))
            Issue.record("verified with the wrong key")
        } catch {
            #expect(error.index == 0)
        }
    }

    @Test("CompactJWS reproduces RFC 8037 A.4 and its tokens verify")
    func compactJWSVector() async throws {
        let pair = try Ed25519KeyPair(jwk: JWK(
            kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        let token = try CompactJWS.sign(signingInput: input, key: pair)
        #expect(token == input + ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
    }
}
