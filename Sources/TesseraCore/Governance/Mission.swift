import Foundation

/// A mission: what a passport lets an agent do. The body of `/issue`'s `mission`.
///
/// Decoding is strict: an unknown member is an error that names it, so a typo such as
/// `allowed_tool` can never silently widen or narrow a grant.
public struct Mission: Sendable, Equatable, Codable {
    public var agent_id: String
    public var mission: String
    public var allowed_tools: [String]
    public var forbidden_tools: [String]
    public var resource_scope: [String]
    /// nil = unlimited.
    public var max_tool_calls: Int?
    public var max_duration_s: Int?
    public var delegation_allowed: Bool
    public var max_delegation_depth: Int
    /// Per-tool argument constraints and approvals, as sent (validated by ``ToolPolicy``); a tool
    /// named here is allowed as if listed in `allowed_tools`.
    public var tools: [String: JSONValue]?

    public init(
        agent_id: String, mission: String, allowed_tools: [String] = [], forbidden_tools: [String] = [],
        resource_scope: [String] = [], max_tool_calls: Int? = nil, max_duration_s: Int? = nil,
        delegation_allowed: Bool = false, max_delegation_depth: Int = 0, tools: [String: JSONValue]? = nil
    ) {
        self.tools = tools
        self.agent_id = agent_id
        self.mission = mission
        self.allowed_tools = allowed_tools
        self.forbidden_tools = forbidden_tools
        self.resource_scope = resource_scope
        self.max_tool_calls = max_tool_calls
        self.max_duration_s = max_duration_s
        self.delegation_allowed = delegation_allowed
        self.max_delegation_depth = max_delegation_depth
    }

    static let knownFields: Set<String> = [
        "agent_id", "mission", "allowed_tools", "forbidden_tools", "resource_scope", "max_tool_calls",
        "max_duration_s", "delegation_allowed", "max_delegation_depth", "tools",
    ]

    /// Validates a decoded JSON object as a mission. Every error names the field.
    public static func parse(_ object: [String: JSONValue]) throws(MissionError) -> Mission {
        if object["lineage_budgets"] != nil {
            throw .invalid("lineage_budgets is deferred: Phase 1 passports carry no lineage budgets")
        }
        if let unknown = object.keys.sorted().first(where: { !knownFields.contains($0) }) {
            throw .invalid("unknown mission field \(unknown)")
        }
        func string(_ name: String) throws(MissionError) -> String {
            guard case .string(let value)? = object[name], !value.isEmpty, value.unicodeScalars.count <= 1024 else {
                throw .invalid("mission.\(name) must be a non-empty string")
            }
            return value
        }
        func strings(_ name: String) throws(MissionError) -> [String] {
            guard let value = object[name] else { return [] }
            guard case .array(let items) = value, items.count <= 1000 else {
                throw .invalid("mission.\(name) must be a JSON array of non-empty strings")
            }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty, s.unicodeScalars.count <= 1024 else {
                    throw .invalid("mission.\(name) must be a JSON array of non-empty strings")
                }
                out.append(s)
            }
            return out
        }
        func integer(_ name: String, max: Int) throws(MissionError) -> Int? {
            guard let value = object[name], value != .null else { return nil }
            guard case .number(let n) = value, let integer = n.int, (0...max).contains(integer) else {
                throw .invalid("mission.\(name) must be an integer from 0 to \(max)")
            }
            return integer
        }
        var delegationAllowed = false
        if let value = object["delegation_allowed"] {
            guard case .bool(let b) = value else { throw .invalid("mission.delegation_allowed must be a boolean") }
            delegationAllowed = b
        }
        var mission = Mission(
            agent_id: try string("agent_id"), mission: try string("mission"), allowed_tools: try strings("allowed_tools"),
            forbidden_tools: try strings("forbidden_tools"), resource_scope: try strings("resource_scope"),
            max_tool_calls: try integer("max_tool_calls", max: 1_000_000_000),
            max_duration_s: try integer("max_duration_s", max: 366 * 86400), delegation_allowed: delegationAllowed,
            max_delegation_depth: try integer("max_delegation_depth", max: 16) ?? 0)
        if let tools = object["tools"], tools != .null {
            _ = try ToolPolicy.parseAll(tools, path: "mission.tools")
            guard case .object(let entries) = tools else { throw .invalid("mission.tools must be an object") }
            mission.tools = entries
        }
        try validateScope(mission.resource_scope, field: "mission.resource_scope")
        return mission
    }
}

extension Mission {
    /// The one validator for resource-scope patterns, used by `/issue` and `/delegate` alike.
    public static func validateScope(_ patterns: [String], field: String) throws(MissionError) {
        for (index, pattern) in patterns.enumerated() {
            if let problem = Glob.problem(with: pattern) {
                throw .invalid("\(field)[\(index)] \(problem): \(pattern)")
            }
        }
    }
}

public enum MissionError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { m } else { "" } }
}

/// Claims of a mission passport (`typ` `tessera-passport+jwt`): the mission, flattened, plus
/// the registered claims and the delegation lineage.
public struct PassportClaims: JWSClaims, Equatable {
    public static let type = "tessera-passport+jwt"

    public struct Confirmation: Codable, Sendable, Equatable {
        public var jkt: String
        public init(jkt: String) { self.jkt = jkt }
    }

    public var iss: String?
    public var sub: String
    public var iat: Int64?
    public var nbf: Int64?
    public var exp: Int64?
    public var jti: String
    public var workspace: String
    public var agent_id: String
    public var mission: String
    public var allowed_tools: [String]
    public var forbidden_tools: [String]
    public var resource_scope: [String]
    public var max_tool_calls: Int?
    public var max_duration_s: Int?
    public var delegation_allowed: Bool
    public var max_delegation_depth: Int
    public var delegation_depth: Int
    public var parent_jti: String?
    public var cnf: Confirmation?
    /// The mission's tool entries (argument constraints, approvals), signed with the rest.
    public var tools: [String: JSONValue]?
    /// The resources (RFC 8707 canonical URIs, e.g. an MCP endpoint) this passport is for; a
    /// resource server that checks the audience refuses a passport issued for another.
    public var aud: Audience?
    /// Where the passport's revocation status is published (IETF Token Status List).
    public var status: StatusClaim?
    /// Set on the passport of a session started from an AAT: where the grant came from and the
    /// mission it is bound to (receipts carry it as `evidence_proof_ref`).
    public var aat: AATBinding?
    /// Set on a passport issued by the OAuth authorization server: the granted scopes (mission
    /// template names, space separated) and the OAuth client it was issued to.
    public var scope: String?
    public var client_id: String?

    public init(mission: Mission, issuer: String, workspace: String, issuedAt: Int64, ttl: Int64, jti: String = UUID().uuidString.lowercased(), depth: Int = 0, parentJTI: String? = nil, jkt: String? = nil) {
        self.iss = issuer
        self.sub = mission.agent_id
        self.iat = issuedAt
        self.nbf = issuedAt
        self.exp = issuedAt + ttl
        self.jti = jti
        self.workspace = workspace
        self.agent_id = mission.agent_id
        self.mission = mission.mission
        self.allowed_tools = mission.allowed_tools
        self.forbidden_tools = mission.forbidden_tools
        self.resource_scope = mission.resource_scope
        self.max_tool_calls = mission.max_tool_calls
        self.max_duration_s = mission.max_duration_s
        self.delegation_allowed = mission.delegation_allowed
        self.max_delegation_depth = mission.max_delegation_depth
        self.delegation_depth = depth
        self.parent_jti = parentJTI
        self.cnf = jkt.map(Confirmation.init)
        self.tools = mission.tools
    }

    /// Every tool this passport may call: `allowed_tools` and the tools named in `tools`.
    public var permittedTools: Set<String> { Set(allowed_tools).union(tools.map { Array($0.keys) } ?? []) }
}
