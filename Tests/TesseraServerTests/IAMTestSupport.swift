import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TesseraClient
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// An IAM test fixture: a bootstrapped server environment on a real SQLite file (PBKDF2 lowered
/// to keep the suite fast; the binary's own 600,000 is checked end to end).
struct IAMFixture {
    let environment: ServerEnvironment
    let adminKey: String
    let adminID: String

    static func make(
        directory: String = makeTemporaryDirectory(), clock: any TesseraClock = SystemClock(), audit: AuditLog = .disabled,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> IAMFixture {
        let environment = try await makeEnvironment(clock: clock, directory: directory, audit: audit) { config in
            config.bootstrapMode = "bootstrap"
            config.passwordIterations = 1_000
            configure(&config)
        }
        try await environment.prepareBootstrap()
        let response = try await environment.iam.bootstrap()
        return IAMFixture(
            environment: environment, adminKey: try #require(response.bootstrap_admin_api_key),
            adminID: try #require(response.bootstrap_admin_user_id))
    }

    func withClient(_ body: @Sendable (IAMClient) async throws -> Void) async throws {
        let app = try buildApplication(environment)
        try await app.test(.live) { client in try await body(IAMClient(client: client)) }
    }
}

/// JSON calls against the live test server.
struct IAMClient: Sendable {
    let client: any TestClientProtocol

    struct Reply: Sendable {
        var status: HTTPResponse.Status
        var body: String
        var headers: HTTPFields

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        }

        var errorType: String? { (json["error"] as? [String: Any])?["type"] as? String }
    }

    func post(_ path: String, token: String? = nil, json: [String: Any]) async throws -> Reply {
        try await post(path, token: token, raw: try JSONSerialization.data(withJSONObject: json))
    }

    /// With extra headers (`X-Capiscio-Registry-Key`, `X-Capiscio-Badge`…).
    func post(_ path: String, headers extra: [String: String], json: [String: Any]) async throws -> Reply {
        try await post(path, token: nil, raw: try JSONSerialization.data(withJSONObject: json), headers: extra)
    }

    func post(_ path: String, token: String? = nil, raw: Data, headers extra: [String: String] = [:]) async throws -> Reply {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let token { headers[.authorization] = "Bearer \(token)" }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: raw)) { response in
            Reply(status: response.status, body: String(buffer: response.body), headers: response.headers)
        }
    }

    func patch(_ path: String, token: String? = nil, json: [String: Any]) async throws -> Reply {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let token { headers[.authorization] = "Bearer \(token)" }
        let body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        return try await client.execute(uri: path, method: .patch, headers: headers, body: body) { response in
            Reply(status: response.status, body: String(buffer: response.body), headers: response.headers)
        }
    }

    func get(_ path: String, token: String? = nil) async throws -> Reply {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: .get, headers: headers) { response in
            Reply(status: response.status, body: String(buffer: response.body), headers: response.headers)
        }
    }

    func iam(_ token: String?, _ request: [String: Any]) async throws -> Reply {
        try await post("/api/v1/iam", token: token, json: request)
    }

    /// Creates a user and returns its id; fails the test on any error.
    func createUser(_ admin: String, _ username: String, password: String? = "correct horse battery", roles: [String], workspace: String = "default") async throws -> String {
        var user: [String: Any] = ["username": username, "roles": roles]
        if let password { user["password"] = password }
        let reply = try await iam(admin, ["operation": "create-user", "workspace": workspace, "user": user])
        #expect(reply.status == .ok, "\(reply.body)")
        return try #require((reply.json["user"] as? [String: Any])?["id"] as? String)
    }

    func login(_ username: String, password: String = "correct horse battery", workspace: String? = nil) async throws -> Reply {
        var body: [String: Any] = ["username": username, "password": password]
        if let workspace { body["workspace"] = workspace }
        return try await post("/api/v1/auth/login", json: body)
    }

    func jwt(_ username: String, password: String = "correct horse battery", workspace: String? = nil) async throws -> String {
        let reply = try await login(username, password: password, workspace: workspace)
        #expect(reply.status == .ok, "\(reply.body)")
        return try #require(reply.json["jwt"] as? String)
    }

    func apiKey(_ token: String, userID: String, name: String = "k", expires: String? = nil) async throws -> (id: String, plaintext: String) {
        var key: [String: Any] = ["user_id": userID, "name": name]
        if let expires { key["expires"] = expires }
        let reply = try await iam(token, ["operation": "create-api-key", "key": key])
        #expect(reply.status == .ok, "\(reply.body)")
        let record = try #require(reply.json["api_key"] as? [String: Any])
        return (try #require(record["id"] as? String), try #require(reply.json["api_key_plaintext"] as? String))
    }
}

let authFailureBody = #"{"error":{"message":"auth failure","type":"auth-failed"}}"#
let accessDeniedBody = #"{"error":{"message":"access denied","type":"access-denied"}}"#

extension IAMClient {
    /// Registers an agent with `key` (201 expected) and returns its id.
    func registerAgent(_ admin: String, key: Ed25519KeyPair, name: String = "bot", extra: [String: Any] = [:]) async throws -> String {
        var body: [String: Any] = ["name": name, "public_jwk": ["kty": "OKP", "crv": "Ed25519", "x": key.publicKey.jwk.x!]]
        body.merge(extra) { $1 }
        let reply = try await post("/v1/agents", token: admin, json: body)
        #expect(reply.status == .created, "\(reply.body)")
        return try #require(reply.json["id"] as? String)
    }
}

/// A live registry with one registered agent whose keys are in a folder: the body gets the
/// registry's URL, the agent id, the keys folder (`private.jwk`) and the fixture.
func withAgentRegistry(named name: String, _ body: @Sendable (String, String, String, IAMFixture) async throws -> Void) async throws {
    let fixture = try await IAMFixture.make { $0.badgeMinimumLifetimeSeconds = 1 }
    try await buildApplication(fixture.environment).test(.live) { raw in
        let base = "http://127.0.0.1:\(try #require(raw.port))"
        let keys = makeTemporaryDirectory() + "/agent"
        let pair = Ed25519KeyPair()
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try JSONEncoder().encode(pair.privateJWK).write(to: URL(fileURLWithPath: keys + "/private.jwk"))
        let agent = try await TesseraHTTPClient(baseURL: base, token: fixture.adminKey).registerAgent(
            name: name, publicJWK: pair.publicKey.jwk, domain: nil, workspace: nil)
        try await body(base, agent.id, keys, fixture)
    }
}
