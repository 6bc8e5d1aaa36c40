import Foundation

/// A `/delegate` request, validated. List members are sorted so that a retry with the same
/// lists in another order is the same request.
public struct DelegationRequest: Sendable, Equatable {
    public var parentToken: String
    public var childAgentID: String
    public var childMission: String
    public var childAllowedTools: [String]
    public var childResourceScope: [String]?
    public var childMaxToolCalls: Int?
    public var childTTL: Int?
    public var requestID: String?
    /// RFC 7638 thumbprint the child is bound to. A bound parent's child is always bound: to this
    /// key, or to the parent's own when absent.
    public var childCnfJKT: String?
    /// The parent holder's proof of possession (required when the parent is key-bound).
    public var proof: String?
    /// Tool entries for the child (argument constraints, approvals): each must be provably no
    /// wider than the parent's entry for the same tool, which the child otherwise inherits.
    public var childTools: [String: JSONValue]?

    /// Parses the JSON body; each type error carries the seed's exact message.
    public static func parse(_ object: [String: JSONValue]) throws(MissionError) -> DelegationRequest {
        func string(_ name: String) throws(MissionError) -> String {
            guard case .string(let value)? = object[name], !value.isEmpty, value.utf8.count <= 16 * 1024 else {
                throw .invalid("\(name) must be a non-empty string")
            }
            return value
        }
        func strings(_ name: String) throws(MissionError) -> [String]? {
            guard let value = object[name], value != .null else { return nil }
            guard case .array(let items) = value, items.count <= 1000 else {
                throw .invalid("\(name) must be a JSON array of non-empty strings")
            }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty, s.utf8.count <= 1024 else {
                    throw .invalid("\(name) must be a JSON array of non-empty strings")
                }
                out.append(s)
            }
            return Array(Set(out)).sorted()
        }
        func integer(_ name: String, range: ClosedRange<Int>) throws(MissionError) -> Int? {
            guard let value = object[name], value != .null else { return nil }
            guard case .number(let n) = value, let integer = n.int, range.contains(integer) else {
                throw .invalid("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return integer
        }
        let scope = try strings("child_resource_scope")
        if let scope { try Mission.validateScope(scope, field: "child_resource_scope") }
        guard let tools = try strings("child_allowed_tools") else {
            throw .invalid("child_allowed_tools must be a JSON array of non-empty strings")
        }
        var requestID: String?
        if let value = object["delegation_request_id"], value != .null {
            guard case .string(let id) = value, (1...256).contains(id.utf8.count) else {
                throw .invalid("delegation_request_id must be a string of 1-256 bytes")
            }
            requestID = id
        }
        var childJKT: String?
        if let value = object["child_cnf_jkt"], value != .null {
            guard case .string(let jkt) = value, Base64URL.decode(jkt)?.count == 32 else {
                throw .invalid("child_cnf_jkt must be an RFC 7638 SHA-256 thumbprint")
            }
            childJKT = jkt
        }
        var proof: String?
        if let value = object["proof"], value != .null {
            guard case .string(let p) = value, !p.isEmpty else { throw .invalid("proof must be a compact JWS") }
            proof = p
        }
        var childTools: [String: JSONValue]?
        if let value = object["child_tools"], value != .null {
            let parsed = try ToolPolicy.parseAll(value, path: "child_tools")
            if let stray = parsed.keys.sorted().first(where: { !tools.contains($0) }) {
                throw .invalid("child_tools.\(stray) is not in child_allowed_tools")
            }
            if case .object(let entries) = value { childTools = entries }
        }
        return DelegationRequest(
            parentToken: try string("parent_token"), childAgentID: try string("child_agent_id"),
            childMission: try string("child_mission"), childAllowedTools: tools,
            childResourceScope: scope,
            childMaxToolCalls: try integer("child_max_tool_calls", range: 0...1_000_000_000),
            childTTL: try integer("child_ttl_s", range: 1...(366 * 86400)), requestID: requestID,
            childCnfJKT: childJKT, proof: proof, childTools: childTools)
    }

    /// What makes two requests "the same" for idempotency: every child field, lists normalised.
    public var fingerprint: String {
        var object: [String: JSONValue] = [
            "child_agent_id": .string(childAgentID), "child_mission": .string(childMission),
            "child_allowed_tools": .array(childAllowedTools.map(JSONValue.string)),
        ]
        if let childResourceScope { object["child_resource_scope"] = .array(childResourceScope.map(JSONValue.string)) }
        if let childMaxToolCalls { object["child_max_tool_calls"] = .number(JSONNumber(childMaxToolCalls)) }
        if let childTTL { object["child_ttl_s"] = .number(JSONNumber(childTTL)) }
        if let childCnfJKT { object["child_cnf_jkt"] = .string(childCnfJKT) }
        if let childTools { object["child_tools"] = .object(childTools) }
        return CanonicalJSON.serialize(.object(object))
    }
}

/// Why a delegation was refused: the message is the wire's `error`.
public enum DelegationError: Error, Equatable, Sendable {
    /// The request cannot be granted as written (400, naming the argument).
    case invalid(String)
    case forbidden(String)
    case conflict(String)
    case revoked
}

/// A delegation already granted under a request id, for idempotent retries.
public struct DelegationRecord: Sendable, Equatable {
    public var parentSessionID: String
    public var requestID: String
    public var fingerprint: String
    public var childJTI: String
    public var childToken: String
    public var budget: Int?
    public var parentRemainingAtDelegation: Int?

    public init(parentSessionID: String, requestID: String, fingerprint: String, childJTI: String, childToken: String, budget: Int?, parentRemainingAtDelegation: Int?) {
        self.parentSessionID = parentSessionID
        self.requestID = requestID
        self.fingerprint = fingerprint
        self.childJTI = childJTI
        self.childToken = childToken
        self.budget = budget
        self.parentRemainingAtDelegation = parentRemainingAtDelegation
    }
}

/// Attenuation: a child passport only ever narrows its parent.
public enum Attenuation {
    /// Checks the request against the parent session and builds the child's claims.
    /// The caller reserves `child.max_tool_calls` from the parent in the same transaction.
    public static func child(
        of parent: SessionState, request: DelegationRequest, issuer: String, now: Date
    ) throws(DelegationError) -> PassportClaims {
        let p = parent.passport
        if parent.revoked { throw .revoked }
        if parent.endedAt != nil { throw .forbidden("parent session has ended") }
        guard p.delegation_allowed else { throw .forbidden("scope escalation: the parent passport does not allow delegation") }
        guard p.delegation_depth + 1 <= p.max_delegation_depth else {
            throw .forbidden("scope escalation: delegation depth \(p.delegation_depth + 1) exceeds max_delegation_depth \(p.max_delegation_depth)")
        }
        let parentTools = p.permittedTools
        for tool in request.childAllowedTools where !parentTools.contains(tool) || p.forbidden_tools.contains(tool) {
            throw .forbidden("scope escalation: \(tool) is not in the parent's allowed_tools")
        }
        let childTools = try attenuatedTools(parent: p, request: request)
        // Never weaker than the parent: a bound parent's child is bound too.
        let childJKT = request.childCnfJKT ?? p.cnf?.jkt
        var scope = request.childResourceScope ?? p.resource_scope
        if !p.resource_scope.isEmpty {
            if scope.isEmpty { scope = p.resource_scope }
            let parentGlobs = p.resource_scope.map(Glob.init)
            for pattern in scope where !parentGlobs.contains(where: { $0.covers(Glob(pattern)) }) {
                throw .forbidden("scope escalation: \(pattern) is not within the parent's resource_scope")
            }
        }
        let nowSeconds = now.unixSeconds
        var parentRemaining = (p.exp ?? nowSeconds) - nowSeconds
        if let limit = p.max_duration_s {
            parentRemaining = min(parentRemaining, Int64(limit) - Int64(now.timeIntervalSince(parent.startedAt)))
        }
        guard parentRemaining > 0 else { throw .forbidden("scope escalation: the parent passport has no lifetime left") }
        let ttl = Int64(request.childTTL ?? Int(parentRemaining))
        guard ttl <= parentRemaining else {
            throw .forbidden("scope escalation: child_ttl_s \(ttl) exceeds the parent's remaining lifetime \(parentRemaining)")
        }
        var budget = request.childMaxToolCalls
        if let remaining = parent.callsRemaining {
            guard remaining > 0 else { throw .forbidden("delegation budget exhausted: the parent has no tool calls left to reserve") }
            budget = min(budget ?? remaining, remaining)
        }
        let mission = Mission(
            agent_id: request.childAgentID, mission: request.childMission, allowed_tools: request.childAllowedTools,
            forbidden_tools: p.forbidden_tools, resource_scope: scope.sorted(), max_tool_calls: budget,
            max_duration_s: Int(ttl), delegation_allowed: p.delegation_allowed && p.delegation_depth + 1 < p.max_delegation_depth,
            max_delegation_depth: p.max_delegation_depth, tools: childTools)
        return PassportClaims(
            mission: mission, issuer: issuer, workspace: p.workspace, issuedAt: nowSeconds, ttl: ttl,
            depth: p.delegation_depth + 1, parentJTI: p.jti, jkt: childJKT)
    }

    /// The child's tool entries: each parent entry for a delegated tool is inherited unless the
    /// request narrows it, and a narrowing must be provable constraint by constraint.
    static func attenuatedTools(parent p: PassportClaims, request: DelegationRequest) throws(DelegationError) -> [String: JSONValue]? {
        let parentPolicies: [String: ToolPolicy]
        do {
            parentPolicies = try ToolPolicy.parseAll(.object(p.tools ?? [:]), path: "tools")
        } catch {
            throw .forbidden("the parent's tool constraints cannot be read")
        }
        var out: [String: JSONValue] = [:]
        for tool in request.childAllowedTools {
            let childRaw = request.childTools?[tool]
            if let parentPolicy = parentPolicies[tool] {
                guard let childRaw else {
                    out[tool] = p.tools?[tool]
                    continue
                }
                let childPolicy: ToolPolicy
                do {
                    childPolicy = try ToolPolicy.parse(childRaw, path: "child_tools.\(tool)")
                } catch {
                    throw .invalid(error.description)
                }
                if let why = parentPolicy.widening(by: childPolicy, tool: tool) { throw .invalid("child_tools.\(why)") }
                out[tool] = childRaw
            } else if let childRaw {
                out[tool] = childRaw
            }
        }
        return out.isEmpty ? nil : out
    }
}
