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
        if let unknown = claims.keys.sorted().first(where: { !Self.v01Members.contains($0) && !Self.legacyMembers.contains($0) }) {
            throw Self.schema("unknown claim \(unknown)")
        }
        let read = ClaimReader(claims: claims)
        let identity = try Self.readIdentity(read)
        issuer = identity.issuer
        missionID = identity.missionID
        self.exp = try Self.readExpiry(read, now: now)
        // The members v0.1 always requires, with their formats.
        try Self.checkRequiredFormats(read)
        revocation = try Self.readRevocation(read)
        guard case .array? = claims["governed_memory_stores"] else { throw Self.schema("governed_memory_stores must be an array") }
        // Restrictions Tessera cannot enforce: refused by name, never ignored.
        try Self.refuseUnenforceable(read)
        maxDelegationDepth = try Self.readDelegationDepth(read)
        switch claims["delegation_allowed"] {
        case nil: delegationAllowed = nil
        case .bool(let b)?: delegationAllowed = b
        default: throw Self.schema("delegation_allowed must be a boolean")
        }
        mission = (try? read.string("mission")) ?? missionID
        if let tools = try read.strings("allowed_tools") {
            allowedTools = tools
        } else {
            allowedTools = try read.strings("allowed_tool_classes") ?? []
        }
        forbiddenTools = try read.strings("forbidden_tools") ?? []
        resourceScope = try Self.readResourceScope(read)
        if let calls = try read.integer("max_tool_calls") {
            guard calls >= 0 else { throw Self.schema("max_tool_calls must be non-negative") }
            maxToolCalls = Int(calls)
        } else {
            maxToolCalls = nil
        }
        if let d = try read.integer("max_duration_s") {
            guard d > 0 else { throw Self.schema("max_duration_s must be positive") }
            maxDurationSeconds = Int(d)
        } else {
            maxDurationSeconds = nil
        }
        self.claims = claims
        digest = Self.digest(of: claims)
    }
}

// MARK: Reading the claims

extension MissionDeclaration {
    private static func schema(_ detail: String) -> Refusal { Refusal("mission_schema_invalid", detail) }
    private static func unsupported(_ member: String, _ why: String) -> Refusal { Refusal("mission_unsupported", "\(member): \(why)") }

    /// The declaration's claims, read member by member; a malformed member is `mission_schema_invalid`.
    private struct ClaimReader {
        let claims: [String: JSONValue]

        func string(_ name: String) throws(Refusal) -> String {
            guard case .string(let s)? = claims[name], !s.isEmpty else { throw MissionDeclaration.schema("\(name) must be a non-empty string") }
            return s
        }

        func integer(_ name: String) throws(Refusal) -> Int64? {
            guard let v = claims[name] else { return nil }
            guard case .number(let n) = v, let i = n.int else { throw MissionDeclaration.schema("\(name) must be an integer") }
            return Int64(i)
        }

        func strings(_ name: String) throws(Refusal) -> [String]? {
            guard let v = claims[name] else { return nil }
            guard case .array(let items) = v, items.count <= 1000 else { throw MissionDeclaration.schema("\(name) must be an array of strings") }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty else { throw MissionDeclaration.schema("\(name) must be an array of non-empty strings") }
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
    }

    /// `iss` and `mission_id`, once `sub`, `jti` and `aud` (read but not kept) are checked too.
    private static func readIdentity(_ read: ClaimReader) throws(Refusal) -> (issuer: String, missionID: String) {
        let issuer = try read.string("iss")
        _ = try read.string("sub")
        _ = try read.string("jti")
        let missionID = try read.string("mission_id")
        switch read.claims["aud"] {
        case .string(let s)? where !s.isEmpty: break
        case .array(let a)? where !a.isEmpty && a.allSatisfy({ if case .string = $0 { true } else { false } }): break
        default: throw schema("aud must be a string or an array of strings")
        }
        return (issuer, missionID)
    }

    /// `exp`, once `iat`, `exp` and `nbf` say the declaration is valid at `now` (60 s of skew).
    private static func readExpiry(_ read: ClaimReader, now: Int64) throws(Refusal) -> Int64 {
        guard let iat = try read.integer("iat") else { throw schema("iat is required") }
        guard let exp = try read.integer("exp") else { throw schema("exp is required") }
        guard exp > iat else { throw schema("exp must be after iat") }
        guard exp > now else { throw Refusal("mission_expired", "the mission declaration expired") }
        guard iat <= now + 60 else { throw Refusal("mission_schema_invalid", "iat is in the future") }
        if let nbf = try read.integer("nbf"), nbf > now + 60 { throw Refusal("mission_expired", "the mission declaration is not valid yet") }
        return exp
    }

    /// `receipt_policy`, `conformance_profile` and `tool_manifest_digest`: well formed, and
    /// naming what Tessera produces.
    private static func checkRequiredFormats(_ read: ClaimReader) throws(Refusal) {
        guard case .object(let receiptPolicy)? = read.claims["receipt_policy"], case .string(let level)? = receiptPolicy["level"],
            ["minimal", "counter_signed", "transparency_logged"].contains(level)
        else { throw schema("receipt_policy.level must be minimal, counter_signed or transparency_logged") }
        guard level == "minimal" else { throw unsupported("receipt_policy.level", "\(level) receipts are not produced by Tessera (its receipts are signed and hash-chained: minimal)") }
        let profile = try read.string("conformance_profile")
        guard ["Delegation-Core", "MIC-State", "MIC-Evidence"].contains(profile) else { throw schema("conformance_profile \(profile) is unknown") }
        guard profile == "Delegation-Core" else { throw unsupported("conformance_profile", "\(profile) needs tool-manifest and envelope evidence Tessera does not collect") }
        let manifest = try read.string("tool_manifest_digest")
        guard manifest.hasPrefix("sha-256:"), manifest.utf8.count == 72, manifest.dropFirst(8).allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw schema("tool_manifest_digest must be sha-256: and 64 lowercase hex digits")
        }
    }

    /// `revocation_ref`, `<uri>#idx=<n>`, as the status list's URI and the index in it.
    private static func readRevocation(_ read: ClaimReader) throws(Refusal) -> (uri: String, index: Int) {
        let revocationRef = try read.string("revocation_ref")
        guard let hash = revocationRef.lastIndex(of: "#"), revocationRef[revocationRef.index(after: hash)...].hasPrefix("idx="),
            let index = Int(revocationRef[revocationRef.index(hash, offsetBy: 5)...]), index >= 0,
            String(index) == revocationRef[revocationRef.index(hash, offsetBy: 5)...]
        else { throw schema("revocation_ref must be a URI ending in #idx=<n>") }
        return (String(revocationRef[..<hash]), index)
    }

    /// Refuses every restriction Tessera cannot enforce, by name; checks `probing_rate_limit`'s form.
    private static func refuseUnenforceable(_ read: ClaimReader) throws(Refusal) {
        if !read.empty("governed_memory_stores") { throw unsupported("governed_memory_stores", "Tessera governs no memory stores") }
        if !read.empty("approval_policy") { throw unsupported("approval_policy", "per-operator approval rate limits are not in Tessera's approval model") }
        if !read.empty("lineage_budgets") { throw unsupported("lineage_budgets", "per-effect-class lineage budgets are not in Tessera's budget model") }
        if !read.empty("effect_policies") { throw unsupported("effect_policies", "side-effect classes are not in Tessera's model") }
        if !read.empty("flow_policies") { throw unsupported("flow_policies", "information-flow rules are not in Tessera's model") }
        if !read.empty("required_telemetry") { throw unsupported("required_telemetry", "Tessera's receipts carry a fixed set of fields") }
        if case .object(let idm)? = read.claims["idm_extension"], idm["enabled"] == .bool(true) { throw unsupported("idm_extension", "intent schemas are not supported") }
        if let rate = read.claims["probing_rate_limit"] {
            guard case .number(let n) = rate, let i = n.int, i >= 1 else { throw schema("probing_rate_limit must be a positive integer") }
        }
    }

    /// The delegation depth allowed: the lower of `delegation_policy.max_depth` and the legacy
    /// `max_delegation_depth` (nil when neither says).
    private static func readDelegationDepth(_ read: ClaimReader) throws(Refusal) -> Int? {
        var depth: Int?
        if let policy = read.claims["delegation_policy"] {
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
        if let legacy = try read.integer("max_delegation_depth") { depth = min(depth ?? Int(legacy), Int(legacy)) }
        return depth
    }

    /// `resource_scope` (legacy) or else `resource_policies`, as Tessera's resource globs.
    private static func readResourceScope(_ read: ClaimReader) throws(Refusal) -> [String] {
        if let scope = try read.strings("resource_scope") {
            return scope
        } else if let policies = read.claims["resource_policies"] {
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
            return scope
        } else {
            return []
        }
    }
}
