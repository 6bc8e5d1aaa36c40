import Foundation
import TesseraCore
import TesseraStore

/// Who a request comes from, as established by authentication. Carries no policy of its own:
/// ``RoleCatalog`` decides from the grants.
public struct Identity: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case login(jti: String)
        case apiKey(id: String)
    }

    public var userID: String
    public var username: String
    /// The workspace this credential acts in (the login's workspace, or the user's home).
    public var workspace: String
    public var defaultWorkspace: String
    public var roles: [String]
    public var enabled: Bool
    public var mustChangePassword: Bool
    public var source: Source

    public var grants: [RoleGrant] { roles.map { RoleGrant.parse($0, homeWorkspace: defaultWorkspace) } }

    public init(user: UserRecord, workspace: String, source: Source) {
        self.userID = user.id
        self.username = user.username
        self.workspace = workspace
        self.defaultWorkspace = user.defaultWorkspace
        self.roles = user.roles
        self.enabled = user.enabled
        self.mustChangePassword = user.mustChangePassword
        self.source = source
    }

    /// The single authorisation test.
    public func may(_ capability: String, in workspace: String?) -> Bool {
        RoleCatalog.allows(grants: grants, enabled: enabled, capability: capability, workspace: workspace)
    }

    /// Whether any grant carries `capability` (in whatever workspace): the route-level gate.
    public func holdsAnywhere(_ capability: String) -> Bool {
        enabled && grants.contains { RoleCatalog.capabilities(of: $0.role).contains(capability) }
    }

    /// Workspaces where some grant applies (`["*"]` for a cross-workspace admin).
    public var grantedWorkspaces: Set<String> { Set(grants.filter { RoleCatalog.roles.contains($0.role) }.map(\.workspace)) }
}
