import Foundation

/// One constraint on one argument of a tool call (spec: governance.md § Argument constraints).
/// Parsed and compiled once — at `/issue`, at delegation and when a session's evaluator is built —
/// never per call. `check` says why a value fails, or nil; `implies` decides attenuation.
public indirect enum ArgumentConstraint: Sendable, Equatable {
    case exact(JSONValue)
    /// Canonical (RFC 8785) forms of the allowed values, for O(1) look-up.
    case oneOf(Set<String>)
    case notOneOf(Set<String>)
    case range(NumberRange)
    case pattern(Glob)
    case regex(LinearRegex)
    /// A normalised absolute root.
    case subpath(String)
    case url(URLRule)
    case cidr([IPNetwork])
    case shell(ShellRule)
    case contains(Set<String>)
    case subset(Set<String>)
    case all([ArgumentConstraint])
    case any([ArgumentConstraint])
    case not(ArgumentConstraint)
    /// Any value, but the argument must be present: AAT's `wildcard` (draft-01 §3.4), and the
    /// way a closed-world tool entry names an argument it does not restrict.
    case wildcard

    /// Bounds compared exactly as decimals (``JSONNumber``): `max 1000` refuses
    /// `1000.00000000000001`, which a double would round to 1000.
    public struct NumberRange: Sendable, Equatable {
        public var min: JSONNumber?
        public var max: JSONNumber?
        public var exclusiveMin: Bool
        public var exclusiveMax: Bool
    }

    public struct URLRule: Sendable, Equatable {
        public var schemes: Set<String>
        /// Whether `schemes` was written (else it is the default, http and https).
        public var schemesGiven = true
        /// Under `not`, only what the rule names restricts: any port unless `ports` is given, any
        /// scheme unless `schemes` is. `not url{hosts:[evil]}` refuses `https://evil:8443/`.
        public var negated = false
        /// Exact hosts, and `*.suffix` entries stored as `.suffix`.
        public var hosts: Set<String>?
        public var ports: Set<Int>?
        public var pathPrefix: String?
    }

    public struct ShellRule: Sendable, Equatable {
        public var programs: Set<String>
        /// Globs over the arguments after the program, joined by single spaces (`*` matches any
        /// run of characters); nil = any arguments.
        public var allowArgs: [String]?
    }

    /// The kind names, for violations and errors.
    public var kind: String {
        switch self {
        case .exact: "exact"
        case .oneOf: "one_of"
        case .notOneOf: "not_one_of"
        case .range: "range"
        case .pattern: "pattern"
        case .regex: "regex"
        case .subpath: "subpath"
        case .url: "url"
        case .cidr: "cidr"
        case .shell: "shell"
        case .contains: "contains"
        case .subset: "subset"
        case .all: "all"
        case .any: "any"
        case .not: "not"
        case .wildcard: "wildcard"
        }
    }

    // MARK: Limits

    public static let maximumValues = 1_024
    public static let maximumMembers = 64
    public static let maximumDepth = 8
    public static let maximumStringBytes = 1_024
    /// Numbers in a constraint must survive a signed passport's round trip exactly (a
    /// `Decimal` keeps 38 significant digits); a longer one is refused, never rounded.
    public static let maximumSignificantDigits = 38
    /// Strings a shell or regex constraint reads: what a call may make Tessera scan per argument.
    public static let maximumCheckedStringScalars = 16_384

    /// The first number in `value` with more significant digits than a constraint can keep.
    static func inexactNumber(in value: JSONValue) -> JSONNumber? {
        switch value {
        case .number(let n): return n.significantDigits > maximumSignificantDigits || !n.survivesDecimal ? n : nil
        case .array(let items): return items.lazy.compactMap(inexactNumber(in:)).first
        case .object(let members): return members.values.lazy.compactMap(inexactNumber(in:)).first
        default: return nil
        }
    }

    // MARK: Parsing

    /// Parses a constraint object; every error names its JSON path.
    public static func parse(_ value: JSONValue, path: String, depth: Int = 0) throws(MissionError) -> ArgumentConstraint {
        guard depth <= maximumDepth else { throw .invalid("\(path) nests constraints deeper than \(maximumDepth)") }
        guard case .object(let object) = value, object.count == 1, let (kind, body) = object.first else {
            throw .invalid("\(path) must be an object with exactly one constraint kind")
        }
        let at = "\(path).\(kind)"
        switch kind {
        case "exact":
            guard CanonicalJSON.serialize(body).utf8.count <= maximumStringBytes * 4 else { throw .invalid("\(at) is too large") }
            if let n = inexactNumber(in: body) {
                throw .invalid("\(at) has the number \(n.canonical), with more than \(maximumSignificantDigits) significant digits: it cannot be compared exactly")
            }
            return .exact(body)
        case "one_of": return .oneOf(try parseValues(body, at: at))
        case "not_one_of": return .notOneOf(try parseValues(body, at: at))
        case "contains": return .contains(try parseValues(body, at: at))
        case "subset": return .subset(try parseValues(body, at: at))
        case "range": return .range(try parseRange(body, at: at, kind: kind))
        case "pattern":
            let pattern = try parseString(body, at: at)
            if let problem = Glob.problem(with: pattern) { throw .invalid("\(at) \(problem)") }
            return .pattern(Glob(pattern))
        case "regex":
            let source = try parseString(body, at: at)
            do {
                return .regex(try LinearRegex(source))
            } catch {
                throw .invalid("\(at) is not an accepted linear-time regex: \(error)")
            }
        case "subpath":
            let root = try parseString(body, at: at)
            guard root.hasPrefix("/"), let normalized = ResourcePath.normalize(root), normalized == root || normalized + "/" == root else {
                throw .invalid("\(at) must be a normalised absolute path (no . or .. segments, no encoding)")
            }
            return .subpath(normalized)
        case "url": return .url(try parseURLRule(body, at: at, kind: kind))
        case "cidr": return .cidr(try parseNetworks(body, at: at))
        case "shell": return .shell(try parseShellRule(body, at: at, kind: kind))
        case "wildcard":
            guard case .object(let o) = body, o.isEmpty else { throw .invalid("\(at) must be an empty object") }
            return .wildcard
        case "all": return .all(try parseMembers(body, at: at, depth: depth))
        case "any": return .any(try parseMembers(body, at: at, depth: depth))
        case "not": return .not(try parse(body, path: at, depth: depth + 1))
        default:
            throw .invalid("\(path) has an unknown constraint kind \(kind)")
        }
    }

    /// The canonical forms of a value list (`one_of`, `not_one_of`, `contains`, `subset`) at `at`.
    private static func parseValues(_ body: JSONValue, at: String) throws(MissionError) -> Set<String> {
        guard case .array(let items) = body, !items.isEmpty else { throw .invalid("\(at) must be a non-empty array") }
        guard items.count <= maximumValues else { throw .invalid("\(at) has \(items.count) values; at most \(maximumValues)") }
        var out = Set<String>()
        for (i, item) in items.enumerated() {
            if let n = inexactNumber(in: item) {
                throw .invalid("\(at)[\(i)] has the number \(n.canonical), with more than \(maximumSignificantDigits) significant digits: it cannot be compared exactly")
            }
            let canonical = CanonicalJSON.serialize(item)
            guard canonical.utf8.count <= maximumStringBytes else { throw .invalid("\(at)[\(i)] is longer than \(maximumStringBytes) bytes") }
            out.insert(canonical)
        }
        return out
    }

    private static func parseString(_ body: JSONValue, at where_: String) throws(MissionError) -> String {
        guard case .string(let s) = body, !s.isEmpty, s.utf8.count <= maximumStringBytes else {
            throw .invalid("\(where_) must be a non-empty string of at most \(maximumStringBytes) bytes")
        }
        return s
    }

    /// nil when the member is absent.
    private static func parseStrings(_ body: JSONValue?, at where_: String) throws(MissionError) -> [String]? {
        guard let body else { return nil }
        guard case .array(let items) = body, !items.isEmpty, items.count <= maximumValues else {
            throw .invalid("\(where_) must be a non-empty array of at most \(maximumValues) strings")
        }
        var out: [String] = []
        for (i, item) in items.enumerated() { out.append(try parseString(item, at: "\(where_)[\(i)]")) }
        return out
    }

    /// The members of an `all` or `any` found at `depth`, each parsed one level deeper.
    private static func parseMembers(_ body: JSONValue, at: String, depth: Int) throws(MissionError) -> [ArgumentConstraint] {
        guard case .array(let items) = body, !items.isEmpty, items.count <= maximumMembers else {
            throw .invalid("\(at) must be a non-empty array of at most \(maximumMembers) constraints")
        }
        var out: [ArgumentConstraint] = []
        for (i, item) in items.enumerated() { out.append(try parse(item, path: "\(at)[\(i)]", depth: depth + 1)) }
        return out
    }

    /// The members of an object-bodied kind (`range`, `url`, `shell`), refusing any not `allowed`.
    private static func parseFields(_ body: JSONValue, at: String, kind: String, allowed: Set<String>) throws(MissionError) -> [String: JSONValue] {
        guard case .object(let o) = body else { throw .invalid("\(at) must be an object") }
        if let unknown = o.keys.sorted().first(where: { !allowed.contains($0) }) { throw .invalid("\(at).\(unknown) is not a member of \(kind)") }
        return o
    }

    private static func parseRange(_ body: JSONValue, at: String, kind: String) throws(MissionError) -> NumberRange {
        let o = try parseFields(body, at: at, kind: kind, allowed: ["min", "max", "exclusive_min", "exclusive_max"])
        func bound(_ name: String) throws(MissionError) -> JSONNumber? {
            guard let v = o[name], v != .null else { return nil }
            guard case .number(let n) = v, n.significantDigits <= maximumSignificantDigits, n.survivesDecimal else {
                throw .invalid("\(at).\(name) must be a number of at most \(maximumSignificantDigits) significant digits")
            }
            return n
        }
        func flag(_ name: String) throws(MissionError) -> Bool {
            guard let v = o[name] else { return false }
            guard case .bool(let b) = v else { throw .invalid("\(at).\(name) must be a boolean") }
            return b
        }
        let range = NumberRange(min: try bound("min"), max: try bound("max"), exclusiveMin: try flag("exclusive_min"), exclusiveMax: try flag("exclusive_max"))
        guard range.min != nil || range.max != nil else { throw .invalid("\(at) needs min or max") }
        if let lo = range.min, let hi = range.max, lo > hi { throw .invalid("\(at).min is greater than max") }
        return range
    }

    private static func parseURLRule(_ body: JSONValue, at: String, kind: String) throws(MissionError) -> URLRule {
        let o = try parseFields(body, at: at, kind: kind, allowed: ["schemes", "hosts", "ports", "path_prefix"])
        let schemes = try parseStrings(o["schemes"], at: "\(at).schemes") ?? ["http", "https"]
        for (i, s) in schemes.enumerated() where s != s.lowercased() || !s.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) {
            throw .invalid("\(at).schemes[\(i)] must be a lowercase scheme name")
        }
        let hosts = try parseURLHosts(o["hosts"], at: at)
        let ports = try parseURLPorts(o["ports"], at: at)
        var prefix: String?
        if let v = o["path_prefix"] {
            let p = try parseString(v, at: "\(at).path_prefix")
            guard p.hasPrefix("/"), let normalized = ResourcePath.normalize(p), normalized == p || normalized + "/" == p else {
                throw .invalid("\(at).path_prefix must be a normalised absolute path")
            }
            prefix = normalized
        }
        return URLRule(schemes: Set(schemes), schemesGiven: o["schemes"] != nil, hosts: hosts, ports: ports, pathPrefix: prefix)
    }

    /// A `url` rule's `hosts` (nil when absent): exact hosts, and `*.suffix` entries as `.suffix`.
    private static func parseURLHosts(_ value: JSONValue?, at: String) throws(MissionError) -> Set<String>? {
        guard let list = try parseStrings(value, at: "\(at).hosts") else { return nil }
        var out = Set<String>()
        for (i, entry) in list.enumerated() {
            let wildcard = entry.hasPrefix("*.")
            let name = wildcard ? String(entry.dropFirst(2)) : entry
            let probe = name.hasPrefix("[") ? "https://\(name)/" : "https://\(name)/"
            guard let parsed = StrictURL(probe), parsed.host == name.lowercased() || "[" + parsed.host + "]" == name, !name.hasSuffix(".") else {
                throw .invalid("\(at).hosts[\(i)] must be a lowercase host name, IP literal, or *.domain: \(entry)")
            }
            guard !wildcard || name.contains(".") else { throw .invalid("\(at).hosts[\(i)] wildcard must cover a domain with a dot: \(entry)") }
            out.insert(wildcard ? "." + parsed.host : parsed.host)
        }
        return out
    }

    /// A `url` rule's `ports` (nil when absent).
    private static func parseURLPorts(_ value: JSONValue?, at: String) throws(MissionError) -> Set<Int>? {
        guard let v = value else { return nil }
        guard case .array(let items) = v, !items.isEmpty, items.count <= maximumValues else { throw .invalid("\(at).ports must be a non-empty array of port numbers") }
        var out = Set<Int>()
        for (i, item) in items.enumerated() {
            guard case .number(let n) = item, let port = n.int, (1...65535).contains(port) else { throw .invalid("\(at).ports[\(i)] must be 1-65535") }
            out.insert(port)
        }
        return out
    }

    private static func parseNetworks(_ body: JSONValue, at: String) throws(MissionError) -> [IPNetwork] {
        guard let list = try parseStrings(body, at: at) else { throw .invalid("\(at) must be an array of networks") }
        var networks: [IPNetwork] = []
        for (i, entry) in list.enumerated() {
            guard let network = IPNetwork(entry) else {
                throw .invalid("\(at)[\(i)] must be an IPv4 or IPv6 network with its host bits zero: \(entry)")
            }
            networks.append(network)
        }
        return networks
    }

    private static func parseShellRule(_ body: JSONValue, at: String, kind: String) throws(MissionError) -> ShellRule {
        let o = try parseFields(body, at: at, kind: kind, allowed: ["programs", "allow_args"])
        guard let programs = try parseStrings(o["programs"], at: "\(at).programs") else { throw .invalid("\(at).programs is required") }
        for (i, p) in programs.enumerated() where (try? ShellWords.split(p)) != [p] {
            throw .invalid("\(at).programs[\(i)] must be one plain word")
        }
        return ShellRule(programs: Set(programs), allowArgs: try parseStrings(o["allow_args"], at: "\(at).allow_args"))
    }

    // MARK: Checking

    /// What a check concluded. `unknown` is a value the constraint cannot read (not a URL, not a
    /// canonical address, the wrong type, too long): it is neither inside nor outside, so it
    /// fails the constraint *and* fails `not` of it — a value the inner parser cannot read must
    /// never be permitted by negation (`not cidr [127.0.0.0/8]` and `127.1`, `0x7f.0.0.1`, …).
    /// `all`/`any` combine as Kleene's three-valued logic.
    public enum Outcome: Sendable, Equatable {
        case pass
        case fail(String)
        case unknown(String)

        var failure: String? {
            switch self {
            case .pass: nil
            case .fail(let why), .unknown(let why): why
            }
        }
    }

    /// Why `value` fails this constraint, or nil when it passes.
    ///
    /// A number whose digits a double cannot hold (`9007199254740993`, `1e-400`,
    /// `999.99999999999999999`) is read exactly by some tools and as the nearest double by most
    /// (Python, JavaScript, Go's float64): the value passes only if it passes both ways, so no
    /// tool can act on a number the constraint refused.
    public func check(_ value: JSONValue) -> String? {
        if let failure = outcome(value).failure { return failure }
        if let rounded = value.roundedToDoubles, let failure = roundedToDoubles.outcome(rounded).failure {
            return failure + " (as a reader of double-precision numbers sees it)"
        }
        return nil
    }

    /// This constraint as a reader of doubles sees it: every number in it rounded to its nearest
    /// double (`exact 9007199254740993` is `exact 9007199254740992` there). Built only for a
    /// value that holds such a number, which is rare.
    var roundedToDoubles: ArgumentConstraint {
        func rounded(_ set: Set<String>) -> Set<String> {
            Set(set.map { text in
                guard let value = try? StrictJSON.parse(Array(text.utf8)), let r = value.roundedToDoubles else { return text }
                return CanonicalJSON.serialize(r)
            })
        }
        func rounded(_ n: JSONNumber?) -> JSONNumber? { n.map { JSONNumber($0.double) } }
        switch self {
        case .exact(let v): return .exact(v.roundedToDoubles ?? v)
        case .oneOf(let set): return .oneOf(rounded(set))
        case .notOneOf(let set): return .notOneOf(rounded(set))
        case .contains(let set): return .contains(rounded(set))
        case .subset(let set): return .subset(rounded(set))
        case .range(var r):
            r.min = rounded(r.min)
            r.max = rounded(r.max)
            return .range(r)
        case .all(let members): return .all(members.map(\.roundedToDoubles))
        case .any(let members): return .any(members.map(\.roundedToDoubles))
        case .not(let inner): return .not(inner.roundedToDoubles)
        default: return self
        }
    }

    /// Whether `value` satisfies this constraint in either reading (exact, or rounded to
    /// doubles): what an approval condition asks, so that no reading escapes an approval.
    public func matchesInAnyReading(_ value: JSONValue) -> Bool {
        if outcome(value) == .pass { return true }
        if let rounded = value.roundedToDoubles { return roundedToDoubles.outcome(rounded) == .pass }
        return false
    }

    /// The three-valued check (see ``Outcome``).
    public func outcome(_ value: JSONValue) -> Outcome {
        func verdict(_ why: String?) -> Outcome { why.map(Outcome.fail) ?? .pass }
        switch self {
        case .wildcard:
            return .pass
        // Allowing comparisons are on the canonical form's bytes: Swift's `String` equality (and
        // `Set` membership) is Unicode canonical equivalence, under which "café" spelt with a
        // combining accent equals the precomposed one — a different file name to the tool.
        case .exact(let expected):
            return CanonicalJSON.serialize(value).utf8.elementsEqual(CanonicalJSON.serialize(expected).utf8) ? .pass : .fail("not the exact value allowed")
        case .oneOf(let allowed):
            return Self.holds(allowed, CanonicalJSON.serialize(value)) ? .pass : .fail("not one of the allowed values")
        case .notOneOf(let refused):
            return refused.contains(CanonicalJSON.serialize(value)) ? .fail("a refused value") : .pass
        case .range(let r):
            return Self.rangeOutcome(r, value)
        case .pattern(let glob):
            return Self.patternOutcome(glob, value)
        case .regex(let regex):
            guard case .string(let s) = value else { return .unknown("not a string") }
            guard s.unicodeScalars.count <= Self.maximumCheckedStringScalars else { return .unknown("string longer than \(Self.maximumCheckedStringScalars) characters") }
            return regex.matches(s) ? .pass : .fail("does not match the regex")
        case .subpath(let root):
            return Self.subpathOutcome(root, value)
        case .url(let rule):
            return Self.urlOutcome(rule, value)
        case .cidr(let networks):
            guard case .string(let s) = value else { return .unknown("not a string") }
            guard let address = IPAddress(s) else { return .unknown("not a canonical IP address") }
            return networks.contains { $0.contains(address) } ? .pass : .fail("\(address.text) is outside the allowed networks")
        case .shell(let rule):
            return Self.shellOutcome(rule, value)
        case .contains(let required):
            guard case .array(let items) = value else { return .unknown("not an array") }
            let present = Set(items.map(CanonicalJSON.serialize))
            return required.allSatisfy({ Self.holds(present, $0) }) ? .pass : .fail("does not contain every required value")
        case .subset(let allowed):
            guard case .array(let items) = value else { return .unknown("not an array") }
            return items.allSatisfy({ Self.holds(allowed, CanonicalJSON.serialize($0)) }) ? .pass : .fail("has a value outside the allowed set")
        case .all(let members):
            return Self.allOutcome(members, value)
        case .any(let members):
            return Self.anyOutcome(members, value)
        case .not(let inner):
            switch inner.negatable.outcome(value) {
            case .pass: return .fail("matches a refused \(inner.kind) constraint")
            case .fail: return .pass
            case .unknown(let why): return .unknown("cannot be judged against a refused \(inner.kind) constraint (\(why))")
            }
        }
    }

    private static func rangeOutcome(_ r: NumberRange, _ value: JSONValue) -> Outcome {
        guard case .number(let n) = value else { return .unknown("not a number") }
        if let lo = r.min, r.exclusiveMin ? !(lo < n) : n < lo { return .fail("\(n.canonical) is below the minimum \(lo.canonical)") }
        if let hi = r.max, r.exclusiveMax ? !(n < hi) : hi < n { return .fail("\(n.canonical) is above the maximum \(hi.canonical)") }
        return .pass
    }

    /// An absolute pattern is matched against the normalised path, any other against the raw string.
    private static func patternOutcome(_ glob: Glob, _ value: JSONValue) -> Outcome {
        guard case .string(let s) = value else { return .unknown("not a string") }
        if glob.pattern.hasPrefix("/") {
            guard let normalized = ResourcePath.normalize(s) else { return .unknown("invalid path") }
            return glob.matches(normalized) ? .pass : .fail("\(normalized) does not match \(glob.pattern)")
        }
        return glob.matches(s) ? .pass : .fail("does not match \(glob.pattern)")
    }

    private static func subpathOutcome(_ root: String, _ value: JSONValue) -> Outcome {
        guard case .string(let s) = value else { return .unknown("not a string") }
        guard let path = ResourcePath.normalize(s), path.hasPrefix("/") else {
            return .unknown("not an absolute path, escapes the root, or is badly encoded")
        }
        return Self.isUnder(path, root) ? .pass : .fail("\(path) is outside \(root)")
    }

    private static func urlOutcome(_ rule: URLRule, _ value: JSONValue) -> Outcome {
        guard case .string(let s) = value else { return .unknown("not a string") }
        guard let url = StrictURL(s) else { return .unknown("not a URL that can be read unambiguously") }
        if !rule.negated || rule.schemesGiven {
            guard rule.schemes.contains(url.scheme) else { return .fail("scheme \(url.scheme) not allowed") }
        }
        if let hosts = rule.hosts, !Self.hostAllowed(url.host, hosts) { return .fail("host \(url.host) not allowed") }
        if let ports = rule.ports {
            guard ports.contains(url.port) else { return .fail("port \(url.port) not allowed") }
        } else if !rule.negated, url.port != StrictURL.defaultPorts[url.scheme] {
            return .fail("port \(url.port) not allowed (only the scheme's default)")
        }
        if let prefix = rule.pathPrefix, !Self.isUnder(url.path, prefix) { return .fail("path \(url.path) is outside \(prefix)") }
        return .pass
    }

    private static func shellOutcome(_ rule: ShellRule, _ value: JSONValue) -> Outcome {
        guard case .string(let s) = value else { return .unknown("not a string") }
        guard s.unicodeScalars.count <= Self.maximumCheckedStringScalars else { return .unknown("command longer than \(Self.maximumCheckedStringScalars) characters") }
        let words: [String]
        do {
            words = try ShellWords.split(s)
        } catch {
            return .unknown(error.description)
        }
        guard rule.programs.contains(words[0]) else { return .fail("program \(words[0]) not allowed") }
        if let allowed = rule.allowArgs {
            // Words are matched joined by single spaces: a word that itself holds a blank
            // (`git 'log --oneline'`) would read as two words and match a pattern meant for
            // two. Such a word cannot be judged against `allow_args`.
            if words.dropFirst().contains(where: { $0.utf8.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) }) {
                return .unknown("an argument containing a blank cannot be matched against allow_args")
            }
            let args = words.dropFirst().joined(separator: " ")
            guard allowed.contains(where: { Self.wildcard($0, args) }) else { return .fail("arguments \"\(args)\" not allowed") }
        }
        return .pass
    }

    /// Kleene conjunction: any failure fails; else the first unknown; else pass.
    private static func allOutcome(_ members: [ArgumentConstraint], _ value: JSONValue) -> Outcome {
        var unknown: String?
        for member in members {
            switch member.outcome(value) {
            case .pass: continue
            case .fail(let why): return .fail(why)
            case .unknown(let why): if unknown == nil { unknown = why }
            }
        }
        return unknown.map(Outcome.unknown) ?? .pass
    }

    /// Kleene disjunction: any pass passes; else the first unknown; else fail.
    private static func anyOutcome(_ members: [ArgumentConstraint], _ value: JSONValue) -> Outcome {
        var unknown: String?
        for member in members {
            switch member.outcome(value) {
            case .pass: return .pass
            case .fail: continue
            case .unknown(let why): if unknown == nil { unknown = why }
            }
        }
        return unknown.map(Outcome.unknown) ?? .fail("matches none of the alternatives")
    }

    /// Whether `set` holds `text` byte for byte (not merely a canonically equivalent string).
    static func holds(_ set: Set<String>, _ text: String) -> Bool {
        guard let index = set.firstIndex(of: text) else { return false }
        return set[index].utf8.elementsEqual(text.utf8)
    }

    /// This constraint as the inside of a `not`: a `url` rule restricts only by what it names
    /// (see ``URLRule/negated``), through `all` and `any`; a nested `not` is positive again.
    var negatable: ArgumentConstraint {
        switch self {
        case .url(var rule):
            rule.negated = true
            return .url(rule)
        case .all(let members): return .all(members.map(\.negatable))
        case .any(let members): return .any(members.map(\.negatable))
        default: return self
        }
    }

    // MARK: Cost

    /// An upper bound on the steps checking `value` against this constraint can take: the
    /// regex simulation is O(program × text), glob and wildcard matching O(pattern × text),
    /// the rest linear in the value. Evaluation refuses a call whose arguments cost more than
    /// its budget *before* running any check, so no call can buy seconds of CPU with a long
    /// argument against a legal but large regex.
    public func cost(_ value: JSONValue) -> Int {
        cost(length: Self.length(value))
    }

    /// The value's size, walked once per argument (a constraint tree must not walk it again per
    /// leaf: `all` of thousands of cheap leaves over a large array would cost leaves × size).
    static func length(_ value: JSONValue) -> Int {
        switch value {
        case .string(let s): s.utf8.count + 1
        case .array(let items): items.reduce(1) { $0 + length($1) }
        case .object(let members): members.reduce(1) { $0 + $1.key.utf8.count + length($1.value) }
        default: 8
        }
    }

    /// The cost for a value of `length`: O(this constraint's tree), never O(the value).
    func cost(length: Int) -> Int {
        switch self {
        case .regex(let regex): return Self.saturating(length + 1, max(1, regex.programSize))
        case .pattern(let glob): return Self.saturating(length, max(1, glob.pattern.utf8.count))
        case .shell(let rule): return Self.saturating(length, max(1, (rule.allowArgs ?? []).reduce(1) { $0 + $1.utf8.count }))
        case .all(let members), .any(let members): return members.reduce(0) { Self.saturating(sum: $0, $1.cost(length: length)) }
        case .not(let inner): return inner.cost(length: length)
        default: return length
        }
    }

    static func saturating(_ a: Int, _ b: Int) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : product
    }

    static func saturating(sum a: Int, _ b: Int) -> Int {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : total
    }

    /// What this constraint weighs whatever the value (program and pattern sizes): bounded per
    /// tool at `/issue` and `/delegate`, so that wrapping a large regex in `all` with the
    /// parent's constraint — which passes attenuation — cannot multiply the work.
    public var weight: Int {
        switch self {
        case .regex(let regex): return regex.programSize
        case .pattern(let glob): return glob.pattern.utf8.count
        case .shell(let rule): return (rule.allowArgs ?? []).reduce(1) { $0 + $1.utf8.count }
        case .all(let members), .any(let members): return members.reduce(1) { $0 + $1.weight }
        case .not(let inner): return 1 + inner.weight
        default: return 1
        }
    }

    /// Compared as bytes: both sides are normalised paths, and `String.hasPrefix` (canonical
    /// equivalence, plus building `root + "/"`) cost more than the rest of a subpath check.
    static func isUnder(_ path: String, _ root: String) -> Bool {
        let p = path.utf8, r = root.utf8
        if r.elementsEqual([UInt8(ascii: "/")]) || p.elementsEqual(r) { return true }
        guard p.starts(with: r) else { return false }
        if r.last == UInt8(ascii: "/") { return true }
        let next = p.index(p.startIndex, offsetBy: r.count)
        return next != p.endIndex && p[next] == UInt8(ascii: "/")
    }

    static func hostAllowed(_ host: String, _ hosts: Set<String>) -> Bool {
        if hosts.contains(host) { return true }
        // `.suffix` entries: any strict subdomain.
        var rest = Substring(host)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[dot...]
            if hosts.contains(String(rest)) { return true }
            rest = rest.dropFirst()
        }
        return false
    }

    /// `*` matches any run of characters (including none); everything else literally. Linear.
    static func wildcard(_ pattern: String, _ text: String) -> Bool {
        var pattern = pattern, text = text
        // Native strings are contiguous UTF-8: match in place instead of copying both to arrays.
        pattern.makeContiguousUTF8()
        text.makeContiguousUTF8()
        return pattern.utf8.withContiguousStorageIfAvailable { p in
            text.utf8.withContiguousStorageIfAvailable { t in
                Glob.wildcard(
                    patternCount: p.count, textCount: t.count, isStar: { p[$0] == UInt8(ascii: "*") }, matches: { p[$0] == t[$1] })
            }
        }! ?? false
    }

    // MARK: Attenuation

    /// Whether every value this constraint accepts is accepted by `parent` — proved kind by kind.
    /// Conservative: false whenever it cannot prove it (the delegation is then refused).
    public func implies(_ parent: ArgumentConstraint) -> Bool {
        if self == parent { return true }
        switch (self, parent) {
        case (_, .wildcard): return true
        case (_, .all(let ps)): return ps.allSatisfy { implies($0) }
        case (.any(let cs), _): return cs.allSatisfy { $0.implies(parent) }
        case (.all(let cs), _): return cs.contains { $0.implies(parent) }
        case (_, .any(let ps)): return ps.contains { implies($0) }
        case (.exact(let v), _): return parent.check(v) == nil
        case (.oneOf(let vs), _):
            return vs.allSatisfy { text in (try? StrictJSON.parse(Array(text.utf8))).map { parent.check($0) == nil } ?? false }
        case (.notOneOf(let c), .notOneOf(let p)): return p.isSubset(of: c)
        case (.range(let c), .range(let p)):
            let lowOK: Bool = {
                guard let pl = p.min else { return true }
                guard let cl = c.min else { return false }
                return cl > pl || (cl == pl && (c.exclusiveMin || !p.exclusiveMin))
            }()
            let highOK: Bool = {
                guard let ph = p.max else { return true }
                guard let ch = c.max else { return false }
                return ch < ph || (ch == ph && (c.exclusiveMax || !p.exclusiveMax))
            }()
            return lowOK && highOK
        case (.subpath(let c), .subpath(let p)): return Self.isUnder(c, p)
        case (.subpath(let c), .pattern(let p)): return p.pattern.hasPrefix("/") && p.covers(Glob(c)) && p.covers(Glob(c == "/" ? "/**" : c + "/**"))
        case (.pattern(let c), .pattern(let p)): return p.covers(c)
        case (.url(let c), .url(let p)):
            // Negated rules restrict only by what they name: proved only when identical.
            if c.negated || p.negated { return c == p }
            guard c.schemes.isSubset(of: p.schemes) else { return false }
            if let ph = p.hosts {
                guard let ch = c.hosts else { return false }
                guard ch.allSatisfy({ h in h.hasPrefix(".") ? ph.contains(h) || Self.hostAllowed(String(h.dropFirst()), ph.filter { $0.hasPrefix(".") }) : Self.hostAllowed(h, ph) }) else { return false }
            }
            let childPorts = c.ports ?? Set(c.schemes.compactMap { StrictURL.defaultPorts[$0] })
            let parentPorts = p.ports ?? Set(c.schemes.compactMap { StrictURL.defaultPorts[$0] })
            if p.ports != nil || c.ports != nil { guard childPorts.isSubset(of: parentPorts) else { return false } }
            if p.ports == nil, c.ports != nil {
                // The parent allows only each scheme's default port.
                guard c.schemes.allSatisfy({ s in childPorts == [StrictURL.defaultPorts[s] ?? -1] }) else { return false }
            }
            if let pp = p.pathPrefix {
                guard let cp = c.pathPrefix, Self.isUnder(cp, pp) else { return false }
            }
            return true
        case (.cidr(let c), .cidr(let p)): return c.allSatisfy { cn in p.contains { $0.contains(cn) } }
        case (.shell(let c), .shell(let p)):
            guard c.programs.isSubset(of: p.programs) else { return false }
            guard let pa = p.allowArgs else { return true }
            guard let ca = c.allowArgs else { return false }
            return ca.allSatisfy { a in pa.contains(a) || pa.contains("*") || (!a.contains("*") && pa.contains { Self.wildcard($0, a) }) }
        case (.contains(let c), .contains(let p)): return p.isSubset(of: c)
        case (.subset(let c), .subset(let p)): return c.isSubset(of: p)
        case (.not(let c), .not(let p)): return p.negatable.implies(c.negatable)
        default: return false
        }
    }
}
