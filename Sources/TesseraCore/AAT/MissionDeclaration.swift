import Crypto
import Foundation

/// An Ardur Mission Declaration (mission-declaration v0.1): a signed JWT stating what a mission
/// may do, to which AATs point with `mission_ref {uri, mission_id, mission_digest}`.
///
/// Read with a closed schema: the v0.1 members plus the legacy passport members Ardur's own
/// declarations carry (`allowed_tools`, `max_tool_calls`, … — vibap issues them that way);
/// any other claim is refused, never ignored. What a declaration restricts is enforced where
/// Tessera has the concept (tools, budget, duration, resources, delegation depth) and refused
/// with a named reason where it does not (``Refusal``).
public struct MissionDeclaration: Sendable {
    public let claims: [String: JSONValue]
    /// `sha-256:` + lowercase hex SHA-256 of the RFC 8785 form of the payload.
    public let digest: String
    public let missionID: String
    public let issuer: String
    public let exp: Int64
    public let mission: String
    public let allowedTools: [String]
    public let forbiddenTools: [String]
    public let resourceScope: [String]
    public let maxToolCalls: Int?
    public let maxDurationSeconds: Int?
    /// How deep the mission lets delegation go (nil: not said).
    public let maxDelegationDepth: Int?
    public let delegationAllowed: Bool?
    /// `uri` and index of the declaration's entry in its status list.
    public let revocation: (uri: String, index: Int)?

    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        /// `mission_schema_invalid`, `mission_unsupported`, `mission_expired`, …
        public var code: String
        public var detail: String
        public init(_ code: String, _ detail: String) {
            self.code = code
            self.detail = detail
        }
        public var description: String { "\(code): \(detail)" }
    }

    static let v01Members: Set<String> = [
        "iss", "sub", "aud", "iat", "exp", "jti", "mission_id", "allowed_tool_classes", "resource_policies", "effect_policies",
        "lineage_budgets", "delegation_policy", "flow_policies", "required_telemetry", "receipt_policy", "conformance_profile",
        "tool_manifest_digest", "revocation_ref", "approval_policy", "governed_memory_stores", "probing_rate_limit", "idm_extension",
    ]
    /// What vibap's `issue_passport` adds to the declarations it mints.
    static let legacyMembers: Set<String> = [
        "nbf", "agent_id", "mission", "allowed_tools", "forbidden_tools", "resource_scope", "max_tool_calls", "max_duration_s",
        "delegation_allowed", "max_delegation_depth", "parent_jti", "cwd",
    ]

    public static func digest(of claims: [String: JSONValue]) -> String {
        "sha-256:" + CompactJWS.hex(SHA256.hash(data: Array(CanonicalJSON.serialize(.object(claims)).utf8)))
    }

    /// Validates a verified declaration's claims at `now`.
    public init(claims: [String: JSONValue], now: Int64) throws(Refusal) {
        func schema(_ detail: String) -> Refusal { Refusal("mission_schema_invalid", detail) }
        func unsupported(_ member: String, _ why: String) -> Refusal { Refusal("mission_unsupported", "\(member): \(why)") }
        if let unknown = claims.keys.sorted().first(where: { !Self.v01Members.contains($0) && !Self.legacyMembers.contains($0) }) {
            throw schema("unknown claim \(unknown)")
        }
        func string(_ name: String) throws(Refusal) -> String {
            guard case .string(let s)? = claims[name], !s.isEmpty else { throw schema("\(name) must be a non-empty string") }
            return s
        }
        func integer(_ name: String) throws(Refusal) -> Int64? {
            guard let v = claims[name] else { return nil }
            guard case .number(let n) = v, let i = n.int else { throw schema("\(name) must be an integer") }
            return Int64(i)
        }
        func strings(_ name: String) throws(Refusal) -> [String]? {
            guard let v = claims[name] else { return nil }
            guard case .array(let items) = v, items.count <= 1000 else { throw schema("\(name) must be an array of strings") }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty else { throw schema("\(name) must be an array of non-empty strings") }
                out.append(s)
            }
            return out
        }
        func empty(_ name: String) -> Bool {
            switch claims[name] {
            case nil, .null?: true
            case .array(let a)?: a.isEmpty
            case .object(let o)?: o.isEmpty
            default: false
            }
        }
        issuer = try string("iss")
        _ = try string("sub")
        _ = try string("jti")
        missionID = try string("mission_id")
        switch claims["aud"] {
        case .string(let s)? where !s.isEmpty: break
        case .array(let a)? where !a.isEmpty && a.allSatisfy({ if case .string = $0 { true } else { false } }): break
        default: throw schema("aud must be a string or an array of strings")
        }
        guard let iat = try integer("iat") else { throw schema("iat is required") }
        guard let exp = try integer("exp") else { throw schema("exp is required") }
        guard exp > iat else { throw schema("exp must be after iat") }
        guard exp > now else { throw Refusal("mission_expired", "the mission declaration expired") }
        guard iat <= now + 60 else { throw Refusal("mission_schema_invalid", "iat is in the future") }
        if let nbf = try integer("nbf"), nbf > now + 60 { throw Refusal("mission_expired", "the mission declaration is not valid yet") }
        self.exp = exp
        // The members v0.1 always requires, with their formats.
        guard case .object(let receiptPolicy)? = claims["receipt_policy"], case .string(let level)? = receiptPolicy["level"],
            ["minimal", "counter_signed", "transparency_logged"].contains(level)
        else { throw schema("receipt_policy.level must be minimal, counter_signed or transparency_logged") }
        guard level == "minimal" else { throw unsupported("receipt_policy.level", "\(level) receipts are not produced by Tessera (its receipts are signed and hash-chained: minimal)") }
        let profile = try string("conformance_profile")
        guard ["Delegation-Core", "MIC-State", "MIC-Evidence"].contains(profile) else { throw schema("conformance_profile \(profile) is unknown") }
        guard profile == "Delegation-Core" else { throw unsupported("conformance_profile", "\(profile) needs tool-manifest and envelope evidence Tessera does not collect") }
        let manifest = try string("tool_manifest_digest")
        guard manifest.hasPrefix("sha-256:"), manifest.utf8.count == 72, manifest.dropFirst(8).allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw schema("tool_manifest_digest must be sha-256: and 64 lowercase hex digits")
        }
        let revocationRef = try string("revocation_ref")
        guard let hash = revocationRef.lastIndex(of: "#"), revocationRef[revocationRef.index(after: hash)...].hasPrefix("idx="),
            let index = Int(revocationRef[revocationRef.index(hash, offsetBy: 5)...]), index >= 0,
            String(index) == revocationRef[revocationRef.index(hash, offsetBy: 5)...]
        else { throw schema("revocation_ref must be a URI ending in #idx=<n>") }
        revocation = (String(revocationRef[..<hash]), index)
        guard case .array? = claims["governed_memory_stores"] else { throw schema("governed_memory_stores must be an array") }
        // Restrictions Tessera cannot enforce: refused by name, never ignored.
        if !empty("governed_memory_stores") { throw unsupported("governed_memory_stores", "Tessera governs no memory stores") }
        if !empty("approval_policy") { throw unsupported("approval_policy", "per-operator approval rate limits are not in Tessera's approval model") }
        if !empty("lineage_budgets") { throw unsupported("lineage_budgets", "per-effect-class lineage budgets are not in Tessera's budget model") }
        if !empty("effect_policies") { throw unsupported("effect_policies", "side-effect classes are not in Tessera's model") }
        if !empty("flow_policies") { throw unsupported("flow_policies", "information-flow rules are not in Tessera's model") }
        if !empty("required_telemetry") { throw unsupported("required_telemetry", "Tessera's receipts carry a fixed set of fields") }
        if case .object(let idm)? = claims["idm_extension"], idm["enabled"] == .bool(true) { throw unsupported("idm_extension", "intent schemas are not supported") }
        if let rate = claims["probing_rate_limit"] {
            guard case .number(let n) = rate, let i = n.int, i >= 1 else { throw schema("probing_rate_limit must be a positive integer") }
        }
        var depth: Int?
        if let policy = claims["delegation_policy"] {
            guard case .object(let p) = policy else { throw schema("delegation_policy must be an object") }
            if let extra = p.keys.sorted().first(where: { !["max_depth", "allowed_child_subjects", "attenuation_rules"].contains($0) }) {
                throw schema("delegation_policy.\(extra) is unknown")
            }
            if let v = p["max_depth"] {
                guard case .number(let n) = v, let i = n.int, i >= 0 else { throw schema("delegation_policy.max_depth must be a non-negative integer") }
                depth = i
            }
            if let subjects = p["allowed_child_subjects"], subjects != .array([]), subjects != .null {
                throw unsupported("delegation_policy.allowed_child_subjects", "child subjects are named per delegation in Tessera, not restricted by the mission")
            }
            if let rules = p["attenuation_rules"], rules != .array([]), rules != .object([:]), rules != .null {
                throw unsupported("delegation_policy.attenuation_rules", "Tessera's attenuation rules are fixed (never wider)")
            }
        }
        if let legacy = try integer("max_delegation_depth") { depth = min(depth ?? Int(legacy), Int(legacy)) }
        maxDelegationDepth = depth
        switch claims["delegation_allowed"] {
        case nil: delegationAllowed = nil
        case .bool(let b)?: delegationAllowed = b
        default: throw schema("delegation_allowed must be a boolean")
        }
        mission = (try? string("mission")) ?? missionID
        if let tools = try strings("allowed_tools") {
            allowedTools = tools
        } else {
            allowedTools = try strings("allowed_tool_classes") ?? []
        }
        forbiddenTools = try strings("forbidden_tools") ?? []
        if let scope = try strings("resource_scope") {
            resourceScope = scope
        } else if let policies = claims["resource_policies"] {
            guard case .array(let items) = policies else { throw schema("resource_policies must be an array") }
            var scope: [String] = []
            for item in items {
                guard case .object(let o) = item, case .string(let pattern)? = o["pattern"] else { throw schema("resource_policies[] needs a pattern") }
                if pattern.hasPrefix("exact:") {
                    let exact = String(pattern.dropFirst(6))
                    // Tessera's scope is globs: an exact resource with a glob character would widen.
                    guard !exact.contains(where: { "*?[]{}".contains($0) }) else {
                        throw unsupported("resource_policies", "exact resource \(exact) holds a glob character")
                    }
                    scope.append(exact)
                } else if pattern.hasPrefix("glob:") { scope.append(String(pattern.dropFirst(5))) } else {
                    throw schema("resource_policies pattern must start with exact: or glob:")
                }
            }
            resourceScope = scope
        } else {
            resourceScope = []
        }
        if let calls = try integer("max_tool_calls") {
            guard calls >= 0 else { throw schema("max_tool_calls must be non-negative") }
            maxToolCalls = Int(calls)
        } else {
            maxToolCalls = nil
        }
        if let d = try integer("max_duration_s") {
            guard d > 0 else { throw schema("max_duration_s must be positive") }
            maxDurationSeconds = Int(d)
        } else {
            maxDurationSeconds = nil
        }
        self.claims = claims
        digest = Self.digest(of: claims)
    }
}
