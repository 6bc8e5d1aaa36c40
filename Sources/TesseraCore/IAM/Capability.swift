/// The capability vocabulary: `subsystem:verb`. Every route and IAM operation names one.
public enum Capability {
    // IAM, as TrustGraph names them.
    public static let usersRead = "users:read"
    public static let usersWrite = "users:write"
    public static let usersAdmin = "users:admin"
    public static let keysSelf = "keys:self"
    public static let keysAdmin = "keys:admin"
    public static let workspacesAdmin = "workspaces:admin"
    public static let iamAdmin = "iam:admin"
    public static let metricsRead = "metrics:read"
    // Tessera's own.
    public static let agentsRead = "agents:read"
    public static let agentsWrite = "agents:write"
    public static let badgesIssue = "badges:issue"
    public static let badgesRevoke = "badges:revoke"
    public static let passportsIssue = "passports:issue"
    public static let passportsRevoke = "passports:revoke"
    public static let sessionsRead = "sessions:read"
    public static let receiptsRead = "receipts:read"
    public static let auditRead = "audit:read"
    /// Grant or deny human approvals of tool calls in a workspace.
    public static let approvalsGrant = "approvals:grant"
    /// Ask for decisions on a workspace's sessions as an AuthZEN policy enforcement point
    /// (`/access/v1/evaluation(s)`): each one spends the session's budget and writes a receipt,
    /// like `/evaluate` with the session id, so it is granted on its own, not with reading.
    public static let decisionsEvaluate = "decisions:evaluate"

    /// Mission templates (OAuth scopes), OAuth grants of a workspace, and (system-level, admins
    /// only) registered OAuth clients: reading, and managing.
    public static let oauthRead = "oauth:read"
    public static let oauthWrite = "oauth:write"
    /// RFC 7662 introspection of tokens of a workspace, for resource servers that are not Tessera.
    public static let tokensIntrospect = "tokens:introspect"
    /// Approving an OAuth client's request (the consent page) and keeping the grant alive: a
    /// person without it cannot turn their password into a tool-calling passport.
    public static let oauthAuthorize = "oauth:authorize"

    public static let all: Set<String> = [
        usersRead, usersWrite, usersAdmin, keysSelf, keysAdmin, workspacesAdmin, iamAdmin, metricsRead,
        agentsRead, agentsWrite, badgesIssue, badgesRevoke, passportsIssue, passportsRevoke, sessionsRead,
        receiptsRead, auditRead, approvalsGrant, decisionsEvaluate, oauthRead, oauthWrite, tokensIntrospect, oauthAuthorize,
    ]
}

/// One role held in one workspace (`*` = every workspace).
public struct RoleGrant: Sendable, Hashable, Codable {
    public var role: String
    public var workspace: String

    public init(role: String, workspace: String) {
        self.role = role
        self.workspace = workspace
    }

    /// A user's `roles[]` entry: `writer` (in the user's home workspace), `writer@ws` (in `ws`),
    /// or `admin` (always every workspace).
    public static func parse(_ entry: String, homeWorkspace: String) -> RoleGrant {
        let parts = entry.split(separator: "@", maxSplits: 1).map(String.init)
        let role = parts.first ?? ""
        if role == "admin" { return RoleGrant(role: role, workspace: "*") }
        return RoleGrant(role: role, workspace: parts.count == 2 ? parts[1] : homeWorkspace)
    }
}

/// The built-in role table and the single authorisation test.
///
/// Fail closed by construction: an unknown role grants nothing, an unknown capability is granted
/// by nobody, a disabled principal is denied, and a workspace-scoped role never reaches a
/// system-level capability.
public enum RoleCatalog {
    static let reader: Set<String> = [
        Capability.keysSelf, Capability.agentsRead, Capability.sessionsRead, Capability.receiptsRead, Capability.oauthRead, Capability.oauthAuthorize,
    ]
    static let writer: Set<String> = reader.union([
        Capability.agentsWrite, Capability.badgesIssue, Capability.badgesRevoke, Capability.passportsIssue,
        Capability.passportsRevoke, Capability.oauthWrite, Capability.tokensIntrospect,
    ])

    /// Approvers read like readers and may grant or deny approvals.
    static let approver: Set<String> = reader.union([Capability.approvalsGrant])

    /// A policy enforcement point's service account (an AuthZEN client such as a gateway or a
    /// mesh): it may ask for decisions in its workspace and manage its own API keys, nothing else.
    static let evaluator: Set<String> = [Capability.keysSelf, Capability.decisionsEvaluate, Capability.tokensIntrospect]

    public static let roles: Set<String> = ["reader", "writer", "approver", "evaluator", "admin"]

    /// Capabilities a role grants.
    public static func capabilities(of role: String) -> Set<String> {
        switch role {
        case "reader": reader
        case "writer": writer
        case "approver": approver
        case "evaluator": evaluator
        case "admin": Capability.all
        default: []
        }
    }

    /// May a principal holding `grants` use `capability` on `workspace`?
    ///
    /// - Parameter workspace: the workspace the request addresses, or nil for a system-level
    ///   resource (users, workspaces, signing keys), which only a `*`-scoped grant reaches.
    public static func allows(
        grants: [RoleGrant], enabled: Bool, capability: String, workspace: String?
    ) -> Bool {
        guard enabled, Capability.all.contains(capability) else { return false }
        return grants.contains { grant in
            guard capabilities(of: grant.role).contains(capability) else { return false }
            if grant.workspace == "*" { return true }
            guard let workspace else { return false }
            return grant.workspace == workspace
        }
    }
}
