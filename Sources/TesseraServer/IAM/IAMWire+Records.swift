import Foundation
import Hummingbird
import TesseraCore
import TesseraStore

extension IAMResponse: ResponseEncodable {}

/// ISO-8601 UTC with seconds, the format of every timestamp on the IAM wire.
enum WireTime {
    static func format(_ date: Date?) -> String {
        guard let date else { return "" }
        return date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon).timeZone(separator: .omitted)).replacingOccurrences(of: "+0000", with: "Z")
    }

    static func parse(_ string: String) -> Date? {
        if let date = try? Date(string, strategy: .iso8601) { return date }
        // Also accept a bare date (midnight UTC), the form operators type for an expiry.
        return try? Date(string + "T00:00:00Z", strategy: .iso8601)
    }
}

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
