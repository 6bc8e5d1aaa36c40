import Foundation
import Testing

@testable import TesseraCore

/// Argument constraints, kind by kind, with hostile inputs (issue 12). Each row asserts the
/// verdict and, for a refusal, the constraint kind the violation names.
@Suite("Argument constraints")
struct ArgumentConstraintTests {
    func constraint(_ json: String) throws -> ArgumentConstraint {
        try ArgumentConstraint.parse(try StrictJSON.parse(Array(json.utf8)), path: "c")
    }

    func expect(_ c: ArgumentConstraint, _ value: JSONValue, _ allowed: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        let failure = c.check(value)
        #expect((failure == nil) == allowed, "\(value): \(failure ?? "allowed")", sourceLocation: sourceLocation)
    }

    @Test("subpath: the normalised argument must stay under the root", arguments: [
        ("/srv/data/a.txt", true), ("/srv/data", true), ("/srv/data/sub/dir/x", true), ("/srv/data/./x", true),
        ("/srv/data/x/../y", true),
        ("/srv/data/../etc/passwd", false), ("/srv/database", false), ("/srv/data/%2e%2e/etc", false),
        ("/srv/data/%252e%252e/etc", false), ("/srv/data/%2525252e%2525252e/etc", false), ("/srv/data\\..\\etc", false),
        ("/srv/data/..\u{FF0F}etc", false), ("/srv/data/\u{FF0E}\u{FF0E}/etc", false), ("/srv/data/\u{2025}/x", false),
        ("/srv/data/x\u{0}y", false), ("srv/data/x", false), ("../srv/data", false), ("/etc/passwd", false),
        ("//srv/data/../../etc", false), ("/srv/data/../../../../", false), ("", false),
    ])
    func subpath(path: String, allowed: Bool) throws {
        expect(try constraint(#"{"subpath":"/srv/data"}"#), .string(path), allowed)
    }

    @Test("url: scheme, host (with *.), port and path prefix, parsed strictly", arguments: [
        ("https://api.example.com/v1/x", true), ("https://API.EXAMPLE.COM/v1/x", true), ("https://a.docs.example.com/v1", true),
        ("https://api.example.com./v1/x", true), ("https://api.example.com:443/v1", true), ("https://api.example.com/v1", true),
        ("http://api.example.com/v1", false), ("https://evil.example/v1", false), ("https://api.example.com@evil.example/v1", false),
        ("https://evil.example#@api.example.com/v1", false), ("https://api.example.com:8443/v1", false),
        ("https://docs.example.com/v1", false), ("https://api.example.com.evil.example/v1", false),
        ("https://xn--pi-7ba.example.com/v1", false), ("https://аpi.example.com/v1", false), ("https://api%2eexample.com/v1", false),
        ("https://[::1]/v1", false), ("https://api.example.com/v2/x", false), ("https://api.example.com/v1/../admin", false),
        ("https://api.example.com/v1%2f..%2f..%2fadmin", false), ("https://api.example.com\\@evil.example/v1", false),
        ("https://api.example.com:/v1", false), ("https:///v1", false), ("javascript:alert(1)", false), ("https://api.example.com /v1", false),
        ("https://127.0.0.1/v1", false), ("https://2130706433/v1", false), ("https://0x7f.1/v1", false),
    ])
    func url(value: String, allowed: Bool) throws {
        let c = try constraint(#"{"url":{"schemes":["https"],"hosts":["api.example.com","*.docs.example.com"],"path_prefix":"/v1"}}"#)
        expect(c, .string(value), allowed)
        if !allowed { #expect(c.kind == "url") }
    }

    @Test("cidr: IPv4 and IPv6 networks, IPv4-mapped IPv6 is IPv4, ambiguous spellings refused", arguments: [
        ("10.1.2.3", true), ("10.255.255.255", true), ("192.168.7.9", true), ("::ffff:10.1.2.3", true), ("::ffff:a01:203", true),
        ("fd00::1", true), ("fd00:0:0:0:0:0:0:1", true),
        ("11.0.0.1", false), ("192.168.8.1", false), ("010.1.2.3", false), ("10.1.2", false), ("10.1.2.3.4", false),
        ("0x0a.1.2.3", false), ("167838211", false), ("10.1.2.256", false), ("::ffff:11.0.0.1", false), ("fe80::1%eth0", false),
        ("fe00::1", false), ("10.1.2.3/32", false), (" 10.1.2.3", false), ("::1", false), ("", false),
    ])
    func cidr(value: String, allowed: Bool) throws {
        expect(try constraint(#"{"cidr":["10.0.0.0/8","192.168.7.0/24","fd00::/8"]}"#), .string(value), allowed)
    }

    @Test("shell: POSIX words, allowed programs and arguments, every metacharacter refused", arguments: [
        ("git status", true), ("git log", true), ("git  log  --oneline", true), ("'git' status", true), ("git log '--format=%h'", true),
        ("git push", false), ("rm -rf /", false), ("git status; rm -rf /", false), ("git status && id", false), ("git status | sh", false),
        ("git status $(id)", false), ("git status `id`", false), ("git log \"$HOME\"", false), ("git status > /etc/passwd", false),
        ("git status < /dev/zero", false), ("git status\nid", false), ("git log *", false), ("git log ~root", false),
        ("git log 'unterminated", false), ("/usr/bin/git status", false), ("git status &", false), ("", false), ("git log {a,b}", false),
    ])
    func shell(value: String, allowed: Bool) throws {
        expect(try constraint(#"{"shell":{"programs":["git"],"allow_args":["status","log","log *"]}}"#), .string(value), allowed)
    }

    @Test("range: inclusive and exclusive bounds, integers and floats, non-numbers refused")
    func range() throws {
        let c = try constraint(#"{"range":{"min":0,"max":100}}"#)
        for (v, ok) in [(JSONValue.number(0), true), (100, true), (99.999, true), (100.0001, false), (-0.5, false), ("50", false), (true, false), (.null, false), (.number(9_007_199_254_740_993), false)] as [(JSONValue, Bool)] {
            expect(c, v, ok)
        }
        let x = try constraint(#"{"range":{"min":1,"max":2,"exclusive_min":true,"exclusive_max":true}}"#)
        expect(x, 1, false)
        expect(x, 1.5, true)
        expect(x, 2, false)
    }

    @Test("exact, one_of, not_one_of, pattern, regex, contains, subset, all, any, not")
    func otherKinds() throws {
        expect(try constraint(#"{"exact":{"a":[1,2]}}"#), ["a": [1, 2]], true)
        expect(try constraint(#"{"exact":{"a":[1,2]}}"#), ["a": [2, 1]], false)
        expect(try constraint(#"{"one_of":["ops","payroll"]}"#), "ops", true)
        expect(try constraint(#"{"one_of":["ops","payroll"]}"#), "OPS", false)
        expect(try constraint(#"{"one_of":[1,2]}"#), 1.0, true)
        expect(try constraint(#"{"not_one_of":["root"]}"#), "root", false)
        expect(try constraint(#"{"not_one_of":["root"]}"#), "alice", true)
        expect(try constraint(#"{"pattern":"/data/*.csv"}"#), "/data/q3.csv", true)
        expect(try constraint(#"{"pattern":"/data/*.csv"}"#), "/data/../etc/x.csv", false)
        expect(try constraint(#"{"pattern":"report-*"}"#), "report-q3", true)
        expect(try constraint(#"{"regex":"^[a-z0-9 ]{1,64}$"}"#), "hello world", true)
        expect(try constraint(#"{"regex":"^[a-z0-9 ]{1,64}$"}"#), "Hello", false)
        expect(try constraint(#"{"regex":"(a|b)*c"}"#), "ababc", true)
        expect(try constraint(#"{"regex":"(a|b)*c"}"#), "ababcx", false)
        expect(try constraint(#"{"contains":["x"]}"#), ["x", "y"], true)
        expect(try constraint(#"{"contains":["x"]}"#), ["y"], false)
        expect(try constraint(#"{"subset":["x","y"]}"#), ["x"], true)
        expect(try constraint(#"{"subset":["x","y"]}"#), ["x", "z"], false)
        expect(try constraint(#"{"all":[{"range":{"min":0}},{"range":{"max":10}}]}"#), 5, true)
        expect(try constraint(#"{"all":[{"range":{"min":0}},{"range":{"max":10}}]}"#), 11, false)
        expect(try constraint(#"{"any":[{"one_of":["a"]},{"range":{"min":0}}]}"#), 3, true)
        expect(try constraint(#"{"any":[{"one_of":["a"]},{"range":{"min":0}}]}"#), "b", false)
        expect(try constraint(#"{"not":{"one_of":["rm"]}}"#), "rm", false)
        expect(try constraint(#"{"not":{"one_of":["rm"]}}"#), "ls", true)
    }

    @Test("a pathological regex on a long hostile input is decided (linear time)")
    func regexLinear() throws {
        let c = try constraint(#"{"regex":"(a*)*(a|aa)*b"}"#)
        expect(c, .string(String(repeating: "a", count: 20_000)), false)
        expect(c, .string(String(repeating: "a", count: 1_000) + "b"), true)
    }

    @Test("bad constraints are refused with the JSON path, never a crash", arguments: [
        (#"{"url":{"hosts":["ok.example","x@evil"]}}"#, "c.url.hosts[1]"), (#"{"bogus":1}"#, "unknown constraint kind bogus"),
        (#"{"one_of":1}"#, "c.one_of"), (#"{"range":{}}"#, "c.range needs min or max"), (#"{"range":{"min":5,"max":1}}"#, "c.range.min"),
        (#"{"regex":"(a"}"#, "c.regex"), (#"{"regex":"(?=a)"}"#, "c.regex"), (#"{"regex":"(a)\\1"}"#, "c.regex"),
        (#"{"regex":"a{1000}"}"#, "c.regex"), (#"{"regex":"((a{100}){100}){100}"}"#, "c.regex"), (#"{"cidr":["10.0.0.1/8"]}"#, "c.cidr[0]"),
        (#"{"subpath":"/a/../b"}"#, "c.subpath"), (#"{"shell":{"programs":["git status"]}}"#, "c.shell.programs[0]"),
        (#"{"one_of":["a"],"exact":"a"}"#, "exactly one constraint kind"), (#"{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"exact":1}}}}}}}}}}"#, "deeper"),
    ])
    func badConstraints(json: String, mention: String) throws {
        do {
            _ = try constraint(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect("\(error)".contains(mention), "\(error)")
        }
    }

    @Test("a huge one_of (10^5 entries) is refused quickly with a clear message")
    func hugeOneOf() throws {
        let values = (0..<100_000).map { JSONValue.number(JSONNumber($0)) }
        #expect(throws: MissionError.self) { try ArgumentConstraint.parse(.object(["one_of": .array(values)]), path: "c") }
    }

    @Test("attenuation: every narrowing is proved, every widening refused")
    func attenuation() throws {
        func implies(_ child: String, _ parent: String) throws -> Bool { try constraint(child).implies(try constraint(parent)) }
        // Narrowings.
        #expect(try implies(#"{"one_of":["a"]}"#, #"{"one_of":["a","b"]}"#))
        #expect(try implies(#"{"exact":"a"}"#, #"{"one_of":["a","b"]}"#))
        #expect(try implies(#"{"range":{"min":1,"max":5}}"#, #"{"range":{"min":0,"max":10}}"#))
        #expect(try implies(#"{"range":{"min":0,"max":10,"exclusive_max":true}}"#, #"{"range":{"min":0,"max":10}}"#))
        #expect(try implies(#"{"subpath":"/srv/data/reports"}"#, #"{"subpath":"/srv/data"}"#))
        #expect(try implies(#"{"subpath":"/srv/data/x"}"#, #"{"pattern":"/srv/**"}"#))
        #expect(try implies(#"{"url":{"schemes":["https"],"hosts":["a.example.com"]}}"#, #"{"url":{"schemes":["https","http"],"hosts":["*.example.com"]}}"#))
        #expect(try implies(#"{"url":{"schemes":["https"],"hosts":["*.x.example.com"],"path_prefix":"/v1/a"}}"#, #"{"url":{"schemes":["https"],"hosts":["*.example.com"],"path_prefix":"/v1"}}"#))
        #expect(try implies(#"{"cidr":["10.1.0.0/16"]}"#, #"{"cidr":["10.0.0.0/8"]}"#))
        #expect(try implies(#"{"shell":{"programs":["git"],"allow_args":["status"]}}"#, #"{"shell":{"programs":["git","ls"],"allow_args":["status","log"]}}"#))
        #expect(try implies(#"{"contains":["a","b"]}"#, #"{"contains":["a"]}"#))
        #expect(try implies(#"{"subset":["a"]}"#, #"{"subset":["a","b"]}"#))
        #expect(try implies(#"{"not_one_of":["x","y"]}"#, #"{"not_one_of":["x"]}"#))
        #expect(try implies(#"{"all":[{"range":{"min":0,"max":5}},{"one_of":[1,2]}]}"#, #"{"range":{"min":0,"max":10}}"#))
        // Widenings.
        #expect(try !implies(#"{"one_of":["a","c"]}"#, #"{"one_of":["a","b"]}"#))
        #expect(try !implies(#"{"range":{"min":0,"max":11}}"#, #"{"range":{"min":0,"max":10}}"#))
        #expect(try !implies(#"{"range":{"min":0,"max":10}}"#, #"{"range":{"min":0,"max":10,"exclusive_max":true}}"#))
        #expect(try !implies(#"{"range":{"min":0}}"#, #"{"range":{"min":0,"max":10}}"#))
        #expect(try !implies(#"{"subpath":"/srv"}"#, #"{"subpath":"/srv/data"}"#))
        #expect(try !implies(#"{"subpath":"/srv/database"}"#, #"{"subpath":"/srv/data"}"#))
        #expect(try !implies(#"{"url":{"schemes":["http"],"hosts":["a.example.com"]}}"#, #"{"url":{"schemes":["https"],"hosts":["*.example.com"]}}"#))
        #expect(try !implies(#"{"url":{"schemes":["https"],"hosts":["example.com"]}}"#, #"{"url":{"schemes":["https"],"hosts":["*.example.com"]}}"#))
        #expect(try !implies(#"{"url":{"schemes":["https"]}}"#, #"{"url":{"schemes":["https"],"hosts":["a.example.com"]}}"#))
        #expect(try !implies(#"{"url":{"schemes":["https"],"hosts":["a.example.com"],"ports":[8443]}}"#, #"{"url":{"schemes":["https"],"hosts":["a.example.com"]}}"#))
        #expect(try !implies(#"{"cidr":["0.0.0.0/0"]}"#, #"{"cidr":["10.0.0.0/8"]}"#))
        #expect(try !implies(#"{"shell":{"programs":["git"]}}"#, #"{"shell":{"programs":["git"],"allow_args":["status"]}}"#))
        #expect(try !implies(#"{"regex":"^.*$"}"#, #"{"regex":"^[a-z]+$"}"#))
        #expect(try !implies(#"{"any":[{"one_of":["a"]},{"one_of":["z"]}]}"#, #"{"one_of":["a","b"]}"#))
        #expect(try !implies(#"{"not_one_of":["y"]}"#, #"{"not_one_of":["x"]}"#))
    }

    @Test("tool entries: closed world, missing arguments, optional, approvals only when the condition holds")
    func toolEntries() throws {
        let entry = try ToolPolicy.parse(try StrictJSON.parse(Array(#"""
            {"arguments": {"amount": {"range": {"min": 0, "max": 1000}}, "to": {"one_of": ["ops", "payroll"]}, "memo": {"optional": {"regex": "^[a-z ]*$"}}},
             "requires_approval": {"when": {"amount": {"range": {"min": 100.01}}}, "approvers": ["role:approver"], "min_approvals": 2, "ttl_s": 900}}
            """#.utf8)), path: "t")
        #expect(entry.violations(["amount": 50, "to": "ops"]).isEmpty)
        #expect(entry.violations(["amount": 50, "to": "ops", "memo": "rent"]).isEmpty)
        #expect(entry.violations(["amount": 50, "to": "ops", "extra": 1]).map(\.constraint) == ["unknown_argument"])
        #expect(entry.violations(["to": "ops"]).map(\.constraint) == ["missing_argument"])
        #expect(entry.violations(["amount": 5000, "to": "ops"]).map(\.argument) == ["amount"])
        #expect(!entry.needsApproval(["amount": 100, "to": "ops"]))
        #expect(entry.needsApproval(["amount": 500, "to": "ops"]))
    }
}
