import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore

@testable import TesseraServer

@Suite("OpenAPI document")
struct OpenAPITests {
    static var repositoryCopy: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.json")
    }

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    /// `METHOD /path/:param` for every operation of the document.
    static func documentedRoutes() throws -> Set<String> {
        let paths = try #require(try document()["paths"] as? [String: [String: Any]])
        var out = Set<String>()
        for (path, item) in paths {
            let routerPath = Self.normalised(path)
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                out.insert("\(method.uppercased()) \(routerPath)")
            }
        }
        return out
    }

    /// `/a/{x}/b` and `/a/:y/b` alike become `/a/:/b`: parameter names may differ (the document
    /// says `{did}` where the router's segment serves ids and DIDs alike).
    static func normalised(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") || $0.hasPrefix("{") ? ":" : String($0) }.joined(separator: "/")
    }

    @Test("every route the router declares is in the document, and the document describes no route that does not exist")
    func routesMatch() async throws {
        // With an MCP upstream configured, so the gateway's routes are declared too.
        let environment = try await makeEnvironment { $0.mcpUpstreams = ["demo": "http://127.0.0.1:9/mcp"] }
        let (_, declarations) = try buildRouter(environment)
        let declared = Set(declarations.map { "\($0.method.rawValue) \(Self.normalised($0.path))" })
        let documented = try Self.documentedRoutes()
        #expect(declared.subtracting(documented).sorted() == [], "routes missing from the document")
        #expect(documented.subtracting(declared).sorted() == [], "documented routes the server does not have")
        // A route that needs a credential says so in the document.
        let paths = try #require(try Self.document()["paths"] as? [String: [String: [String: Any]]])
        let byShape = Dictionary(uniqueKeysWithValues: paths.map { (Self.normalised($0.key), $0.value) })
        for declaration in declarations where declaration.access != .anonymous {
            let operation = try #require(byShape[Self.normalised(declaration.path)]?[declaration.method.rawValue.lowercased()], "\(declaration.path)")
            let security = try #require(operation["security"] as? [[String: Any]], "\(declaration.path)")
            #expect(!security.isEmpty && !security.contains { $0.isEmpty }, "\(declaration.method) \(declaration.path) needs a credential")
        }
    }

    @Test("the document is OpenAPI 3.1, the repository's copy is the served one, and GET /openapi.json serves it anonymously")
    func served() async throws {
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        #expect((document["info"] as? [String: Any])?["version"] as? String == TesseraVersion.current)
        let copy = try String(contentsOf: Self.repositoryCopy, encoding: .utf8)
        #expect(copy == OpenAPIDocument.json, "docs/openapi.json differs from the served document: run python3 scripts/openapi/generate.py")
        let app = try buildApplication(try await makeEnvironment())
        try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == OpenAPIDocument.json)
            }
        }
    }

    @Test("the IAM body is a oneOf on operation covering every operation the server accepts")
    func iamOperations() throws {
        let schemas = try #require((try Self.document()["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let request = try #require(schemas["IAMRequest"] as? [String: Any])
        let mapping = try #require((request["discriminator"] as? [String: Any])?["mapping"] as? [String: String])
        #expect(Set(mapping.keys) == Set(IAMService.operations.keys))
    }

    /// The members a wire type sends when every optional member is set.
    static func members(_ value: some Encodable) throws -> Set<String> {
        let object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value)) as? [String: Any])
        return Set(object.keys)
    }

    /// A schema's members, through `$ref` and across `anyOf`/`oneOf` alternatives.
    static func documentedMembers(_ name: String, in schemas: [String: Any]) throws -> Set<String> {
        let schema = try #require(schemas[name] as? [String: Any], "no schema \(name)")
        var members = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
        for alternative in (schema["anyOf"] as? [[String: Any]] ?? []) + (schema["oneOf"] as? [[String: Any]] ?? []) {
            if let ref = alternative["$ref"] as? String {
                members.formUnion(try documentedMembers(String(ref.split(separator: "/").last!), in: schemas))
            } else {
                members.formUnion((alternative["properties"] as? [String: Any] ?? [:]).keys)
            }
        }
        return members
    }

    @Test("the Core wire types and the document's schemas name the same members (one contract; a drift on either side fails here)")
    func wireTypesMatchSchemas() throws {
        let schemas = try #require((try Self.document()["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let jwk = JWK(kty: "OKP", crv: "Ed25519", x: "x")
        let pairs: [(schemas: [String], members: Set<String>, undocumented: Set<String>)] = [
            (["EvaluateRequest"], try Self.members(GovernanceWire.EvaluateRequest(session_id: "s", tool_name: "t", arguments: [:], request_id: "r", pop: "p")), []),
            (["IssueRequest", "AATIssueRequest"], try Self.members(GovernanceWire.IssueRequest(
                mission: [:], ttl_s: 1, cnf_jkt: "agent", audience: ["https://a"], format: "aat", holder_key: jwk)), []),
            (["TokenRequest"], try Self.members(GovernanceWire.VerifyRequest(token: "t")), []),
            (["StartRequest"], try Self.members(GovernanceWire.StartRequest(token: "t", proof: "p", token_type: "passport")).union(
                try Self.members(GovernanceWire.AATStartRequest(token: "t", chain: [], require_pop: true, pop: "p"))), []),
            (["EndRequest"], try Self.members(GovernanceWire.EndRequest(session_id: "s", pop: "p")), []),
            (["SessionRequest"], try Self.members(GovernanceWire.SessionRequest(session: "s", pop: "p")), []),
            (["RevokeRequest"], try Self.members(GovernanceWire.RevokeRequest(session_id: "s", jti: "j")), []),
            // did: described in prose, not as a member: its only valid values depend on the key and
            // this registry's host, which a schema cannot say, so a fuzzer would send invalid ones.
            (["RegisterAgentRequest"], try Self.members(RegistryWire.RegisterAgentRequest(
                name: "n", public_jwk: jwk, did: "d", domain: "d", workspace: "w")), ["did"]),
            (["UpdateAgentRequest"], try Self.members(RegistryWire.UpdateAgentRequest(name: "n", domain: "d", status: "active")), []),
            // exp_s, aud and badge_ttl: Tessera's earlier names for ttl and badge_aud, still read, no longer documented.
            (["IssueBadgeRequest"], try Self.members(RegistryWire.IssueBadgeRequest(
                mode: "ial0", ttl: 1, badge_ttl: 1, exp_s: 1, badge_aud: [], aud: [], domain: "d", challenge_id: "c", proof_jws: "p")),
             ["exp_s", "aud", "badge_ttl"]),
            (["ChallengeRequest"], try Self.members(RegistryWire.ChallengeRequest(badge_aud: [], badge_ttl: 1, challenge_ttl: 1)), []),
            (["LegacyPoPRequest"], try Self.members(RegistryWire.LegacyPoPRequest(challenge_id: "c", proof: "p")), []),
            (["RevokeBadgeRequest"], try Self.members(RegistryWire.RevokeRequest(reason: "r")), []),
            (["LoginRequest"], try Self.members(AuthWire.LoginRequest(username: "u", password: "p", workspace: "w")), []),
            (["ChangePasswordRequest"], try Self.members(AuthWire.ChangePasswordRequest(current_password: "a", new_password: "b")), []),
            (["Agent"], try Self.members(RegistryWire.Agent(
                id: "i", workspace: "w", name: "n", did: "d", public_jwk: jwk, domain: "d", status: "active", created: "c")), []),
            (["AgentList"], try Self.members(RegistryWire.AgentList(agents: [])), []),
        ]
        for pair in pairs {
            var documented = Set<String>()
            for name in pair.schemas { documented.formUnion(try Self.documentedMembers(name, in: schemas)) }
            #expect(documented == pair.members.subtracting(pair.undocumented), "\(pair.schemas): the document and the Core wire type disagree")
        }
    }
}
