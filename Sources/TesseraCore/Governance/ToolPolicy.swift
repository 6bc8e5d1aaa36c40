import Foundation

/// One entry of a mission's `tools`: the tool's arguments and their constraints (closed world
/// unless `allow_unknown_arguments`), and whether a call needs human approval.
public struct ToolPolicy: Sendable, Equatable {
    public struct Argument: Sendable, Equatable {
        public var constraint: ArgumentConstraint
        /// `{"optional": C}`: the argument may be absent; when present it must satisfy C.
        public var optional: Bool
    }

    public struct Approval: Sendable, Equatable {
        /// Only calls whose arguments satisfy every `when` constraint need approval; nil = all.
        public var when: [String: ArgumentConstraint]?
        /// `role:NAME` or `user:USERNAME`.
        public var approvers: [String]
        public var minApprovals: Int
        public var ttlSeconds: Int
    }

    public var arguments: [String: Argument] {
        didSet { orderedArguments = arguments.sorted { $0.key < $1.key } }
    }
    public var allowUnknownArguments: Bool
    public var approval: Approval?
    /// The named arguments in a fixed order, computed once (evaluation must not sort per call).
    var orderedArguments: [(key: String, value: Argument)]

    public init(arguments: [String: Argument], allowUnknownArguments: Bool, approval: Approval?) {
        self.arguments = arguments
        self.allowUnknownArguments = allowUnknownArguments
        self.approval = approval
        self.orderedArguments = arguments.sorted { $0.key < $1.key }
    }

    public static func == (a: ToolPolicy, b: ToolPolicy) -> Bool {
        a.arguments == b.arguments && a.allowUnknownArguments == b.allowUnknownArguments && a.approval == b.approval
    }

    public static let maximumArguments = 64
    public static let maximumTools = 256

    /// Parses a tool entry; errors name their JSON path (`mission.tools.fetch.arguments.url.url.hosts[2]`).
    public static func parse(_ value: JSONValue, path: String) throws(MissionError) -> ToolPolicy {
        guard case .object(let entry) = value else { throw .invalid("\(path) must be an object") }
        let known: Set<String> = ["arguments", "allow_unknown_arguments", "requires_approval"]
        if let unknown = entry.keys.sorted().first(where: { !known.contains($0) }) { throw .invalid("\(path).\(unknown) is not a tool entry member") }
        var arguments: [String: Argument] = [:]
        if let args = entry["arguments"] {
            guard case .object(let object) = args else { throw .invalid("\(path).arguments must be an object") }
            guard object.count <= maximumArguments else { throw .invalid("\(path).arguments has more than \(maximumArguments) arguments") }
            for name in object.keys.sorted() {
                let at = "\(path).arguments.\(name)"
                guard !name.isEmpty, name.utf8.count <= 256 else { throw .invalid("\(at): argument names are 1-256 bytes") }
                let raw = object[name]!
                if case .object(let o) = raw, o.count == 1, let inner = o["optional"] {
                    arguments[name] = Argument(constraint: try ArgumentConstraint.parse(inner, path: "\(at).optional"), optional: true)
                } else {
                    arguments[name] = Argument(constraint: try ArgumentConstraint.parse(raw, path: at), optional: false)
                }
            }
        }
        var allowUnknown = false
        if let flag = entry["allow_unknown_arguments"] {
            guard case .bool(let b) = flag else { throw .invalid("\(path).allow_unknown_arguments must be a boolean") }
            allowUnknown = b
        }
        var approval: Approval?
        if let raw = entry["requires_approval"] {
            approval = try parseApproval(raw, path: "\(path).requires_approval")
        }
        return ToolPolicy(arguments: arguments, allowUnknownArguments: allowUnknown, approval: approval)
    }

    static func parseApproval(_ raw: JSONValue, path: String) throws(MissionError) -> Approval {
        guard case .object(let o) = raw else { throw .invalid("\(path) must be an object") }
        let known: Set<String> = ["when", "approvers", "min_approvals", "ttl_s"]
        if let unknown = o.keys.sorted().first(where: { !known.contains($0) }) { throw .invalid("\(path).\(unknown) is not a member of requires_approval") }
        var when: [String: ArgumentConstraint]?
        if let w = o["when"] {
            guard case .object(let conditions) = w, !conditions.isEmpty, conditions.count <= maximumArguments else {
                throw .invalid("\(path).when must be a non-empty object of argument constraints")
            }
            var out: [String: ArgumentConstraint] = [:]
            for name in conditions.keys.sorted() { out[name] = try ArgumentConstraint.parse(conditions[name]!, path: "\(path).when.\(name)") }
            when = out
        }
        guard case .array(let list)? = o["approvers"], !list.isEmpty, list.count <= 64 else {
            throw .invalid("\(path).approvers must be a non-empty array of \"role:NAME\" or \"user:USERNAME\"")
        }
        var approvers: [String] = []
        for (i, item) in list.enumerated() {
            guard case .string(let s) = item, (s.hasPrefix("role:") || s.hasPrefix("user:")), s.count > 5, s.utf8.count <= 256 else {
                throw .invalid("\(path).approvers[\(i)] must be \"role:NAME\" or \"user:USERNAME\"")
            }
            approvers.append(s)
        }
        var minimum = 1
        if let m = o["min_approvals"] {
            guard case .number(let n) = m, let integer = n.int, (1...16).contains(integer) else { throw .invalid("\(path).min_approvals must be an integer from 1 to 16") }
            minimum = integer
        }
        var ttl = 900
        if let t = o["ttl_s"] {
            guard case .number(let n) = t, let integer = n.int, (1...86_400).contains(integer) else { throw .invalid("\(path).ttl_s must be an integer from 1 to 86400") }
            ttl = integer
        }
        return Approval(when: when, approvers: approvers, minApprovals: minimum, ttlSeconds: ttl)
    }

    /// Parses a mission's whole `tools` object.
    public static func parseAll(_ value: JSONValue, path: String) throws(MissionError) -> [String: ToolPolicy] {
        guard case .object(let tools) = value else { throw .invalid("\(path) must be an object from tool name to tool entry") }
        guard tools.count <= maximumTools else { throw .invalid("\(path) has more than \(maximumTools) tools") }
        var out: [String: ToolPolicy] = [:]
        for name in tools.keys.sorted() {
            guard !name.isEmpty, name.utf8.count <= Evaluator.maxToolNameBytes else { throw .invalid("\(path): tool names are 1-256 bytes") }
            let policy = try parse(tools[name]!, path: "\(path).\(name)")
            guard policy.weight <= maximumWeight else {
                throw .invalid("\(path).\(name): its constraints are too costly to evaluate (weight \(policy.weight); at most \(maximumWeight): regex states and pattern lengths, summed)")
            }
            out[name] = policy
        }
        return out
    }

    /// A violation: the argument, the constraint kind that failed, and why.
    public struct Violation: Sendable, Equatable, Codable {
        public var argument: String
        public var constraint: String
        public var detail: String
        public init(argument: String, constraint: String, detail: String) {
            self.argument = argument
            self.constraint = constraint
            self.detail = detail
        }
    }

    /// Steps at most that checking `arguments` against this entry can take (see
    /// ``ArgumentConstraint/cost(_:)``), approval conditions included.
    public func cost(_ arguments: [String: JSONValue]) -> Int {
        var total = 0
        for (name, rule) in orderedArguments {
            if let value = arguments[name] { total = ArgumentConstraint.saturating(sum: total, rule.constraint.cost(value)) }
        }
        if let when = approval?.when {
            for (name, constraint) in when {
                if let value = arguments[name] { total = ArgumentConstraint.saturating(sum: total, constraint.cost(value)) }
            }
        }
        return total
    }

    /// What this entry's constraints weigh whatever the call (see ``ArgumentConstraint/weight``).
    public var weight: Int {
        arguments.values.reduce(0) { $0 + $1.constraint.weight } + (approval?.when?.values.reduce(0) { $0 + $1.weight } ?? 0)
    }

    /// The most a tool entry may weigh: a few large regexes, not thousands of states wrapped in
    /// `all`/`any` to multiply each call's work.
    public static let maximumWeight = 12_000

    /// Every violation of this entry by `arguments` (empty = the arguments are acceptable).
    public func violations(_ arguments: [String: JSONValue]) -> [Violation] {
        var out: [Violation] = []
        if !allowUnknownArguments, arguments.keys.contains(where: { self.arguments[$0] == nil }) {
            for name in arguments.keys.sorted() where self.arguments[name] == nil {
                out.append(Violation(argument: name, constraint: "unknown_argument", detail: "\(name) is not an argument this tool may receive"))
            }
        }
        for (name, rule) in orderedArguments {
            guard let value = arguments[name] else {
                if !rule.optional { out.append(Violation(argument: name, constraint: "missing_argument", detail: "\(name) is required")) }
                continue
            }
            if let failure = rule.constraint.check(value) {
                out.append(Violation(argument: name, constraint: rule.constraint.kind, detail: failure))
            }
        }
        return out
    }

    /// Whether this call needs approval.
    public func needsApproval(_ arguments: [String: JSONValue]) -> Bool {
        guard let approval else { return false }
        guard let when = approval.when else { return true }
        return when.allSatisfy { name, constraint in arguments[name].map { constraint.matchesInAnyReading($0) } ?? false }
    }

    /// Why `child` is wider than this entry, naming the argument; nil when it is provably no wider.
    public func widening(by child: ToolPolicy, tool: String) -> String? {
        if child.allowUnknownArguments && !allowUnknownArguments {
            return "\(tool): allow_unknown_arguments cannot be turned on by a child"
        }
        for name in arguments.keys.sorted() {
            let parentRule = arguments[name]!
            guard let childRule = child.arguments[name] else {
                return "\(tool).arguments.\(name): a child cannot drop the parent's constraint"
            }
            if childRule.optional && !parentRule.optional { return "\(tool).arguments.\(name): a required argument cannot become optional" }
            if !childRule.constraint.implies(parentRule.constraint) {
                return "\(tool).arguments.\(name): cannot prove the child's \(childRule.constraint.kind) constraint is no wider than the parent's \(parentRule.constraint.kind)"
            }
        }
        if !allowUnknownArguments {
            for name in child.arguments.keys.sorted() where arguments[name] == nil {
                return "\(tool).arguments.\(name): the parent does not allow this argument"
            }
        }
        if let parentApproval = approval, child.approval != parentApproval {
            return "\(tool).requires_approval: a child keeps the parent's approval requirement unchanged"
        }
        return nil
    }
}
