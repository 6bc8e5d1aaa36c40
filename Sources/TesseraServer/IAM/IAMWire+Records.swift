import Foundation
import Hummingbird
import TesseraCore
import TesseraStore

extension IAMResponse: ResponseEncodable {}

extension IAMResponse.User {
    init(_ user: UserRecord) {
        self.init(
            id: user.id, workspace: user.defaultWorkspace, default_workspace: user.defaultWorkspace,
            username: user.username, name: user.name, email: user.email, roles: user.roles, enabled: user.enabled,
            must_change_password: user.mustChangePassword, created: WireTime.format(user.created))
    }
}

extension IAMResponse.Workspace {
    init(_ workspace: WorkspaceRecord) {
        self.init(id: workspace.id, name: workspace.name, enabled: workspace.enabled, created: WireTime.format(workspace.created))
    }
}

extension IAMResponse.APIKey {
    init(_ key: APIKeyRecord) {
        self.init(
            id: key.id, user_id: key.userID, name: key.name, prefix: key.prefix, expires: WireTime.format(key.expires),
            created: WireTime.format(key.created), last_used: WireTime.format(key.lastUsed))
    }
}
