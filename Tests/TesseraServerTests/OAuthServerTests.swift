import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore
import TesseraStore

@testable import TesseraServer

/// The authorization server at the service level (the real SQLite store, the real IAM password
/// check, real passports); the end-to-end run with the official MCP SDK is scripts/oauth-e2e.
@Suite("OAuth authorization server")
struct OAuthServerTests {
    struct Fixture {
        let environment: ServerEnvironment
        let clock: ManualClock
        var oauth: OAuthService { environment.oauth }
        var issuer: String { environment.origin.current }
        var resource: String { issuer + "/mcp/time" }
        let admin: Identity
        let user: UserRecord

        static func make() async throws -> Fixture {
            let clock = ManualClock()
            let environment = try await makeEnvironment(clock: clock) {
                $0.mcpUpstreams = ["time": "http://127.0.0.1:9/mcp"]
                $0.passwordIterations = 1_000
            }
            let now = clock.now()
            let hash = try PasswordHasher(iterations: 1_000).hash("correct horse battery")
            _ = try await environment.store.bootstrap(
                workspace: WorkspaceRecord(id: "default", name: "default", created: now),
                admin: UserRecord(id: "u-admin", username: "admin", passwordHash: hash, roles: ["admin"], defaultWorkspace: "default", created: now),
                key: APIKeyRecord(id: "k1", userID: "u-admin", name: "k", prefix: "tsk_x", hash: "h", expires: nil, created: now))
            let user = UserRecord(id: "u-alice", username: "alice", passwordHash: hash, roles: ["reader"], defaultWorkspace: "default", created: now)
            try await environment.store.createUser(user)
            let adminRecord = try #require(try await environment.store.user(id: "u-admin"))
            let admin = Identity(user: adminRecord, workspace: "default", source: .apiKey(id: "k1"))
            _ = try await environment.oauth.createTemplate(
                ["name": .string("time.read"), "mission": .object(["allowed_tools": .array([.string("get_time")])]), "resources": .array([.string("time")])],
                by: admin)
            _ = try await environment.oauth.createTemplate(
                ["name": .string("echo.write"), "mission": .object(["allowed_tools": .array([.string("echo")])])], by: admin)
            return Fixture(environment: environment, clock: clock, admin: admin, user: user)
        }

        func registerPublicClient() async throws -> OAuthWire.Client {
            try await oauth.register(["redirect_uris": .array([.string("http://127.0.0.1/cb")]), "token_endpoint_auth_method": .string("none"), "client_name": .string("IDE")], address: "10.0.0.1")
        }

        /// Sign-in and approval through the service, as the pages' forms submit them.
        func authorize(_ client: OAuthWire.Client, verifier: String, scope: String? = "time.read", state: String = "s1") async throws -> String {
            var query = [
                "response_type": "code", "client_id": client.client_id, "redirect_uri": "http://127.0.0.1:4567/cb", "state": state,
                "code_challenge": PKCE.challenge(for: verifier), "code_challenge_method": "S256", "resource": resource,
            ]
            if let scope { query["scope"] = scope }
            guard case .page(let signIn) = try await oauth.beginAuthorization(FormBody(query)), let cookie = signIn.cookie else {
                Issue.record("no sign-in page")
                return ""
            }
            let base = ["request": signIn.requestID, "csrf_token": signIn.csrf]
            guard case .page(let consent) = try await oauth.continueAuthorization(
                FormBody(base.merging(["username": "alice", "password": "correct horse battery"]) { $1 }), cookie: cookie, address: "10.0.0.2")
            else {
                Issue.record("no consent page")
                return ""
            }
            #expect(consent.kind == .consent)
            guard case .redirect(let redirect) = try await oauth.continueAuthorization(
                FormBody(["request": consent.requestID, "csrf_token": consent.csrf, "decision": "approve"]), cookie: cookie, address: "10.0.0.2")
            else {
                Issue.record("no redirect")
                return ""
            }
            #expect(redirect.uri == "http://127.0.0.1:4567/cb")
            let parameters = Dictionary(redirect.parameters, uniquingKeysWith: { a, _ in a })
            #expect(parameters["state"] == state)
            #expect(parameters["iss"] == issuer, "RFC 9207: iss on every authorization response")
            return try #require(parameters["code"])
        }

        func redeem(_ code: String, _ client: OAuthWire.Client, verifier: String) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
            try await oauth.token(
                FormBody(["grant_type": "authorization_code", "code": code, "client_id": client.client_id, "redirect_uri": "http://127.0.0.1:4567/cb", "code_verifier": verifier, "resource": resource]),
                .init(authorization: nil, dpop: [], address: nil))
        }
    }

    static let verifier = String(repeating: "v", count: 50)

    @Test("code + PKCE gives a passport for the granted template, audience the resource, sub the user; the code is single use and its replay revokes what it issued")
    func codeFlow() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        let code = try await f.authorize(client, verifier: Self.verifier)
        let tokens = try await f.redeem(code, client, verifier: Self.verifier)
        #expect(tokens.token_type == "Bearer" && tokens.scope == "time.read" && tokens.refresh_token != nil)
        let claims = try await f.environment.governance.verify(tokens.access_token)
        #expect(claims.sub == "u-alice" && claims.aud?.values == [f.resource] && claims.client_id == client.client_id)
        #expect(claims.permittedTools == ["get_time"])
        await #expect(throws: OAuthFailure.invalidGrant("the code was already used; the tokens issued from it are revoked")) {
            _ = try await f.redeem(code, client, verifier: Self.verifier)
        }
        await #expect(throws: GovernanceError.passportRevoked) { _ = try await f.environment.governance.verify(tokens.access_token) }
    }

    @Test("a wrong verifier, another client, another redirect URI, another resource or an expired code is invalid_grant / invalid_target")
    func codeBindings() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        let other = try await f.registerPublicClient()
        var code = try await f.authorize(client, verifier: Self.verifier)
        await #expect(throws: OAuthFailure.invalidGrant("code_verifier does not match the code_challenge")) {
            _ = try await f.redeem(code, client, verifier: String(repeating: "w", count: 50))
        }
        code = try await f.authorize(client, verifier: Self.verifier)
        await #expect(throws: OAuthFailure.invalidGrant("the code was issued to another client")) { _ = try await f.redeem(code, other, verifier: Self.verifier) }
        code = try await f.authorize(client, verifier: Self.verifier)
        await #expect(throws: OAuthFailure.self) {
            _ = try await f.oauth.token(
                FormBody(["grant_type": "authorization_code", "code": code, "client_id": client.client_id, "redirect_uri": "http://127.0.0.1:4567/other", "code_verifier": Self.verifier]),
                .init(authorization: nil, dpop: [], address: nil))
        }
        code = try await f.authorize(client, verifier: Self.verifier)
        await #expect(throws: OAuthFailure.invalidTarget("resource must be the one this grant was made for")) {
            _ = try await f.oauth.token(
                FormBody(["grant_type": "authorization_code", "code": code, "client_id": client.client_id, "redirect_uri": "http://127.0.0.1:4567/cb", "code_verifier": Self.verifier, "resource": f.issuer + "/mcp/other"]),
                .init(authorization: nil, dpop: [], address: nil))
        }
        code = try await f.authorize(client, verifier: Self.verifier)
        f.clock.advance(by: 61)
        await #expect(throws: OAuthFailure.invalidGrant("the code is unknown or expired")) { _ = try await f.redeem(code, client, verifier: Self.verifier) }
    }

    @Test("refresh tokens rotate; reusing one ends the whole family and revokes its passports")
    func refreshRotation() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        let first = try await f.redeem(try await f.authorize(client, verifier: Self.verifier), client, verifier: Self.verifier)
        func refresh(_ token: String) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
            try await f.oauth.token(FormBody(["grant_type": "refresh_token", "refresh_token": token, "client_id": client.client_id]), .init(authorization: nil, dpop: [], address: nil))
        }
        let second = try await refresh(try #require(first.refresh_token))
        #expect(second.refresh_token != first.refresh_token)
        #expect(try await f.oauth.grants(by: Identity(user: f.user, workspace: "default", source: .apiKey(id: "x"))).count == 1)
        await #expect(throws: OAuthFailure.self) { _ = try await refresh(try #require(first.refresh_token)) }
        await #expect(throws: OAuthFailure.invalidGrant("the refresh token is unknown, expired or revoked")) { _ = try await refresh(try #require(second.refresh_token)) }
        await #expect(throws: GovernanceError.passportRevoked) { _ = try await f.environment.governance.verify(second.access_token) }
    }

    @Test("disabling the user, revoking the passport or deleting the client ends refresh")
    func refreshEnds() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        func fresh() async throws -> OAuthWire.TokenResponse { try await f.redeem(try await f.authorize(client, verifier: Self.verifier), client, verifier: Self.verifier) }
        func refresh(_ token: String?) async throws(OAuthFailure) {
            _ = try await f.oauth.token(FormBody(["grant_type": "refresh_token", "refresh_token": token ?? "", "client_id": client.client_id]), .init(authorization: nil, dpop: [], address: nil))
        }
        let revoked = try await fresh()
        let claims = try await f.environment.governance.verify(revoked.access_token)
        try await f.environment.governance.revoke(jti: claims.jti, by: f.admin)
        await #expect(throws: OAuthFailure.invalidGrant("the grant's passport was revoked")) { try await refresh(revoked.refresh_token) }
        let disabled = try await fresh()
        var user = f.user
        user.enabled = false
        try await f.environment.store.updateUser(user)
        await #expect(throws: OAuthFailure.invalidGrant("the user is disabled or deleted, their workspace is disabled, their password changed, or their role no longer allows this grant")) { try await refresh(disabled.refresh_token) }
        user.enabled = true
        try await f.environment.store.updateUser(user)
        let deleted = try await fresh()
        try await f.oauth.deleteClient(client.client_id, by: f.admin)
        await #expect(throws: OAuthFailure.self) { try await refresh(deleted.refresh_token) }
        await #expect(throws: GovernanceError.passportRevoked) { _ = try await f.environment.governance.verify(deleted.access_token) }
    }

    @Test("sign-in refuses what /login refuses, and a person without oauth:authorize; refresh ends when the password changes or a granted template changes")
    func personChecks() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        func signIn(_ username: String) async throws -> OAuthService.Step? {
            guard case .page(let page) = try await f.oauth.beginAuthorization(FormBody([
                "response_type": "code", "client_id": client.client_id, "redirect_uri": "http://127.0.0.1/cb", "code_challenge": PKCE.challenge(for: Self.verifier),
                "code_challenge_method": "S256", "resource": f.resource, "scope": "time.read",
            ])) else { return nil }
            guard case .page(let next) = try await f.oauth.continueAuthorization(
                FormBody(["request": page.requestID, "csrf_token": page.csrf, "username": username, "password": "correct horse battery"]), cookie: page.cookie, address: nil)
            else { return nil }
            return next
        }
        let hash = try PasswordHasher(iterations: 1_000).hash("correct horse battery")
        try await f.environment.store.createUser(UserRecord(id: "u-none", username: "nobody", passwordHash: hash, roles: [], defaultWorkspace: "default", created: f.clock.now()))
        try await f.environment.store.createUser(UserRecord(
            id: "u-temp", username: "temp", passwordHash: hash, roles: ["writer"], defaultWorkspace: "default", mustChangePassword: true, created: f.clock.now()))
        #expect(try await signIn("nobody")?.kind == .signIn, "no role: no consent page")
        #expect(try await signIn("temp")?.kind == .signIn, "a temporary password: no consent page")
        #expect(try await signIn("alice")?.kind == .consent)

        let tokens = try await f.redeem(try await f.authorize(client, verifier: Self.verifier), client, verifier: Self.verifier)
        func refresh(_ token: String?) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
            try await f.oauth.token(FormBody(["grant_type": "refresh_token", "refresh_token": token ?? "", "client_id": client.client_id]), .init(authorization: nil, dpop: [], address: nil))
        }
        // The template is replaced by a wider one under the same name: the grant drops it.
        try await f.oauth.deleteTemplate("time.read", by: f.admin)
        _ = try await f.oauth.createTemplate(
            ["name": .string("time.read"), "mission": .object(["allowed_tools": .array([.string("get_time"), .string("delete_everything")])])], by: f.admin)
        await #expect(throws: OAuthFailure.invalidGrant("none of the granted mission templates exists any more")) { _ = try await refresh(tokens.refresh_token) }

        let again = try await f.redeem(try await f.authorize(client, verifier: Self.verifier), client, verifier: Self.verifier)
        var user = f.user
        user.tokenEpoch += 1
        try await f.environment.store.updateUser(user)
        await #expect(throws: OAuthFailure.self, "a password change ends the grant") { _ = try await refresh(again.refresh_token) }
    }

    @Test("an unregistered redirect URI or unknown client is a page, never a redirect; other errors redirect with state and iss")
    func authorizationErrors() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        let base = [
            "response_type": "code", "client_id": client.client_id, "redirect_uri": "http://127.0.0.1:4567/cb", "state": "st",
            "code_challenge": PKCE.challenge(for: Self.verifier), "code_challenge_method": "S256", "resource": f.resource,
        ]
        func outcome(_ change: [String: String?]) async throws -> OAuthService.AuthorizeOutcome {
            var query = base
            for (k, v) in change { query[k] = v }
            return try await f.oauth.beginAuthorization(FormBody(query))
        }
        await #expect(throws: OAuthService.PageFailure.self) { _ = try await outcome(["redirect_uri": "https://evil.example/cb"]) }
        await #expect(throws: OAuthService.PageFailure.self) { _ = try await outcome(["client_id": "tc_unknown"]) }
        for (change, code) in [
            (["code_challenge_method": "plain"], "invalid_request"), (["code_challenge": nil], "invalid_request"), (["code_challenge_method": nil], "invalid_request"),
            (["response_type": "token"], "unsupported_response_type"), (["resource": nil], "invalid_target"), (["resource": "https://elsewhere.example/mcp"], "invalid_target"),
            (["scope": "nope"], "invalid_scope"),
        ] as [([String: String?], String)] {
            guard case .redirect(let redirect) = try await outcome(change) else {
                Issue.record("\(change) did not redirect")
                continue
            }
            let parameters = Dictionary(redirect.parameters, uniquingKeysWith: { a, _ in a })
            #expect(parameters["error"] == code, "\(change)")
            #expect(parameters["state"] == "st" && parameters["iss"] == f.issuer)
        }
    }

    @Test("the consent form needs the browser's cookie and the page's CSRF token")
    func csrf() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        guard case .page(let page) = try await f.oauth.beginAuthorization(FormBody([
            "response_type": "code", "client_id": client.client_id, "redirect_uri": "http://127.0.0.1/cb", "code_challenge": PKCE.challenge(for: Self.verifier),
            "code_challenge_method": "S256", "resource": f.resource,
        ])) else { throw OAuthFailure.invalidRequest("no page") }
        let form = FormBody(["request": page.requestID, "csrf_token": page.csrf, "username": "alice", "password": "correct horse battery"])
        await #expect(throws: OAuthService.PageFailure.self) { _ = try await f.oauth.continueAuthorization(form, cookie: nil, address: nil) }
        await #expect(throws: OAuthService.PageFailure.self) { _ = try await f.oauth.continueAuthorization(form, cookie: "forged", address: nil) }
        let wrongToken = FormBody(["request": page.requestID, "csrf_token": "x", "username": "alice", "password": "correct horse battery"])
        await #expect(throws: OAuthService.PageFailure.self) { _ = try await f.oauth.continueAuthorization(wrongToken, cookie: page.cookie, address: nil) }
        guard case .page(let wrong) = try await f.oauth.continueAuthorization(
            FormBody(["request": page.requestID, "csrf_token": page.csrf, "username": "alice", "password": "wrong"]), cookie: page.cookie, address: nil)
        else { throw OAuthFailure.invalidRequest("no page") }
        #expect(wrong.kind == .signIn && wrong.message != nil)
    }

    @Test("step-up names every scope needed at once; a tool no template offers gets none")
    func stepUp() async throws {
        let f = try await Fixture.make()
        let client = try await f.registerPublicClient()
        let tokens = try await f.redeem(try await f.authorize(client, verifier: Self.verifier), client, verifier: Self.verifier)
        let claims = try await f.environment.governance.verify(tokens.access_token)
        #expect(await f.oauth.stepUpScopes(for: claims, upstream: "time", tool: "echo", arguments: [:]) == ["time.read", "echo.write"])
        #expect(await f.oauth.stepUpScopes(for: claims, upstream: "time", tool: "rm", arguments: [:]) == nil)
    }

    @Test("HTTP: metadata, token errors as RFC 6749 JSON with no-store, resource metadata lists the offered scopes")
    func http() async throws {
        let f = try await Fixture.make()
        let app = try buildApplication(f.environment)
        try await app.test(.router) { client in
            try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get) { response in
                #expect(response.status == .ok)
                let object = try StrictJSON.object(response.body.readableBytesView)
                #expect(object["code_challenge_methods_supported"] == .array([.string("S256")]))
                #expect(object["authorization_response_iss_parameter_supported"] == .bool(true))
            }
            try await client.execute(uri: "/.well-known/oauth-protected-resource/mcp/time", method: .get) { response in
                let object = try StrictJSON.object(response.body.readableBytesView)
                #expect(object["scopes_supported"] == .array([.string("echo.write"), .string("time.read")]))
            }
            try await client.execute(
                uri: "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "grant_type=authorization_code&code=x&code=y")
            ) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.cacheControl] == "no-store")
                let object = try StrictJSON.object(response.body.readableBytesView)
                #expect(object["error"] == .string("invalid_request"))
            }
            try await client.execute(
                uri: "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "grant_type=password&username=a&password=b")
            ) { response in
                let object = try StrictJSON.object(response.body.readableBytesView)
                #expect(object["error"] == .string("unsupported_grant_type"))
            }
            try await client.execute(uri: "/oauth/authorize?client_id=nobody&redirect_uri=https://evil.example/", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.location] == nil)
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(response.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("frame-ancestors 'none'") == true)
            }
        }
    }
}
