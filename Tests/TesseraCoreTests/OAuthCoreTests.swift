import Foundation
import Testing
import Crypto

@testable import TesseraCore

@Suite("OAuth building blocks")
struct OAuthCoreTests {
    @Test("PKCE: S256 only, RFC 7636 appendix B vector, bounded verifiers, constant-time comparison")
    func pkce() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        #expect(PKCE.challenge(for: verifier) == challenge)
        #expect(PKCE.verify(verifier, challenge: challenge))
        #expect(!PKCE.verify(verifier + "x", challenge: challenge))
        #expect(!PKCE.verify("short", challenge: PKCE.challenge(for: "short")), "a verifier under 43 characters is refused")
        #expect(!PKCE.verify(String(repeating: "a", count: 129), challenge: PKCE.challenge(for: String(repeating: "a", count: 129))))
        #expect(!PKCE.isValidVerifier(String(repeating: "a", count: 42) + "+"))
        #expect(PKCE.isValidChallenge(challenge))
        #expect(!PKCE.isValidChallenge(verifier + "AAAA"), "a plain challenge (not a 32-byte digest) is refused")
    }

    @Test("redirect URIs: https, loopback http, private-use schemes; never javascript:, data:, file:, fragments or userinfo")
    func redirectRegistration() {
        for good in ["https://app.example/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "http://localhost:3000/callback", "com.example.app:/oauth"] {
            #expect((try? RedirectURI.check(good)) != nil, "\(good)")
        }
        for bad in [
            "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>", "file:///etc/passwd", "vbscript:x", "http://evil.example/cb",
            "https://app.example/cb#frag", "https://user@app.example/cb", "https://app.example/c b", "https://app.example/\u{202E}cb", "relative/cb",
            "myapp:/cb", "", String(repeating: "a", count: 3000), "http://127.attacker.example/cb", "http://127.0.0.1.nip.io/cb",
        ] {
            #expect((try? RedirectURI.check(bad)) == nil, "\(bad)")
        }
    }

    @Test("redirect URI matching is exact, except the port of a loopback IP literal (RFC 8252 §7.3)")
    func redirectMatching() {
        let registered = ["http://127.0.0.1/cb", "https://app.example/cb"]
        #expect(RedirectURI.matches("https://app.example/cb", registered: registered))
        #expect(RedirectURI.matches("http://127.0.0.1:51234/cb", registered: registered))
        #expect(!RedirectURI.matches("https://app.example/cb/", registered: registered))
        #expect(!RedirectURI.matches("https://app.example:444/cb", registered: registered))
        #expect(!RedirectURI.matches("http://127.0.0.1:51234/other", registered: registered))
        #expect(!RedirectURI.matches("https://app.example/cb?x=1", registered: registered))
        #expect(!RedirectURI.matches("http://localhost:51234/cb", registered: ["http://localhost:3000/cb"]), "localhost is compared exactly")
    }

    @Test("form bodies: a repeated parameter, a bad escape, a NUL or an oversized value is refused; empty values count as absent")
    func forms() throws {
        let form = try FormBody(parsing: "grant_type=authorization_code&code=a%2Bb+c&empty=")
        #expect(form.value("code") == "a+b c")
        #expect(form.value("empty") == nil)
        #expect(throws: FormBody.Problem.repeated("code")) { try FormBody(parsing: "code=1&code=2") }
        #expect(throws: FormBody.Problem.self) { try FormBody(parsing: "code=%zz") }
        #expect(throws: FormBody.Problem.self) { try FormBody(parsing: "code=a%00b") }
        #expect(throws: FormBody.Problem.self) { try FormBody(parsing: "state=" + String(repeating: "x", count: 9000)) }
        #expect(throws: FormBody.Problem.tooLarge) { try FormBody(parsing: String(repeating: "a=1&", count: 4100)) }
        #expect(FormBody.encode([("state", "a b&c=d"), ("iss", "http://x")]) == "state=a%20b%26c%3Dd&iss=http%3A%2F%2Fx")
    }

    static func template(_ name: String, _ mission: [String: JSONValue], ttl: Int? = nil) throws -> MissionTemplate {
        var object: [String: JSONValue] = ["name": .string(name), "mission": .object(mission)]
        if let ttl { object["ttl_s"] = .number(JSONNumber(ttl)) }
        return try MissionTemplate.parse(object, workspace: "default")
    }

    @Test("templates: names are scope tokens, missions are validated naming the field, agent_id and mission are optional")
    func templateParsing() throws {
        let t = try Self.template("time.read", ["allowed_tools": .array([.string("get_time")])])
        #expect(t.mission.agent_id == MissionTemplate.anyAgent)
        #expect(t.ttl_s == 900)
        #expect(t.grantable(toAgent: "any"))
        for bad in ["offline_access", "has space", "", String(repeating: "a", count: 65), "quote\""] {
            #expect(throws: MissionError.self) { try Self.template(bad, [:]) }
        }
        #expect(throws: MissionError.invalid("unknown mission field allowed_tool")) { try Self.template("x", ["allowed_tool": .array([])]) }
        #expect(throws: MissionError.self) { try Self.template("x", [:], ttl: 1) }
        let pinned = try Self.template("pinned", ["agent_id": .string("agt_1"), "allowed_tools": .array([.string("a")])])
        #expect(pinned.grantable(toAgent: "agt_1") && !pinned.grantable(toAgent: "agt_2"))
    }

    @Test("templates granted together: tools are a union; budget, duration and delegation take the narrowest; different resource scopes or tool constraints are refused")
    func combine() throws {
        let read = try Self.template("read", ["allowed_tools": .array([.string("get_time")]), "max_tool_calls": .number(JSONNumber(10)), "resource_scope": .array([.string("/a/*")])], ttl: 300)
        let echo = try Self.template("echo", [
            "tools": .object(["echo": .object(["arguments": .object(["text": .object(["one_of": .array([.string("hi")])])])])]),
            "forbidden_tools": .array([.string("get_time"), .string("rm")]), "max_tool_calls": .number(JSONNumber(5)),
            "delegation_allowed": .bool(true), "max_delegation_depth": .number(JSONNumber(2)),
        ])
        let (mission, ttl) = try MissionTemplate.combine([read, echo], agentID: "client")
        #expect(Set(mission.allowed_tools) == ["get_time"])
        #expect(mission.tools?["echo"] != nil)
        #expect(mission.forbidden_tools == ["rm"], "a tool another granted template allows is not forbidden")
        #expect(mission.max_tool_calls == 5, "the smallest budget: no template's tools get more calls than it allowed")
        #expect(mission.resource_scope == ["/a/*"], "an unrestricted template does not lift another's restriction")
        #expect(!mission.delegation_allowed && mission.max_delegation_depth == 0, "delegation only when every template allows it")
        #expect(ttl == 300)
        let open = try Self.template("open", ["allowed_tools": .array([.string("echo")])])
        let widened = try MissionTemplate.combine([echo, open], agentID: "c").mission
        #expect(widened.tools == nil && widened.allowed_tools == ["echo"], "a plain grant of a tool wins over a constrained one")
        #expect(widened.max_tool_calls == 5, "unlimited in one template does not lift another's budget")
        let elsewhere = try Self.template("elsewhere", ["allowed_tools": .array([.string("x")]), "resource_scope": .array([.string("/b/*")])])
        #expect(throws: MissionTemplate.CombineFailure.conflictingScope(first: "read", second: "elsewhere")) {
            try MissionTemplate.combine([read, elsewhere], agentID: "c")
        }
        let other = try Self.template("echo2", [
            "tools": .object(["echo": .object(["arguments": .object(["text": .object(["one_of": .array([.string("ho")])])])])])
        ])
        #expect(throws: MissionTemplate.CombineFailure.conflictingTool(tool: "echo", first: "echo", second: "echo2")) {
            try MissionTemplate.combine([echo, other], agentID: "c")
        }
        #expect(throws: MissionTemplate.CombineFailure.empty) { try MissionTemplate.combine([], agentID: "c") }
    }

    @Test("client registration: redirect URIs required and checked, methods and grants bounded, metadata documents are public clients")
    func registration() throws {
        let ok = try ClientRegistration.parse(["redirect_uris": .array([.string("http://127.0.0.1:9/cb")]), "token_endpoint_auth_method": .string("none")])
        #expect(ok.grant_types == ["authorization_code", "refresh_token"])
        #expect(throws: OAuthFailure.self) { try ClientRegistration.parse([:]) }
        #expect(throws: OAuthFailure.self) { try ClientRegistration.parse(["redirect_uris": .array([.string("javascript:alert(1)")])]) }
        #expect(throws: OAuthFailure.self) { try ClientRegistration.parse(["redirect_uris": .array((0..<9).map { .string("https://a.example/\($0)") })]) }
        #expect(throws: OAuthFailure.self) {
            try ClientRegistration.parse(["redirect_uris": .array([.string("https://a.example/cb")]), "grant_types": .array([.string("client_credentials")])])
        }
        #expect(throws: OAuthFailure.self) {
            try ClientRegistration.parse(["redirect_uris": .array([.string("https://a.example/cb")]), "client_name": .string(String(repeating: "n", count: 300))])
        }
        #expect(throws: OAuthFailure.self) {
            try ClientRegistration.parse(["redirect_uris": .array([.string("https://a.example/cb")]), "token_endpoint_auth_method": .string("client_secret_post")], forMetadataDocument: true)
        }
    }

    @Test("private_key_jwt assertions: signature by the agent key, iss = sub = client, aud this server, short exp, a jti")
    func assertion() throws {
        let key = Ed25519KeyPair()
        let foreign = try ForeignPublicKey(jwk: key.publicKey.publicJWK)
        let now: Int64 = 1_800_000_000
        func sign(_ claims: [String: JSONValue], with signer: Ed25519KeyPair = key) throws -> String {
            let header = Base64URL.encode(Array(#"{"alg":"EdDSA","typ":"JWT"}"#.utf8))
            let payload = Base64URL.encode(Array(CanonicalJSON.serialize(.object(claims)).utf8))
            let signature = try signer.privateKey.signature(for: Array("\(header).\(payload)".utf8))
            return "\(header).\(payload).\(Base64URL.encode(signature))"
        }
        let good: [String: JSONValue] = [
            "iss": .string("agt_1"), "sub": .string("agt_1"), "aud": .string("http://as.example/"), "exp": .number(JSONNumber(Int(now + 60))),
            "iat": .number(JSONNumber(Int(now))), "jti": .string("j1"),
        ]
        let audiences: Set<String> = ["http://as.example", "http://as.example/", "http://as.example/oauth/token"]
        let verified = try ClientAssertion.verify(try sign(good), clientID: "agt_1", key: foreign, audiences: audiences, now: now)
        #expect(verified.jti == "j1")
        #expect(ClientAssertion.claimedClient(try sign(good)) == "agt_1")
        var cases: [(String, [String: JSONValue])] = []
        var c = good; c["sub"] = .string("agt_2"); cases.append(("sub differs", c))
        c = good; c["aud"] = .string("http://other.example"); cases.append(("foreign aud", c))
        c = good; c["exp"] = .number(JSONNumber(Int(now - 100))); cases.append(("expired", c))
        c = good; c["exp"] = .number(JSONNumber(Int(now + 3600))); cases.append(("too long", c))
        c = good; c["jti"] = nil; cases.append(("no jti", c))
        c = good; c["iat"] = .number(JSONNumber(Int(now + 600))); cases.append(("iat in the future", c))
        for (name, claims) in cases {
            #expect(throws: OAuthFailure.self, "\(name)") { try ClientAssertion.verify(try sign(claims), clientID: "agt_1", key: foreign, audiences: audiences, now: now) }
        }
        #expect(throws: OAuthFailure.self, "another key") {
            try ClientAssertion.verify(try sign(good, with: Ed25519KeyPair()), clientID: "agt_1", key: foreign, audiences: audiences, now: now)
        }
    }
}
