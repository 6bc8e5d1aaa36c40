import Foundation

/// A named mission an operator offers to OAuth clients: each template is one OAuth `scope`.
///
/// A token granted for several scopes is one passport whose mission is the union of the
/// templates (``combine(_:agentID:)``). Templates are what a person consents to, so each is a
/// full mission (tools with argument constraints, resource scope, budget, approvals) and the
/// consent page shows exactly that.
public struct MissionTemplate: Sendable, Equatable, Codable {
    public var name: String
    public var description: String?
    /// The mission as stored (validated by ``Mission/parse(_:)``); `agent_id` is the one agent
    /// that may obtain it without a person (`client_credentials`, token exchange), or `*`.
    public var mission: Mission
    /// Gateway upstream names this template is offered on; nil = every gateway resource.
    public var resources: [String]?
    /// Lifetime of an access token granted with this template, seconds.
    public var ttl_s: Int
    public var workspace: String
    public var created_at: String?

    public static let defaultTTL = 900
    public static let ttlRange = 5...86_400
    /// `offline_access` is the OAuth scope for refresh tokens, never a template.
    public static let reservedNames: Set<String> = ["offline_access", "openid"]
    /// The placeholder agent for a template whose mission names none.
    public static let anyAgent = "*"

    public init(name: String, description: String?, mission: Mission, resources: [String]?, ttl_s: Int, workspace: String, created_at: String? = nil) {
        self.name = name
        self.description = description
        self.mission = mission
        self.resources = resources
        self.ttl_s = ttl_s
        self.workspace = workspace
        self.created_at = created_at
    }

    /// A scope token (RFC 6749 §3.3 allows more; we keep names printable, short and unambiguous).
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !reservedNames.contains(name) else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
        }
    }

    /// Validates `POST /mission-templates`' body. Every error names its field.
    public static func parse(_ object: [String: JSONValue], workspace: String) throws(MissionError) -> MissionTemplate {
        let known: Set<String> = ["name", "description", "mission", "resources", "ttl_s"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) { throw .invalid("unknown template field \(unknown)") }
        guard case .string(let name)? = object["name"], isValidName(name) else {
            throw .invalid("name must be 1-64 characters of A-Z a-z 0-9 _ . : - and not offline_access or openid")
        }
        var description: String?
        if let value = object["description"], value != .null {
            guard case .string(let text) = value, text.unicodeScalars.count <= 1024 else { throw .invalid("description must be a string of at most 1024 characters") }
            description = text.isEmpty ? nil : text
        }
        guard case .object(var raw)? = object["mission"] else { throw .invalid("mission must be a mission object") }
        if raw["agent_id"] == nil || raw["agent_id"] == .null { raw["agent_id"] = .string(anyAgent) }
        if raw["mission"] == nil || raw["mission"] == .null { raw["mission"] = .string(description ?? name) }
        let mission: Mission
        do {
            mission = try Mission.parse(raw)
        } catch {
            throw .invalid(error.description.contains("mission") ? error.description : "mission: \(error.description)")
        }
        var resources: [String]?
        if let value = object["resources"], value != .null {
            guard case .array(let items) = value, !items.isEmpty, items.count <= 64 else {
                throw .invalid("resources must be a non-empty array of at most 64 gateway upstream names")
            }
            var names: [String] = []
            for item in items {
                guard case .string(let upstream) = item, !upstream.isEmpty, upstream.utf8.count <= 128 else {
                    throw .invalid("resources must hold gateway upstream names (strings)")
                }
                if !names.contains(upstream) { names.append(upstream) }
            }
            resources = names
        }
        var ttl = defaultTTL
        if let value = object["ttl_s"], value != .null {
            guard case .number(let n) = value, let seconds = n.int, ttlRange.contains(seconds) else {
                throw .invalid("ttl_s must be an integer from \(ttlRange.lowerBound) to \(ttlRange.upperBound)")
            }
            ttl = seconds
        }
        return MissionTemplate(name: name, description: description, mission: mission, resources: resources, ttl_s: ttl, workspace: workspace)
    }

    /// Is this template offered on the gateway upstream `name`?
    public func isOffered(on upstream: String) -> Bool { resources?.contains(upstream) ?? true }

    /// May `agentID` obtain this template without a person's consent?
    public func grantable(toAgent agentID: String) -> Bool { mission.agent_id == Self.anyAgent || mission.agent_id == agentID }

    public enum CombineFailure: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case conflictingTool(tool: String, first: String, second: String)
        case conflictingScope(first: String, second: String)
        public var description: String {
            switch self {
            case .empty: "no scope was granted"
            case .conflictingScope(let first, let second):
                "scopes \(first) and \(second) restrict resources differently; request them separately"
            case .conflictingTool(let tool, let first, let second):
                "scopes \(first) and \(second) constrain tool \(tool) differently; request them separately"
            }
        }
    }

    /// The templates granted together as one mission for `agentID`, and the token lifetime (the
    /// shortest template's).
    ///
    /// Tools are a union: every tool any template allows; a tool given constrained entries by two
    /// templates must have the same entry in both (two argument policies for one tool cannot be
    /// one entry, and picking either would silently narrow or widen a grant); a tool one template
    /// allows plainly is allowed plainly; a tool one forbids stays forbidden unless another
    /// granted template allows it. What a passport applies to *every* call is never widened by
    /// another template: the call budget, the session duration and the delegation depth take the
    /// smallest limit any template sets, delegation needs every template to allow it, and the
    /// resource scope is the one the restricted templates share — two different restricted scopes
    /// are refused, because the passport has one scope for all tools and either choice would move
    /// one template's tools outside what the person saw.
    public static func combine(_ templates: [MissionTemplate], agentID: String) throws(CombineFailure) -> (mission: Mission, ttl: Int) {
        guard let first = templates.first else { throw .empty }
        var plain: [String] = []
        var entries: [String: (entry: JSONValue, from: String)] = [:]
        var forbidden: [String] = []
        var scope: (patterns: [String], from: String)?
        var budget: Int?
        var duration: Int?
        var delegation = true
        var depth = Int.max
        var ttl = Int.max
        for template in templates {
            for tool in template.mission.allowed_tools where !plain.contains(tool) { plain.append(tool) }
        }
        for template in templates {
            let m = template.mission
            for (tool, entry) in m.tools ?? [:] where !plain.contains(tool) {
                if let existing = entries[tool] {
                    if existing.entry != entry { throw .conflictingTool(tool: tool, first: existing.from, second: template.name) }
                } else {
                    entries[tool] = (entry, template.name)
                }
            }
            for tool in m.forbidden_tools where !forbidden.contains(tool) { forbidden.append(tool) }
            if !m.resource_scope.isEmpty {
                if let existing = scope {
                    if Set(existing.patterns) != Set(m.resource_scope) {
                        throw .conflictingScope(first: existing.from, second: template.name)
                    }
                } else {
                    scope = (m.resource_scope, template.name)
                }
            }
            if let calls = m.max_tool_calls { budget = min(budget ?? calls, calls) }
            if let seconds = m.max_duration_s { duration = min(duration ?? seconds, seconds) }
            delegation = delegation && m.delegation_allowed
            depth = min(depth, m.max_delegation_depth)
            ttl = min(ttl, template.ttl_s)
        }
        // A plain grant is wider than any constrained entry for the same tool.
        for tool in plain { entries[tool] = nil }
        let granted = Set(plain).union(entries.keys)
        let mission = Mission(
            agent_id: agentID, mission: templates.count == 1 ? first.mission.mission : templates.map(\.name).joined(separator: " "),
            allowed_tools: plain, forbidden_tools: forbidden.filter { !granted.contains($0) },
            resource_scope: scope?.patterns ?? [], max_tool_calls: budget, max_duration_s: duration,
            delegation_allowed: delegation, max_delegation_depth: delegation ? depth : 0,
            tools: entries.isEmpty ? nil : entries.mapValues(\.entry))
        return (mission, ttl)
    }
}
