import Foundation
import GRDB
import Logging
import Testing
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

@Suite("IAM: API keys and revocation")
struct IAMKeyTests {
    @Test("API keys: plaintext once, only the SHA-256 at rest, prefix, last_used recorded")
    func keyLifecycle() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory)
        try await fixture.withClient { client in
            let id = try await client.createUser(fixture.adminKey, "alice", roles: ["writer"])
            let jwt = try await client.jwt("alice")
            let (keyID, plaintext) = try await client.apiKey(jwt, userID: id, name: "laptop")
            #expect(plaintext.hasPrefix("tsk_"))
            #expect(plaintext.count >= 4 + 22)
            #expect(try await client.iam(plaintext, ["operation": "whoami"]).status == .ok)
            let list = try await client.iam(jwt, ["operation": "list-api-keys", "user_id": id])
            let keys = try #require(list.json["api_keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            #expect(keys[0]["id"] as? String == keyID)
            #expect(keys[0]["prefix"] as? String == String(plaintext.prefix(8)))
            #expect((keys[0]["last_used"] as? String)?.isEmpty == false)
            #expect(!list.body.contains(plaintext))
            #expect(list.json["api_key_plaintext"] == nil)
            // Nothing on disk holds the plaintext: only its SHA-256.
            let onDisk = ["", "-wal"].map { suffix in
                (try? Data(contentsOf: URL(fileURLWithPath: directory + "/tessera.sqlite" + suffix))) ?? Data()
            }
            #expect(onDisk.allSatisfy { $0.range(of: Data(plaintext.utf8)) == nil })
            #expect(onDisk.contains { $0.range(of: Data(APIKeyCodec.hash(plaintext).utf8)) != nil })
            let stored = try #require(try await fixture.environment.store.apiKey(id: keyID))
            #expect(stored.hash == APIKeyCodec.hash(plaintext))
        }
    }

    @Test("revoked, expired and malformed keys get the masked 401")
    func revokedAndExpired() async throws {
        let clock = ManualClock()
        let fixture = try await IAMFixture.make(clock: clock)
        try await fixture.withClient { client in
            let id = try await client.createUser(fixture.adminKey, "bob", roles: ["reader"])
            let jwt = try await client.jwt("bob")
            let (keyID, plaintext) = try await client.apiKey(jwt, userID: id)
            let soon = WireTime.format(clock.now().addingTimeInterval(120))
            let (_, shortLived) = try await client.apiKey(jwt, userID: id, name: "short", expires: soon)
            #expect(try await client.iam(shortLived, ["operation": "whoami"]).status == .ok)
            #expect(try await client.iam(jwt, ["operation": "revoke-api-key", "key_id": keyID]).status == .ok)
            let revoked = try await client.iam(plaintext, ["operation": "whoami"])
            #expect(revoked.body == authFailureBody)
            #expect(try await client.iam(jwt, ["operation": "revoke-api-key", "key_id": keyID]).status == .notFound)
            clock.advance(by: 121)
            #expect(try await client.iam(shortLived, ["operation": "whoami"]).body == authFailureBody)
            let past = try await client.iam(jwt, ["operation": "create-api-key", "key": ["user_id": id, "name": "x", "expires": "2001-01-01"]])
            #expect(past.status == .badRequest)
            #expect(past.body.contains("key.expires"))
        }
    }

    @Test("another process sharing the store stops accepting a revoked key, a disabled user and a disabled workspace within the cache TTL")
    func crossProcessRevocation() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory) { $0.authCacheSeconds = 1 }
        // The other process's cache TTL runs on its clock, moved by hand past it below.
        let otherClock = ManualClock()
        let other = try await makeEnvironment(clock: otherClock, directory: directory) { $0.authCacheSeconds = 1 }
        try await fixture.withClient { client in
            _ = try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "lab"]])
            let id = try await client.createUser(fixture.adminKey, "carol", roles: ["writer"])
            let labUser = try await client.createUser(fixture.adminKey, "dan", roles: ["writer"], workspace: "lab")
            let (keyID, key) = try await client.apiKey(fixture.adminKey, userID: id)
            let (_, labKey) = try await client.apiKey(fixture.adminKey, userID: labUser)
            let jwt = try await client.jwt("carol")
            for credential in [key, jwt, labKey] {
                #expect(await other.authenticator.authenticate(bearer: credential) != nil)
            }
            #expect(try await client.iam(fixture.adminKey, ["operation": "revoke-api-key", "key_id": keyID]).status == .ok)
            #expect(try await client.iam(fixture.adminKey, ["operation": "disable-user", "user_id": id]).status == .ok)
            #expect(try await client.iam(fixture.adminKey, ["operation": "disable-workspace", "workspace": "lab"]).status == .ok)
            // This process: immediately.
            for credential in [key, jwt, labKey] {
                #expect(try await client.iam(credential, ["operation": "whoami"]).body == authFailureBody)
            }
            // The other process: once its TTL (1 s here, ≤ 30 s by configuration) has passed.
            otherClock.advance(by: 1.1)
            for credential in [key, jwt, labKey] {
                #expect(await other.authenticator.authenticate(bearer: credential) == nil)
            }
        }
    }

    /// How long the change-feed tests wait for another process to catch up: a tenth of the 30 s
    /// TTL they use (the feed's period is 100 ms; the bound only stops a broken build from hanging).
    static let soon: Duration = .seconds(15)

    @Test("with the change feed followed, another process drops a revoked key, a disabled user and a role change within 1 s despite a 30 s cache TTL")
    func crossProcessChangeFeed() async throws {
        let directory = makeTemporaryDirectory()
        let fixture = try await IAMFixture.make(directory: directory) { $0.authCacheSeconds = 30 }
        let other = try await makeEnvironment(directory: directory) { $0.authCacheSeconds = 30 }
        let follower = Task {
            try await CredentialChangeFollower(store: other.store, authenticator: other.authenticator, period: .milliseconds(100), logger: Logger(label: "test")).run()
        }
        defer { follower.cancel() }
        try await fixture.withClient { client in
            let carol = try await client.createUser(fixture.adminKey, "carol", roles: ["writer"])
            let dan = try await client.createUser(fixture.adminKey, "dan", roles: ["writer"])
            let (keyID, key) = try await client.apiKey(fixture.adminKey, userID: carol)
            let (_, danKey) = try await client.apiKey(fixture.adminKey, userID: dan)
            let jwt = try await client.jwt("carol")
            #expect(try await eventually(within: Self.soon) { other.authenticator.cacheUsable() })
            // Cached on the other process now.
            for credential in [key, jwt, danKey] { #expect(await other.authenticator.authenticate(bearer: credential) != nil) }
            #expect(await other.authenticator.authenticate(bearer: danKey)?.roles == ["writer"])

            #expect(try await client.iam(fixture.adminKey, ["operation": "revoke-api-key", "key_id": keyID]).status == .ok)
            #expect(try await eventually(within: Self.soon) { await other.authenticator.authenticate(bearer: key) == nil }, "revoked key still accepted")
            #expect(try await client.iam(fixture.adminKey, ["operation": "disable-user", "user_id": carol]).status == .ok)
            #expect(try await eventually(within: Self.soon) { await other.authenticator.authenticate(bearer: jwt) == nil }, "disabled user's login still accepted")
            #expect(try await client.iam(fixture.adminKey, ["operation": "update-user", "user_id": dan, "user": ["roles": ["reader"]]]).status == .ok)
            #expect(try await eventually(within: Self.soon) { await other.authenticator.authenticate(bearer: danKey)?.roles == ["reader"] }, "old roles still cached")
        }
    }

    @Test("while the change feed cannot be read, the caches are not used")
    func unreadableChangeFeed() async throws {
        let directory = makeTemporaryDirectory()
        let environment = try await makeEnvironment(directory: directory) { $0.authCacheSeconds = 30 }
        let follower = Task {
            try await CredentialChangeFollower(store: environment.store, authenticator: environment.authenticator, period: .milliseconds(100), logger: Logger(label: "test")).run()
        }
        defer { follower.cancel() }
        #expect(try await eventually(within: Self.soon) { environment.authenticator.cacheUsable() })
        // Break the feed from outside, as a damaged or unreachable database would.
        let outside = try DatabaseQueue(path: directory + "/tessera.sqlite")
        try await outside.write { db in try db.execute(sql: "DROP TABLE credential_changes") }
        #expect(try await eventually(within: Self.soon) { !environment.authenticator.cacheUsable() })
    }

    @Test("the last enabled admin cannot be disabled or deleted (422)")
    func lastAdmin() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            for operation in ["disable-user", "delete-user"] {
                let reply = try await client.iam(fixture.adminKey, ["operation": operation, "user_id": fixture.adminID])
                #expect(reply.status == .unprocessableContent)
                #expect(reply.errorType == "operation-not-permitted")
            }
            let second = try await client.createUser(fixture.adminKey, "root2", roles: ["admin"])
            #expect(try await client.iam(fixture.adminKey, ["operation": "disable-user", "user_id": second]).status == .ok)
            #expect(try await client.iam(fixture.adminKey, ["operation": "enable-user", "user_id": second]).status == .ok)
            #expect(try await client.iam(fixture.adminKey, ["operation": "disable-user", "user_id": fixture.adminID]).status == .ok)
        }
    }
}
