import Foundation
import Testing

@testable import TesseraCore

/// Round three of the black-box attack run (issue 23), the findings whose rules are pure: each
/// test is named after its finding's number and fails on the code before the fix.
@Suite("Security round three (core)")
struct SecurityRound3CoreTests {
    func constraint(_ json: String) throws -> ArgumentConstraint {
        try ArgumentConstraint.parse(try StrictJSON.parse(Array(json.utf8)), path: "c")
    }

    func value(_ json: String) throws -> JSONValue { try StrictJSON.parse(Array(json.utf8)) }

    func passes(_ c: ArgumentConstraint, _ json: String) throws -> Bool { c.check(try value(json)) == nil }

    // MARK: 1 — what is forwarded is one line, read the same by every reader

    @Test("round3 1: the gateway's wire form escapes every line separator a reader may split at, and control characters are detected")
    func wireForm() throws {
        let message: JSONValue = .object(["text": .string("a\u{2028}b\u{2029}c\u{85}d\r\ne"), "n": 1])
        let line = String(decoding: MCPGovernance.wire(message), as: UTF8.self)
        #expect(!line.unicodeScalars.contains { [0x0A, 0x0D, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029].contains($0.value) })
        #expect(try StrictJSON.parse(Array(line.utf8)) == message)
        #expect(line.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count == 1)
        #expect(MCPGovernance.hasControlCharacter(Array("{\"a\":1}\r{\"b\":2}".utf8)))
        #expect(MCPGovernance.hasControlCharacter(Array("{\"a\":\t1}".utf8)))
        #expect(!MCPGovernance.hasControlCharacter(Array("{\"a\":\"\u{2028}\"}".utf8)))
    }

    @Test("round3 1: an unfiltered tool list cannot hide in an answer to another request, nor fail open when malformed")
    func anyToolListFiltered() throws {
        let answer = try value(#"{"jsonrpc":"2.0","id":"x","result":{"tools":[{"name":"echo"},{"name":"secret"}],"nextCursor":"c"}}"#)
        guard case .object(let message) = answer else { return }
        let filtered = MCPGovernance.filteringAnyToolList(message, visible: ["echo"])
        #expect(CanonicalJSON.serialize(.object(filtered)) == #"{"id":"x","jsonrpc":"2.0","result":{"cacheScope":"private","nextCursor":"c","tools":[{"name":"echo"}]}}"#)
        let malformed = try value(#"{"jsonrpc":"2.0","id":1,"result":{"tools":{"secret":{}}}}"#)
        guard case .object(let bad) = malformed else { return }
        let refused = MCPGovernance.filteringAnyToolList(bad, visible: ["echo"])
        #expect(refused["result"] == nil && refused["error"] != nil)
    }

    @Test("round3 1: server-sent events are read as an SSE client reads them (BOM, bare CR, CRLF, multi-line data, comments)")
    func eventStream() throws {
        var parser = EventStreamParser(maximumEventBytes: 1 << 16)
        var events = try parser.feed(Array("\u{FEFF}data: {\"a\":1}\r\r: comment\nevent: message\r\nid: 7\r\ndata: {\"b\":\ndata: 2}\n\n".utf8))
        events += try parser.finish()
        #expect(events.map(\.data) == [#"{"a":1}"#, "{\"b\":\n2}"])
        #expect(events[1].type == "message" && events[1].id == "7")
        // A CR at the end of one chunk and the LF at the start of the next are one line break.
        var split = EventStreamParser(maximumEventBytes: 1 << 16)
        var got = try split.feed(Array("data: x\r".utf8))
        got += try split.feed(Array("\n\r\n".utf8))
        #expect(got.map(\.data) == ["x"])
        var small = EventStreamParser(maximumEventBytes: 16)
        #expect(throws: EventStreamParser.Failure.tooLarge) { _ = try small.feed(Array("data: 0123456789abcdefghij\n\n".utf8)) }
    }

    // MARK: 2 — URL scopes decided on the authority read before decoding

    @Test("round3 2: URL resource scopes are not escaped through userinfo or an encoded authority", arguments: [
        "https://api.example.com%2F@evil.com/v1/x", "https://api.example.com%2f%2e%2e@evil.com/v1/x", "https://api.example.com%252F@evil.com/v1/x",
        "https://api.example.com%5C@evil.com/v1/x", "https://api.example.com\\@evil.com/v1/x", "https://api.example.com%2Fv1%2F@evil.com/steal",
        "https://api.example.com@evil.com/v1/x", "https://api.example.com:x@evil.com/v1/x", "https://evil.com#@api.example.com/v1/x",
        "https://evil.com?@api.example.com/v1/x", "https%3A%2F%2Fapi.example.com%2Fv1%2Fx",
    ])
    func urlScopes(url: String) {
        let mission = Mission(agent_id: "a", mission: "m", allowed_tools: ["fetch"], resource_scope: ["https://api.example.com/**", "https://api.example.com/v1/**"])
        let claims = PassportClaims(mission: mission, issuer: "t", workspace: "w", issuedAt: 1_800_000_000, ttl: 300)
        let decision = Evaluator(passport: claims).decide(tool: "fetch", arguments: ["url": .string(url)])
        #expect(decision.verdict == .deny, "\(url) was permitted")
        let allowed = Evaluator(passport: claims).decide(tool: "fetch", arguments: ["url": "https://API.example.com/v1/%78"])
        #expect(allowed.verdict == .permit, "\(allowed.reason ?? "")")
    }

    @Test("round3 2: tabs and line breaks in a URL path, and .. reaching across a query or fragment, cannot escape a scope", arguments: [
        "https://api.example.com/public/.\t./.\t./admin", "https://api.example.com/public/.\n./admin", "https://api.example.com/public/x\r/../../admin",
        "https://api.example.com/admin/delete?/../../public/x", "https://api.example.com/secret#/../public/x",
        "https://api.example.com/public/secret.txt?.csv",
    ])
    func urlScopeReview(url: String) {
        let mission = Mission(agent_id: "a", mission: "m", allowed_tools: ["fetch"], resource_scope: ["https://api.example.com/public/*.csv", "https://api.example.com/public/x/**"])
        let claims = PassportClaims(mission: mission, issuer: "t", workspace: "w", issuedAt: 1_800_000_000, ttl: 300)
        #expect(Evaluator(passport: claims).decide(tool: "fetch", arguments: ["url": .string(url)]).verdict == .deny, "\(url) was permitted")
        #expect(Evaluator(passport: claims).decide(tool: "fetch", arguments: ["url": "https://api.example.com/public/report.csv?x=1"]).verdict == .permit)
    }

    // MARK: 3 — numbers compared exactly

    @Test("round3 3: integers past 2^53 and long decimals compare exactly in constraints and digests")
    func exactNumbers() throws {
        let oneOf = try constraint(#"{"one_of":[1234567890123456789]}"#)
        #expect(try passes(oneOf, "1234567890123456789"))
        #expect(try !passes(oneOf, "1234567890123456790"))
        let exact = try constraint(#"{"exact":9007199254740993}"#)
        #expect(try passes(exact, "9007199254740993"))
        #expect(try !passes(exact, "9007199254740992"))
        let range = try constraint(#"{"range":{"max":1000}}"#)
        #expect(try passes(range, "1000"))
        #expect(try passes(range, "1e3"))
        #expect(try !passes(range, "1000.00000000000001"))
        let big = try constraint(#"{"range":{"min":1234567890123456789,"max":1234567890123456789}}"#)
        #expect(try passes(big, "1234567890123456789"))
        #expect(try !passes(big, "1234567890123456790"))
        // The digest an approval is granted for names the exact digits; so does display.
        #expect(CanonicalJSON.serialize(try value("1234567890123456789")) == "1234567890123456789")
        #expect(CanonicalJSON.serialize(try value("[1.0,1e2,0.1,-0]")) == "[1,100,0.1,0]")
        #expect(CanonicalJSON.serialize(try value("1234567890123456789")) != CanonicalJSON.serialize(try value("1234567890123456790")))
        // A number a signed passport could not carry exactly is refused, not rounded.
        #expect(throws: MissionError.self) { try constraint(#"{"one_of":[123456789012345678901234567890123456789012]}"#) }
        // A number a double-reading tool would round onto a refused value is refused.
        #expect(try !passes(try constraint(#"{"range":{"min":0,"exclusive_min":true}}"#), "1e-400"))
        #expect(try !passes(try constraint(#"{"range":{"max":1000,"exclusive_max":true}}"#), "999.99999999999999999"))
        #expect(try !passes(try constraint(#"{"not_one_of":[9007199254740992]}"#), "9007199254740993"))
        #expect(throws: MissionError.self) { try constraint(#"{"one_of":[1.00000000000000000001e200]}"#) }
        // Through a signed passport's Codable round trip the digits survive.
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data("[1234567890123456789,1000.00000000000001]".utf8))
        #expect(CanonicalJSON.serialize(decoded) == "[1234567890123456789,1000.00000000000001]")
        let encoded = try JSONEncoder().encode(try value("[1234567890123456789,0.5]"))
        #expect(String(decoding: encoded, as: UTF8.self) == "[1234567890123456789,0.5]")
    }

    // MARK: 4 — `not` over a value the inner constraint cannot read

    @Test("round3 4: not cidr denies every spelling the address parser cannot read", arguments: [
        "127.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "[::ffff:127.0.0.1]", "169.254.169.254.", "127.0.0.1 ", "0x7f000001", "017700000001",
        "127.000.000.001", "::ffff:7f00:1x",
    ])
    func notCIDR(address: String) throws {
        let c = try constraint(#"{"not":{"cidr":["127.0.0.0/8","169.254.0.0/16"]}}"#)
        #expect(c.check(.string(address)) != nil, "\(address) was permitted")
        #expect(c.check(.string("8.8.8.8")) == nil)
        #expect(c.check(.number(2_130_706_433)) != nil)
    }

    @Test("round3 4: not url denies userinfo, backslash, encoded and port spellings", arguments: [
        "https://ok.example@evil.example/x", "https://evil.example\\@ok.example/x", "https://evil%2eexample/x", "https://evil.example:8443/x",
        "https://EVIL.example%2F@x/", "https://evil.example%00/x",
    ])
    func notURL(url: String) throws {
        let c = try constraint(#"{"not":{"url":{"hosts":["evil.example"]}}}"#)
        #expect(c.check(.string(url)) != nil, "\(url) was permitted")
        #expect(c.check(.string("https://good.example/x")) == nil)
    }

    @Test("round3 4: any/all/not combine as three-valued logic")
    func kleene() throws {
        let c = try constraint(#"{"not":{"any":[{"cidr":["10.0.0.0/8"]},{"exact":"x"}]}}"#)
        #expect(c.check("11.0.0.1") == nil)
        #expect(c.check("10.0.0.1") != nil)
        #expect(c.check("010.0.0.1") != nil)
        let d = try constraint(#"{"not":{"all":[{"exact":"y"},{"cidr":["10.0.0.0/8"]}]}}"#)
        // Definitely not "y", so definitely not both: permitted.
        #expect(d.check("010.0.0.1") == nil)
    }

    // MARK: 5 — shell and range edges

    @Test("round3 5: allow_args cannot be matched by a quoted word holding blanks; an unquoted ~ anywhere is refused")
    func shellEdges() throws {
        let c = try constraint(#"{"shell":{"programs":["git","ls"],"allow_args":["log --oneline","a=*"]}}"#)
        #expect(c.check("git log --oneline") == nil)
        #expect(c.check("git 'log --oneline'") != nil)
        #expect(c.check("git \"log\t--oneline\"") != nil)
        #expect(c.check("ls a=~/x") != nil)
        #expect(c.check("ls a=x:~/y") != nil)
        #expect(c.check("ls 'a=~/x'") == nil)
    }

    // MARK: 12 — bounded work per call

    @Test("round3 12: a large regex against a long argument is denied as too costly before it runs; over-weight entries are refused")
    func costBounded() throws {
        let costly = String(repeating: "(a|b|c|d)?", count: 20) + "[a-z]{1,100}x"
        let tools: JSONValue = .object(["t": .object(["arguments": .object(["s": .object(["all": .array([.object(["regex": .string(costly)]), .object(["pattern": "*"])])])])])])
        let policies = try ToolPolicy.parseAll(tools, path: "tools")
        let argument: [String: JSONValue] = ["s": .string(String(repeating: "a", count: 64 * 1024))]
        #expect(policies["t"]!.cost(argument) > Evaluator.stepBudget)
        var mission = Mission(agent_id: "a", mission: "m", allowed_tools: ["t"])
        guard case .object(let object) = tools else { return }
        mission.tools = object
        let claims = PassportClaims(mission: mission, issuer: "t", workspace: "w", issuedAt: 1_800_000_000, ttl: 300)
        let clock = ContinuousClock()
        let started = clock.now
        let decision = Evaluator(passport: claims).decide(tool: "t", arguments: argument)
        let elapsed = clock.now - started
        #expect(decision.reason?.hasPrefix("constraint_too_costly") == true, "\(decision)")
        #expect(elapsed < .seconds(1), "the refusal itself must not scan: \(elapsed)")
        // Wrapping one large regex many times in `all` exceeds the weight a tool may carry.
        let heavy = String(repeating: "[a-z]{1,100}", count: 4)
        let many: JSONValue = .object(["t": .object(["arguments": .object(["s": .object(["all": .array(Array(repeating: .object(["regex": .string(heavy)]), count: 64))])])])])
        #expect(throws: MissionError.self) { _ = try ToolPolicy.parseAll(many, path: "tools") }
        // Thousands of cheap leaves over a large array: the cost is computed without walking the
        // array once per leaf, and the call is refused as too costly at once.
        let leaves: JSONValue = .object(["t": .object(["arguments": .object(["x": .object(["all": .array(Array(repeating: .object(["exact": 0]), count: 60))])])])])
        let wide = try ToolPolicy.parseAll(leaves, path: "tools")
        let big: [String: JSONValue] = ["x": .array(Array(repeating: 0, count: 200_000))]
        let before = clock.now
        #expect(wide["t"]!.cost(big) > Evaluator.stepBudget)
        #expect(clock.now - before < .seconds(1))
    }
}
