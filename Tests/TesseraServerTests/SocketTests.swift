import Foundation
import HummingbirdWSClient
import Logging
import Testing
import TesseraCore

@testable import TesseraServer

@Suite("WebSocket first-frame auth")
struct SocketTests {
    /// Sends each frame in order over one socket and returns every reply, parsed.
    func converse(port: Int, _ steps: [String]) async throws -> [[String: Any]] {
        let replies = Replies()
        try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/api/v1/socket", logger: Logger(label: "ws")) { inbound, outbound, _ in
            var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            for step in steps {
                try await outbound.write(.text(step))
                guard case .text(let text) = try await iterator.next() else { break }
                replies.append(text)
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        return replies.all.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? [:] }
    }

    func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test("requests before auth are refused; a failed auth keeps the socket open; auth-ok then IAM requests work")
    func firstFrameAuth() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let replies = try await converse(port: port, [
                json(["id": "1", "service": "iam", "request": ["operation": "whoami"]]),
                json(["type": "auth", "token": "tsk_wrongwrongwrongwrongwrongwrong"]),
                json(["type": "auth", "token": fixture.adminKey]),
                json(["id": "2", "service": "iam", "request": ["operation": "whoami"]]),
                json(["id": 3, "service": "iam", "request": ["operation": "list-users"]]),
                json(["id": "4", "service": "config", "request": [:]]),
            ])
            #expect(replies[0]["id"] as? String == "1")
            #expect((replies[0]["error"] as? [String: Any])?["type"] as? String == "auth-required")
            #expect(replies[0]["complete"] as? Bool == true)
            #expect(replies[1]["type"] as? String == "auth-failed")
            #expect(replies[1]["error"] as? String == "auth failure")
            #expect(replies[2]["type"] as? String == "auth-ok")
            #expect(replies[2]["workspace"] as? String == "default")
            #expect(replies[2]["default_workspace"] as? String == "default")
            #expect(replies[3]["id"] as? String == "2")
            #expect(((replies[3]["response"] as? [String: Any])?["user"] as? [String: Any])?["username"] as? String == "admin")
            #expect(replies[4]["id"] as? Int == 3)
            #expect(((replies[4]["response"] as? [String: Any])?["users"] as? [Any])?.count == 1)
            #expect((replies[5]["error"] as? [String: Any])?["type"] as? String == "invalid-argument")
        }
    }

    @Test("same authorisation as HTTP; mid-session re-auth switches identity; a revoked key must re-authenticate")
    func reauthAndRevocation() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { raw in
            let client = IAMClient(client: raw)
            let id = try await client.createUser(fixture.adminKey, "reader", roles: ["reader"])
            let (keyID, key) = try await client.apiKey(fixture.adminKey, userID: id)
            let port = try #require(raw.port)
            let replies = try await converse(port: port, [
                json(["type": "auth", "token": key]),
                json(["id": "a", "service": "iam", "request": ["operation": "list-users"]]),
                json(["type": "auth", "token": fixture.adminKey]),
                json(["id": "b", "service": "iam", "request": ["operation": "revoke-api-key", "key_id": keyID]]),
                json(["type": "auth", "token": key]),
                json(["id": "c", "service": "iam", "request": ["operation": "whoami"]]),
            ])
            #expect(replies[0]["type"] as? String == "auth-ok")
            #expect((replies[1]["error"] as? [String: Any])?["type"] as? String == "access-denied")
            #expect(replies[2]["type"] as? String == "auth-ok")
            #expect(replies[3]["response"] != nil)
            #expect(replies[4]["type"] as? String == "auth-failed")
            #expect((replies[5]["error"] as? [String: Any])?["type"] as? String == "auth-required")
        }
    }

    @Test("no auth frame within 10 s closes the socket")
    func authTimeout() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let started = ContinuousClock.now
            let close = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/api/v1/socket", logger: Logger(label: "ws")) { inbound, _, _ in
                for try await _ in inbound {}
            }
            #expect(close?.closeCode == .policyViolation)
            #expect(ContinuousClock.now - started >= .seconds(9))
        }
    }
}

/// Replies collected from a socket handler.
final class Replies: Sendable {
    private let items = SharedMutex<[String]>([])
    func append(_ item: String) { items.withLock { $0.append(item) } }
    var all: [String] { items.withLock { $0 } }
}
