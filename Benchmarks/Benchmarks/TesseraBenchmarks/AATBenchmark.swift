import Benchmark
import Foundation
import TesseraCore

/// draft-01 §7 on chains of 1–4 links, and the per-call proof (step 7), beside raw Ed25519
/// verify in the same run: the target is ≤ 1.15× raw verify per link (Tenuo publishes ~42 µs a
/// link). Every link costs one signature check; the rest is parsing and the §4.5 checks.
func aatBenchmarks(configuration: Benchmark.Configuration) {
    let now: Int64 = 1_893_456_000
    let anchor = AATIssuance.SigningKey.ed25519(Ed25519KeyPair(), kid: nil)
    let holders = (0..<4).map { _ in AATIssuance.SigningKey.ed25519(Ed25519KeyPair(), kid: nil) }
    let tool = "https://tools.example/read_file"
    func detail(_ path: JSONValue) -> JSONValue {
        .array([.object(["type": "attenuating_agent_token", "tools": .object([tool: .object(["path": path])])])])
    }
    var chain: [String] = []
    var root: [String: JSONValue] = [
        "iss": "https://issuer.example", "jti": "root", "iat": .number(JSONNumber(Int(now))), "exp": .number(JSONNumber(Int(now + 3600))),
        "del_depth": 0, "del_max_depth": 4, "cnf": .object(["jwk": AATIssuance.jwkValue(holders[0].publicKey.jwk)]),
        "authorization_details": detail(.object(["constraint_type": "one_of", "values": .array(["/a", "/b", "/c", "/d"])])),
    ]
    root["sub"] = "agent"
    chain.append(try! anchor.sign(root))
    for depth in 1..<4 {
        let parent = try! AATToken(jws: try! ForeignJWS(chain[depth - 1], maximumBytes: 65536), link: depth - 1, requireHolderKey: true)
        let values: [JSONValue] = Array(["/a", "/b", "/c", "/d"].prefix(4 - depth)).map(JSONValue.string)
        let claims = try! AATIssuance.derivedClaims(
            parent: parent, tools: [tool: .object(["path": .object(["constraint_type": "one_of", "values": .array(values)])])],
            child: holders[depth].publicKey, now: now, ttl: 600)
        chain.append(try! holders[depth - 1].sign(claims))
    }
    let verifier = AATVerifier(anchors: [AATTrustAnchor(issuer: "https://issuer.example", key: anchor.publicKey)])
    for links in 1...4 {
        let tokens = Array(chain.prefix(links))
        precondition((try? verifier.verify(tokens, now: now)) != nil, "the benchmark chain must verify")
        Benchmark("AAT chain verify, \(links) link\(links == 1 ? "" : "s") (draft-01 §7 steps 1-5)", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try verifier.verify(tokens, now: now)) }
        }
    }
    let verified = try! verifier.verify(Array(chain.prefix(2)), now: now)
    let arguments: [String: JSONValue] = ["path": "/a"]
    let pop = try! holders[1].sign(AATIssuance.proofClaims(leafJTI: verified.leaf.jti, tool: tool, arguments: arguments, audience: "https://tessera.example", now: now))
    Benchmark("AAT proof of possession (draft-01 §7 step 7)", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try AATProof.verify(pop, chain: verified, tool: tool, arguments: arguments, audience: "https://tessera.example", now: now))
        }
    }
}
