import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

/// Governance calls over the live test server, mirroring seed 004's `_post` helper.
extension IAMClient {
    func issue(_ admin: String, _ mission: [String: Any], ttl: Int = 300) async throws -> String {
        let reply = try await post("/issue", token: admin, json: ["mission": mission, "ttl_s": ttl])
        #expect(reply.status == .ok, "\(reply.body)")
        return try #require(reply.json["token"] as? String)
    }

    func start(_ token: String) async throws -> String {
        let reply = try await post("/session/start", json: ["token": token])
        #expect(reply.status == .ok, "\(reply.body)")
        return try #require(reply.json["session_id"] as? String)
    }

    func evaluate(_ session: String, _ tool: String, _ arguments: [String: Any] = [:]) async throws -> Reply {
        try await post("/evaluate", json: ["session_id": session, "tool_name": tool, "arguments": arguments])
    }
}

/// seed 004's `example_mission`: reads allowed, deletes forbidden.
var exampleMission: [String: Any] {
    [
    "agent_id": "agent-1", "mission": "summarise reports", "allowed_tools": ["read_file", "list_dir"],
    "forbidden_tools": ["delete_file"], "resource_scope": ["/x", "/data/**"], "max_tool_calls": 50,
    "max_duration_s": 600,
    ]
}

func parentMission(tools: [String], maxCalls: Int? = nil, scope: [String]? = nil, maxDuration: Int? = 300) -> [String: Any] {
    var mission: [String: Any] = [
        "agent_id": "parent", "mission": "coord", "allowed_tools": tools, "delegation_allowed": true,
        "max_delegation_depth": 2,
    ]
    if let maxCalls { mission["max_tool_calls"] = maxCalls }
    if let scope { mission["resource_scope"] = scope }
    if let maxDuration { mission["max_duration_s"] = maxDuration }
    return mission
}
