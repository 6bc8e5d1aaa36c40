import Foundation
import Testing

@testable import TesseraCore

/// MCP 2026-07-28's mirrored routing headers, as the gateway checks and derives them.
@Suite("MCP routing headers (2026-07-28)")
struct MCPRoutingHeadersTests {
    func call(_ name: String, version: String = "2026-07-28") -> [String: JSONValue] {
        ["jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": ["name": .string(name), "arguments": [:], "_meta": ["io.modelcontextprotocol/protocolVersion": .string(version)]]]
    }

    @Test("headers that say what the body says pass; any disagreement, absence or duplicate is a mismatch")
    func mismatch() {
        let body = call("echo")
        #expect(MCPRoutingHeaders.mismatch(message: body, version: ["2026-07-28"], method: ["tools/call"], name: ["echo"]) == nil)
        #expect(MCPRoutingHeaders.mismatch(message: body, version: ["2026-07-28"], method: ["tools/call"], name: ["=?base64?ZWNobw==?="]) == nil)
        for (version, method, name) in [
            (["2026-07-28"], ["tools/list"], ["echo"]), (["2026-07-28"], ["tools/call"], ["ECHO"]), (["2026-07-28"], ["tools/call"], []),
            (["2026-07-28"], [], ["echo"]), (["2026-08-01"], ["tools/call"], ["echo"]), ([], ["tools/call"], ["echo"]),
            (["2026-07-28"], ["tools/call"], ["echo", "echo"]), (["2026-07-28"], ["tools/call"], ["=?base64?Y3Jhc2g=?="]),
            (["2026-07-28"], ["tools/call"], ["=?base64?ZWNobw=?="]), (["2026-07-28"], ["tools/call"], ["echo "]),
        ] as [([String], [String], [String])] {
            #expect(MCPRoutingHeaders.mismatch(message: body, version: version, method: method, name: name) != nil, "\(version) \(method) \(name)")
        }
        // Another Unicode normalisation form of the same name is another name.
        let nfc = call("caf\u{E9}")
        let nfd = MCPRoutingHeaders.encode("cafe\u{301}")
        #expect(MCPRoutingHeaders.mismatch(message: nfc, version: ["2026-07-28"], method: ["tools/call"], name: [nfd]) != nil)
        #expect(MCPRoutingHeaders.mismatch(message: nfc, version: ["2026-07-28"], method: ["tools/call"], name: [MCPRoutingHeaders.encode("caf\u{E9}")]) == nil)
    }

    @Test("derived headers come from the body, encoded as the SDKs encode them")
    func derived() {
        let headers = MCPRoutingHeaders.derived(message: call("caf\u{E9}"), version: "2026-07-28")
        #expect(headers.map(\.name) == ["MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"])
        #expect(headers[2].value == "=?base64?Y2Fmw6k=?=")
        #expect(MCPRoutingHeaders.encode("echo") == "echo")
        #expect(MCPRoutingHeaders.encode(" echo").hasPrefix("=?base64?"))
        #expect(MCPRoutingHeaders.encode("=?base64?x?=").hasPrefix("=?base64?") && MCPRoutingHeaders.decode(MCPRoutingHeaders.encode("=?base64?x?=")) == "=?base64?x?=")
        #expect(MCPRoutingHeaders.modernVersion(header: "2025-11-25", message: call("echo", version: "2025-11-25")) == nil)
        #expect(MCPRoutingHeaders.modernVersion(header: nil, message: call("echo")) == "2026-07-28")
    }

    @Test("a filtered tool list is private and cached no longer than the passport lives; the receipt is named in _meta")
    func freshnessAndReceipt() {
        let answer: [String: JSONValue] = ["jsonrpc": "2.0", "id": 3, "result": ["tools": [["name": "a"], ["name": "b"]], "ttlMs": 3_600_000, "cacheScope": "public"]]
        let filtered = MCPGovernance.filteringAnyToolList(answer, visible: ["a"], ttlMs: 60_000)
        guard case .object(let result)? = filtered["result"] else { Issue.record("no result"); return }
        #expect(result["cacheScope"] == "private")
        #expect(result["ttlMs"] == 60_000)
        let called: [String: JSONValue] = ["jsonrpc": "2.0", "id": 9, "result": ["content": []]]
        let annotated = MCPGovernance.annotatingReceipt(called, id: 9, receipt: "rcpt-1")
        guard case .object(let r)? = annotated["result"], case .object(let meta)? = r["_meta"] else { Issue.record("no _meta"); return }
        #expect(meta["io.tessera/receipt"] == "rcpt-1")
        #expect(MCPGovernance.annotatingReceipt(called, id: 8, receipt: "x") == called)
    }

    @Test("Mcp-Param-* headers come from the evaluated arguments and the tool's x-mcp-header declarations, never from the client")
    func paramHeaders() throws {
        let list = try StrictJSON.object(Array(#"""
            {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"deploy","inputSchema":{"type":"object","properties":{
              "region":{"type":"string","x-mcp-header":"Region"},"dry":{"type":"boolean","x-mcp-header":"Dry-Run"},
              "target":{"type":"object","properties":{"zone":{"type":"string","x-mcp-header":"Zone"}}},
              "bad":{"type":"string","x-mcp-header":"a b"}}}}]}}
            """#.utf8))
        let declarations = MCPParamHeaders.declarations(in: list)
        #expect(declarations["deploy"]?.map(\.name).sorted() == ["Dry-Run", "Region", "Zone"])
        let headers = MCPParamHeaders.headers(for: ["region": "eu", "dry": true, "target": ["zone": "caf\u{E9}"]], declarations["deploy"]!)
        let byName = Dictionary(uniqueKeysWithValues: headers.map { ($0.name, $0.value) })
        #expect(byName == ["Mcp-Param-Region": "eu", "Mcp-Param-Dry-Run": "true", "Mcp-Param-Zone": "=?base64?Y2Fmw6k=?="])
        #expect(MCPParamHeaders.headers(for: [:], declarations["deploy"]!).isEmpty)
    }
}
