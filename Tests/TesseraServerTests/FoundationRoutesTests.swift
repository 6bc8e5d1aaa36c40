import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing
import TesseraCore
import TesseraTestSupport

@testable import TesseraServer

@Suite("Foundation routes over real HTTP")
struct FoundationRoutesTests {
    func withApp(_ environment: ServerEnvironment, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try buildApplication(environment)
        try await app.test(.live) { client in try await body(client) }
    }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test("GET /health answers ok with the version and a request id")
    func health() async throws {
        try await withApp(try await makeEnvironment()) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["status"] as? String == "ok")
                #expect(body["version"] as? String == TesseraVersion.current)
                #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
            }
        }
    }

    @Test("the JWKS publishes the active key only, public members only")
    func jwks() async throws {
        let environment = try await makeEnvironment()
        try await withApp(environment) { client in
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                #expect(response.status == .ok)
                let set = try JSONDecoder().decode(JWKSet.self, from: Data(response.body.readableBytesView))
                let active = environment.keys.signer.kid
                #expect(set.keys.map(\.kid) == [active])
                #expect(set.keys.allSatisfy { $0.d == nil && $0.kty == "OKP" && $0.crv == "Ed25519" })
            }
        }
    }

    @Test("after rotation the old key still verifies and is published until its grace ends")
    func rotationGrace() async throws {
        let clock = ManualClock()
        let environment = try await makeEnvironment(clock: clock) { $0.keyGraceSeconds = 3600 }
        struct Claims: JWSClaims { var iss: String?; var iat: Int64?; var exp: Int64? }
        let now = clock.now().unixSeconds
        let oldToken = try environment.keys.sign(Claims(iss: "t", iat: now, exp: now + 7200), type: "t+jwt")
        let oldKid = environment.keys.signer.kid
        let newKid = try await environment.keys.rotate().kid
        #expect(oldKid != newKid)
        let policy = JWSPolicy(type: "t+jwt")
        _ = try await environment.keys.verify(oldToken, as: Claims.self, policy: policy)
        #expect(environment.keys.jwks().keys.map(\.kid) == [newKid, oldKid])

        clock.advance(by: 3601)
        try await environment.keys.refresh()
        #expect(environment.keys.jwks().keys.map(\.kid) == [newKid])
        await #expect(throws: JWSError.unknownKeyID(oldKid)) {
            _ = try await environment.keys.verify(oldToken, as: Claims.self, policy: policy)
        }
    }

    @Test("a rotation by another process on the same store is picked up by refresh")
    func rotationSeenAcrossProcesses() async throws {
        let directory = makeTemporaryDirectory()
        let a = try await makeEnvironment(directory: directory)
        let b = try await makeEnvironment(directory: directory)
        #expect(a.keys.signer.kid == b.keys.signer.kid)
        let rotated = try await a.keys.rotate().kid
        try await b.keys.refresh()
        #expect(b.keys.signer.kid == rotated)
    }

    @Test("unknown paths give the uniform 404 body")
    func notFound() async throws {
        try await withApp(try await makeEnvironment()) { client in
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body) == #"{"error":{"message":"not found","type":"not-found"}}"#)
            }
        }
    }

    @Test("a body over 1 MiB is refused with 413 before it is read")
    func bodyLimit() async throws {
        try await withApp(try await makeEnvironment()) { client in
            let big = ByteBuffer(repeating: UInt8(ascii: "a"), count: (1 << 20) + 1)
            try await client.execute(uri: "/health", method: .post, body: big) { response in
                #expect(response.status == .contentTooLarge)
                let body = try json(response.body)
                #expect(body["error"] != nil)
            }
        }
    }

    @Test("/metrics exposes request counts and latency histograms per route")
    func metrics() async throws {
        let fixture = try await IAMFixture.make()
        try await withApp(fixture.environment) { client in
            try await client.execute(uri: "/health", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(fixture.adminKey)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"hb_requests{http_route="/health""#))
                #expect(text.contains("http_server_request_duration_bucket"))
            }
        }
    }

    @Test("every route declares its access; only the public surface is anonymous")
    func declarations() async throws {
        let (_, routes) = try buildRouter(try await makeEnvironment())
        let anonymous = Set(routes.filter { $0.access == .anonymous }.map(\.path))
        #expect(anonymous == [
            "/health", "/.well-known/jwks.json", "/openapi.json", "/api/v1/auth/bootstrap", "/api/v1/auth/bootstrap-status",
            "/api/v1/auth/login",
            // The console's static files (it signs in through the API like any client).
            "/console", "/console/assets/:name",
            // Governance: the passport (or the session id it started) is the credential.
            "/verify", "/session/start", "/sessions", "/evaluate", "/delegate", "/session/end", "/end", "/attest",
            // Badges: issuance and challenges authenticate in the handler (an IAL-1 request by its
            // proof, RFC-003 §5.2.1; IAL-0 and challenges by a credential, answered in the RFCs'
            // error shape); status, status lists and DID documents are public (RFC-002 §7.5, §6.3).
            "/v1/agents/:id/badge", "/v1/agents/:id/badge/pop", "/v1/badges/status",
            "/v1/badges/:jti/status", "/v1/agents/:id/status", "/v1/status-lists/:list", "/agents/:slug/did.json",
            // The AuthZEN PDP metadata: a discovery document, like the JWKS.
            "/.well-known/authzen-configuration",
            // The OAuth authorization server: its metadata, and endpoints whose clients (or the
            // person, on the sign-in page) authenticate in the handler (RFC 6749 §2.3).
            "/.well-known/oauth-authorization-server", "/oauth/authorize", "/oauth/token", "/oauth/register", "/oauth/revoke",
        ])
        #expect(routes.first { $0.path == "/oauth/introspect" }?.access == .capability("tokens:introspect"))
        #expect(routes.first { $0.path == "/mission-templates" && $0.method == .post }?.access == .capability("oauth:write"))
        #expect(routes.first { $0.path == "/access/v1/evaluation" }?.access == .capability("decisions:evaluate"))
        #expect(routes.first { $0.path == "/access/v1/evaluations" }?.access == .capability("decisions:evaluate"))
        #expect(routes.first { $0.path == "/issue" }?.access == .capability("passports:issue"))
        #expect(routes.first { $0.path == "/revoke" }?.access == .capability("passports:revoke"))
        #expect(routes.first { $0.path == "/receipts" }?.access == .capability("receipts:read"))
        #expect(routes.first { $0.path == "/metrics" }?.access == .capability("metrics:read"))
        #expect(routes.first { $0.path == "/api/v1/iam" }?.access == .authenticated)
        // Routes whose handler checks a credential say so (and which).
        #expect(routes.first { $0.path == "/v1/agents/:id/badge/challenge" }.map { if case .handler = $0.access { true } else { false } } == true)
    }

    @Test("a route that needs authentication cannot be registered without an authorizer")
    func unenforceableRoute() throws {
        let routes = SecuredRouter(router: Router(context: TesseraRequestContext.self), authorizer: nil)
        #expect(throws: RouteRegistrationError.self) {
            try routes.on("/secret", method: .get, access: .capability("users:read")) { _, _ in "no" }
        }
        #expect(throws: RouteRegistrationError.self) {
            try routes.on("/secret", method: .get, access: .capability("nocolon")) { _, _ in "no" }
        }
    }
}

@Suite("JSON body limits")
struct JSONLimitsTests {
    struct Payload: Decodable { var name: String; var count: Int }

    func app() -> some ApplicationProtocol {
        let router = Router(context: TesseraRequestContext.self)
        router.addMiddleware { RequestGuardMiddleware() }
        router.post("/echo") { request, context -> String in
            var request = request
            let payload = try await request.decodeJSON(as: Payload.self, context: context)
            return "\(payload.name):\(payload.count)"
        }
        return Application(router: router)
    }

    @Test("depth is counted outside strings (the strict parser's bound)")
    func depth() {
        #expect(throws: Never.self) { try StrictJSON.parse(Array(#"{"a":[1,{"b":"[[[["}]}"#.utf8), maximumDepth: 3) }
        #expect(throws: StrictJSON.Failure.tooDeep(limit: 2)) { try StrictJSON.parse(Array(#"{"a":[1,{"b":"[[[["}]}"#.utf8), maximumDepth: 2) }
        #expect(throws: Never.self) { try StrictJSON.parse(Array(#""\"[""#.utf8), maximumDepth: 0) }
    }

    @Test("nesting deeper than 32 is a 400; bad fields are named; good input decodes")
    func limits() async throws {
        try await app().test(.router) { client in
            let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: deep)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("nested deeper than 32"))
            }
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: #"{"name":"x","count":"three"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("count"))
            }
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: #"{"count":3}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("missing field name"))
            }
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: "not json")) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/echo", method: .post, body: ByteBuffer(string: #"{"name":"x","count":3}"#)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "x:3")
            }
        }
    }
}

@Suite("Configuration precedence")
struct ConfigurationTests {
    @Test("flag > environment > file > default, per setting")
    func precedence() throws {
        let file = try ServerConfiguration.Layer.file(
            Data(#"{"host":"0.0.0.0","port":9000,"log_level":"debug","key_grace_seconds":120}"#.utf8), path: "c.json")
        let environment = try ServerConfiguration.Layer.environment(["TESSERA_PORT": "9100", "TESSERA_LOG_LEVEL": "warning"])
        let flags = ServerConfiguration.Layer(port: 9200)
        let config = try ServerConfiguration.resolve(flags: flags, environment: environment, file: file)
        #expect(config.port == 9200)
        #expect(config.logLevel == "warning")
        #expect(config.host == "0.0.0.0")
        #expect(config.keyGraceSeconds == 120)
        #expect(config.keyRefreshSeconds == ServerConfiguration().keyRefreshSeconds)
    }

    @Test("bad values are errors that name the setting")
    func errors() {
        #expect(throws: ConfigurationError.invalid(name: "TESSERA_PORT", value: "http")) {
            try ServerConfiguration.Layer.environment(["TESSERA_PORT": "http"])
        }
        #expect(throws: ConfigurationError.unknownKey(path: "c.json", key: "prot")) {
            try ServerConfiguration.Layer.file(Data(#"{"prot":1}"#.utf8), path: "c.json")
        }
        #expect(throws: ConfigurationError.invalid(name: "port", value: "70000")) {
            try ServerConfiguration.resolve(flags: .init(port: 70000), environment: .init(), file: .init())
        }
        #expect(throws: ConfigurationError.invalid(name: "log_level", value: "loud")) {
            try ServerConfiguration.resolve(flags: .init(logLevel: "loud"), environment: .init(), file: .init())
        }
    }

    @Test("AAT settings: trust anchors, mission issuers and origins from file, environment and flags; a bad origin names the setting")
    func aatSettings() throws {
        let file = try ServerConfiguration.Layer.file(
            Data(#"{"aat_trust_anchors":{"https://tenuo.example/issuer":"/keys/root.jwk"},"md_issuers":{"md":"/keys/md.jwks"},"md_origins":["https://issuer.example"],"aat_pop_opt_out":true}"#.utf8),
            path: "c.json")
        let environment = try ServerConfiguration.Layer.environment([
            "TESSERA_MD_ORIGINS": "https://a.example,http://127.0.0.1:9000", "TESSERA_AAT_POP_OPT_OUT": "0",
            "TESSERA_MD_ISSUERS": "md=https://keys.example/jwks?v=1",
        ])
        var flags = ServerConfiguration.Layer()
        flags.aatTrustAnchors = try ServerConfiguration.parseIssuerKeys(["https://other.example=/keys/other.jwk"], name: "--aat-trust-anchor")
        let config = try ServerConfiguration.resolve(flags: flags, environment: environment, file: file)
        #expect(config.aatTrustAnchors == ["https://other.example": "/keys/other.jwk"])
        #expect(config.mdIssuers == ["md": "https://keys.example/jwks?v=1"])
        #expect(config.mdOrigins == ["https://a.example", "http://127.0.0.1:9000"])
        #expect(config.aatPopOptOut == false)
        #expect(config.summary.contains { $0.0 == "md_origins" && $0.1 == "https://a.example,http://127.0.0.1:9000" })
        var bad = ServerConfiguration.Layer()
        bad.mdOrigins = ["http://issuer.example"]
        #expect(throws: ConfigurationError.invalid(name: "md_origins", value: "http://issuer.example (expected https://host[:port], or http:// with a loopback address)")) {
            try ServerConfiguration.resolve(flags: bad, environment: .init(), file: .init())
        }
        #expect(throws: ConfigurationError.invalid(name: "TESSERA_AAT_POP_OPT_OUT", value: "maybe")) {
            try ServerConfiguration.Layer.environment(["TESSERA_AAT_POP_OPT_OUT": "maybe"])
        }
    }
}
