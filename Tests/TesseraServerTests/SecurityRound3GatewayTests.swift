import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore

@testable import TesseraServer

/// Round three (issue 23), the HTTP MCP gateway and evaluation findings: each test is named after
/// its finding and fails on the code before the fix. The upstream is a real HTTP server on
/// loopback whose answers a test chooses.
@Suite("Security round three (gateway and evaluation)")
struct SecurityRound3GatewayTests {
    /// An upstream MCP endpoint at `/mcp`: `tools/call` answers an echo, anything else the tool
    /// list framed as `framing` chooses (with a tool the passports never allow).
    static func upstream(framing: @escaping @Sendable () -> (String, [UInt8])) -> some ApplicationProtocol {
        let router = Router()
        router.post("/mcp") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let message = try StrictJSON.object(body.readableBytesView)
            var headers = HTTPFields()
            if message["method"] == "tools/call" {
                headers[.contentType] = "application/json"
                let reply = #"{"jsonrpc":"2.0","id":\#(CanonicalJSON.serialize(message["id"] ?? .null)),"result":{"content":[{"type":"text","text":"echoed"}]}}"#
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply)))
            }
            let (type, bytes) = framing()
            headers[.contentType] = type
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static let list = #"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret_tool"}]}}"#

    /// Runs `body` with a gateway (`/mcp/echo`) in front of an upstream answering with `framing`.
    func withGateway(
        framing: @escaping @Sendable () -> (String, [UInt8]) = { ("application/json", Array(list.utf8)) },
        _ body: @escaping @Sendable (IAMFixture, IAMClient) async throws -> Void
    ) async throws {
        try await Self.upstream(framing: framing).test(.live) { upstreamClient in
            let port = try #require(upstreamClient.port)
            let fixture = try await IAMFixture.make { config in config.mcpUpstreams = ["echo": "http://127.0.0.1:\(port)/mcp"] }
            try await fixture.withClient { client in try await body(fixture, client) }
        }
    }

    func passport(_ fixture: IAMFixture, _ client: IAMClient, audience: String, jkt: String? = nil) async throws -> String {
        var body: [String: Any] = [
            "mission": ["agent_id": "mcp-agent", "mission": "echo", "allowed_tools": ["echo"]], "ttl_s": 600, "audience": audience,
        ]
        if let jkt { body["cnf_jkt"] = jkt }
        let reply = try await client.post("/issue", token: fixture.adminKey, json: body)
        #expect(reply.status == .ok, "\(reply.body)")
        return try #require(reply.json["token"] as? String)
    }

    func mcp(_ client: IAMClient, _ message: String, token: String, extra: [String: String] = [:]) async throws -> IAMClient.Reply {
        var headers = ["Authorization": "Bearer \(token)", "Accept": "application/json, text/event-stream"]
        headers.merge(extra) { $1 }
        return try await client.post("/mcp/echo", token: nil, raw: Data(message.utf8), headers: headers)
    }

    // MARK: 1

    @Test("round3 1: a hostile tools/list answer (BOM, Text/Event-Stream casing, bare CR, unparsable event, JSON batch) never passes unfiltered", arguments: [
        "json-bom", "sse-casing-bom", "sse-cr", "sse-unparsable", "json-array", "text-plain",
    ])
    func toolsListFailsClosed(variant: String) async throws {
        let framing: @Sendable () -> (String, [UInt8]) = {
            switch variant {
            case "json-bom": ("application/json", [0xEF, 0xBB, 0xBF] + Array(Self.list.utf8))
            case "sse-casing-bom": ("Text/Event-Stream; charset=utf-8", [0xEF, 0xBB, 0xBF] + Array("data: \(Self.list)\n\n".utf8))
            case "sse-cr": ("text/event-stream", Array("event: message\rdata: \(Self.list)\r\r".utf8))
            case "sse-unparsable": ("text/event-stream", Array("data: {oops\n\ndata: \(Self.list)\n\n".utf8))
            case "json-array": ("application/json", Array("[\(Self.list)]".utf8))
            default: ("text/plain", Array(Self.list.utf8))
            }
        }
        try await withGateway(framing: framing) { fixture, client in
            let token = try await passport(fixture, client, audience: fixture.environment.origin.current + "/mcp/echo")
            let reply = try await mcp(client, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, token: token)
            #expect(!reply.body.contains("secret_tool"), "\(variant): \(reply.body)")
        }
    }

    @Test("round3 1: the upstream receives Tessera's serialisation of the evaluated call, not the client's bytes")
    func reserialised() async throws {
        let seen = SeenBodies()
        let router = Router()
        router.post("/mcp") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            seen.append(String(buffer: body))
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"jsonrpc":"2.0","id":5,"result":{}}"#)))
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { up in
            let port = try #require(up.port)
            let fixture = try await IAMFixture.make { config in config.mcpUpstreams = ["echo": "http://127.0.0.1:\(port)/mcp"] }
            try await fixture.withClient { client in
                let token = try await passport(fixture, client, audience: fixture.environment.origin.current + "/mcp/echo")
                let reply = try await mcp(client, "{\"jsonrpc\" : \"2.0\",\r\n \"id\":5, \"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"n\":1.0E2}}}", token: token)
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(seen.all == [#"{"id":5,"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"n":100},"name":"echo"}}"#])
            }
        }
    }

    // MARK: 7

    @Test("round3 7: a key-bound passport at /mcp/NAME needs a DPoP proof by its key on every request; a replayed proof is refused")
    func dpopAtGateway() async throws {
        try await withGateway { fixture, client in
            let key = Ed25519KeyPair()
            let resource = fixture.environment.origin.current + "/mcp/echo"
            let token = try await passport(fixture, client, audience: resource, jkt: key.publicKey.thumbprint)
            let call = #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#
            let stolen = try await mcp(client, call, token: token)
            #expect(stolen.status == .unauthorized)
            #expect(stolen.headers[.wwwAuthenticate]?.hasPrefix("DPoP ") == true, "\(stolen.headers)")
            let thief = Ed25519KeyPair()
            let wrongKey = try DPoPProofClaims.sign(method: "POST", url: resource, badge: token, key: thief, now: Date().unixSeconds)
            #expect(try await mcp(client, call, token: token, extra: ["DPoP": wrongKey]).status == .unauthorized)
            let wrongURL = try DPoPProofClaims.sign(method: "POST", url: "http://elsewhere.example/mcp/echo", badge: token, key: key, now: Date().unixSeconds)
            #expect(try await mcp(client, call, token: token, extra: ["DPoP": wrongURL]).status == .unauthorized)
            let proof = try DPoPProofClaims.sign(method: "POST", url: resource, badge: token, key: key, now: Date().unixSeconds)
            let held = try await mcp(client, call, token: token, extra: ["DPoP": proof])
            #expect(held.status == .ok && held.body.contains("echoed"), "\(held.status) \(held.body)")
            let replayed = try await mcp(client, call, token: token, extra: ["DPoP": proof])
            #expect(replayed.status == .unauthorized, "\(replayed.body)")
        }
    }

    // MARK: 9

    @Test("round3 9: audience and metadata never come from Host; challenge parameters are quoted")
    func hostIgnored() async throws {
        try await withGateway { fixture, client in
            let other = try await passport(fixture, client, audience: "http://other-resource.example/mcp/echo")
            let reply = try await mcp(client, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, token: other, extra: ["Host": "other-resource.example"])
            #expect(reply.status == .unauthorized, "\(reply.body)")
            let hostile = try await client.post("/mcp/echo", token: nil, raw: Data("{}".utf8), headers: ["Host": #"evil.example"; error="x"#])
            let challenge = hostile.headers[.wwwAuthenticate] ?? ""
            #expect(!challenge.contains("evil.example"), "\(challenge)")
            #expect(challenge.contains(fixture.environment.origin.current), "\(challenge)")
            #expect(MCPGatewayController.quoted(#"a"b\c"#) == #""a\"b\\c""#)
        }
    }

    // MARK: 12

    @Test("round3 12: a costly constraint planted by delegation is denied without running; repeated DENYs are rate limited (429)")
    func costlyDelegation() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let mission: [String: Any] = [
                "agent_id": "parent", "mission": "coord", "allowed_tools": ["search"], "delegation_allowed": true, "max_delegation_depth": 2,
                "tools": ["search": ["arguments": ["q": ["pattern": "*"]]]],
            ]
            let parent = try await client.issue(fixture.adminKey, mission)
            _ = try await client.start(parent)
            let costly = String(repeating: "(a|b|c|d)?", count: 30) + "[a-z]{1,100}x"
            let delegated = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "search", "child_allowed_tools": ["search"],
                "child_tools": ["search": ["arguments": ["q": ["all": [["regex": costly], ["pattern": "*"]]]]]],
            ])
            let childToken = delegated.json["child_token"] as? String
            guard let childToken else {
                // Refused at delegation by its weight: also a fix.
                #expect(delegated.status == .badRequest, "\(delegated.body)")
                return
            }
            let session = try await client.start(childToken)
            let long = String(repeating: "a", count: 60_000)
            let started = ContinuousClock.now
            let denied = try await client.evaluate(session, "search", ["q": long])
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(denied.status == .ok && (denied.json["reason"] as? String ?? "").hasPrefix("constraint_too_costly"), "\(denied.body)")
            var limited: IAMClient.Reply?
            for _ in 0..<25 {
                let reply = try await client.evaluate(session, "search", ["q": long])
                if reply.status == .tooManyRequests {
                    limited = reply
                    break
                }
            }
            #expect(limited?.headers[.retryAfter] != nil, "\(limited?.body ?? "never limited")")
            #expect(limited?.body.contains("deny_rate_exceeded") == true)
        }
    }
}

final class SeenBodies: Sendable {
    private let bodies = SharedMutex<[String]>([])
    func append(_ body: String) { bodies.withLock { $0.append(body) } }
    var all: [String] { bodies.withLock { $0 } }
}
