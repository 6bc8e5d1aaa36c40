import Foundation
import Testing
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

@Suite("IAM: bootstrap, login, passwords")
struct IAMAuthTests {
    @Test("bootstrap works once; every refusal is the masked 401; status has no side effect")
    func bootstrapOnce() async throws {
        let environment = try await makeEnvironment { $0.bootstrapMode = "bootstrap"; $0.passwordIterations = 1_000 }
        try await environment.prepareBootstrap()
        let app = try buildApplication(environment)
        try await app.test(.live) { raw in
            let client = IAMClient(client: raw)
            for _ in 0..<2 {
                let status = try await client.post("/api/v1/auth/bootstrap-status", json: [:])
                #expect(status.body == #"{"bootstrap_available":true}"#)
            }
            let first = try await client.post("/api/v1/auth/bootstrap", json: [:])
            #expect(first.status == .ok)
            let key = try #require(first.json["bootstrap_admin_api_key"] as? String)
            #expect(key.hasPrefix("tsk_"))
            let second = try await client.post("/api/v1/auth/bootstrap", json: [:])
            #expect(second.status == .unauthorized)
            #expect(second.body == authFailureBody)
            #expect(try await client.post("/api/v1/auth/bootstrap-status", json: [:]).body == #"{"bootstrap_available":false}"#)
            let whoami = try await client.iam(key, ["operation": "whoami"])
            #expect((whoami.json["user"] as? [String: Any])?["username"] as? String == "admin")
            #expect((whoami.json["user"] as? [String: Any])?["roles"] as? [String] == ["admin"])
        }
    }

    @Test("a fresh store refuses to start without a bootstrap mode")
    func noPermissiveDefault() async throws {
        let environment = try await makeEnvironment()
        await #expect(throws: ConfigurationError.self) { try await environment.prepareBootstrap() }
    }

    @Test("token mode: the operator's token is the admin key and the bootstrap endpoint is refused")
    func tokenMode() async throws {
        let token = "tsk_" + String(repeating: "A", count: 40)
        let environment = try await makeEnvironment {
            $0.bootstrapMode = "token"
            $0.bootstrapToken = token
        }
        try await environment.prepareBootstrap()
        try await buildApplication(environment).test(.live) { raw in
            let client = IAMClient(client: raw)
            let refused = try await client.post("/api/v1/auth/bootstrap", json: [:])
            #expect(refused.status == .unauthorized)
            #expect(refused.body == authFailureBody)
            #expect(try await client.post("/api/v1/auth/bootstrap-status", json: [:]).json["bootstrap_available"] as? Bool == false)
            #expect(try await client.iam(token, ["operation": "list-users"]).status == .ok)
        }
    }

    @Test("login returns an EdDSA JWT with identity claims only; wrong password and unknown user answer identically")
    func login() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let id = try await client.createUser(fixture.adminKey, "alice", roles: ["writer"])
            let reply = try await client.login("alice")
            #expect(reply.status == .ok)
            let jwt = try #require(reply.json["jwt"] as? String)
            #expect((reply.json["jwt_expires"] as? String)?.hasSuffix("Z") == true)
            let claims = try await fixture.environment.keys.verify(
                jwt, as: LoginClaims.self, policy: fixture.environment.authenticator.loginPolicy)
            #expect(claims.sub == id)
            #expect(claims.workspace == "default")
            #expect((claims.exp ?? 0) - (claims.iat ?? 0) == 3600)
            let payload = String(decoding: Base64URL.decode(jwt.split(separator: ".")[1])!, as: UTF8.self)
            #expect(!payload.contains("roles"))

            let wrong = try await client.login("alice", password: "not the password")
            let unknown = try await client.login("nobody", password: "not the password")
            #expect(wrong.status == .unauthorized)
            #expect(unknown.status == .unauthorized)
            #expect(wrong.body == authFailureBody)
            #expect(unknown.body == wrong.body)
        }
    }

    @Test("repeated failures for one username are throttled with 429 and Retry-After, known or not")
    func throttle() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            _ = try await client.createUser(fixture.adminKey, "bob", roles: ["reader"])
            for name in ["bob", "ghost"] {
                for _ in 0..<5 { #expect(try await client.login(name, password: "bad password").status == .unauthorized) }
                let throttled = try await client.login(name, password: "bad password")
                #expect(throttled.status == .tooManyRequests)
                #expect(throttled.errorType == "rate-limited")
                #expect(Int(throttled.headers[.retryAfter] ?? "") ?? 0 > 0)
            }
            // Even the right password waits out the window: a guesser learns nothing from it.
            #expect(try await client.login("bob").status == .tooManyRequests)
        }
    }

    @Test("must_change_password: the user may only change the password, then everything works")
    func mustChangePassword() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let id = try await client.createUser(fixture.adminKey, "carol", roles: ["writer"])
            let reset = try await client.iam(fixture.adminKey, ["operation": "reset-password", "user_id": id])
            let temporary = try #require(reset.json["temporary_password"] as? String)
            #expect(try await client.login("carol").status == .unauthorized)
            let jwt = try await client.jwt("carol", password: temporary)
            let blocked = try await client.iam(jwt, ["operation": "list-api-keys"])
            #expect(blocked.status == .forbidden)
            #expect(blocked.body == accessDeniedBody)
            #expect(try await client.iam(jwt, ["operation": "whoami"]).status == .ok)

            let weak = try await client.post(
                "/api/v1/auth/change-password", token: jwt, json: ["current_password": temporary, "new_password": "short"])
            #expect(weak.status == .badRequest)
            #expect(weak.errorType == "weak-password")
            let wrongCurrent = try await client.post(
                "/api/v1/auth/change-password", token: jwt, json: ["current_password": "guess", "new_password": "a much better password"])
            #expect(wrongCurrent.status == .unauthorized)
            let changed = try await client.post(
                "/api/v1/auth/change-password", token: jwt, json: ["current_password": temporary, "new_password": "a much better password"])
            #expect(changed.status == .ok)
            #expect(changed.body == "{}")
            // The change ends every login token issued before it; a new login works fully.
            #expect(try await client.iam(jwt, ["operation": "whoami"]).status == .unauthorized)
            let fresh = try await client.jwt("carol", password: "a much better password")
            #expect(try await client.iam(fresh, ["operation": "list-api-keys"]).status == .ok)
        }
    }

    @Test("passwords are stored as PBKDF2 with their parameters; weaker hashes are upgraded at login")
    func passwordStorage() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        try await fixture.withClient { client in
            _ = try await client.createUser(fixture.adminKey, "dave", roles: ["reader"])
        }
        let stored = try #require(try await fixture.environment.store.user(username: "dave")).passwordHash
        #expect(stored.hasPrefix("pbkdf2-sha256$1000$"))
        // A server with a higher cost rehashes on the next successful login.
        let upgraded = try await makeEnvironment(directory: directory) { $0.passwordIterations = 2_000 }
        _ = try await upgraded.iam.login(username: "dave", password: "correct horse battery", workspace: nil, clientAddress: nil)
        #expect(try #require(try await upgraded.store.user(username: "dave")).passwordHash.hasPrefix("pbkdf2-sha256$2000$"))
        #expect(PasswordHasher().iterations == 600_000)
        #expect(ServerConfiguration().passwordIterations == 600_000)
    }

    @Test("a login JWT stays valid across rotate-signing-key (grace period)")
    func rotationKeepsTokens() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            _ = try await client.createUser(fixture.adminKey, "erin", roles: ["reader"])
            let jwt = try await client.jwt("erin")
            let rotate = try await client.iam(fixture.adminKey, ["operation": "rotate-signing-key"])
            #expect(rotate.status == .ok)
            #expect((rotate.json["signing_key_public"] as? String)?.contains("BEGIN PUBLIC KEY") == true)
            #expect(try await client.iam(jwt, ["operation": "whoami"]).status == .ok)
            let jwks = try await client.get("/.well-known/jwks.json")
            #expect((jwks.json["keys"] as? [Any])?.count == 2)
            // A reader may not rotate.
            #expect(try await client.iam(jwt, ["operation": "rotate-signing-key"]).status == .forbidden)
        }
    }

    @Test("tampered, expired, wrong-type and foreign JWTs all get the same 401")
    func badTokens() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            _ = try await client.createUser(fixture.adminKey, "frank", roles: ["reader"])
            let jwt = try await client.jwt("frank")
            let parts = jwt.split(separator: ".").map(String.init)
            let foreignKey = Ed25519KeyPair()
            let now = clock.now().unixSeconds
            let foreign = try JWSSigner(keyPair: foreignKey).sign(
                LoginClaims(iss: "tessera", sub: "x", workspace: "default", iat: now, exp: now + 60), type: LoginClaims.type)
            let wrongType = try fixture.environment.keys.sign(
                LoginClaims(iss: "tessera", sub: "x", workspace: "default", iat: now, exp: now + 60), type: "tessera-badge+jwt")
            let candidates = [
                parts[0] + "." + parts[1] + "." + String(parts[2].reversed()), foreign, wrongType, "a.b.c", "tsk_nope", "",
                String(repeating: "x", count: 17_000),
            ]
            for token in candidates {
                let reply = try await client.iam(token, ["operation": "whoami"])
                #expect(reply.status == .unauthorized)
                #expect(reply.body == authFailureBody)
            }
            clock.advance(by: 3600 + 61)
            let expired = try await client.iam(jwt, ["operation": "whoami"])
            #expect(expired.body == authFailureBody)
            let none = try await client.iam(nil, ["operation": "whoami"])
            #expect(none.status == .unauthorized)
            #expect(none.body == authFailureBody)
        }
    }
}
