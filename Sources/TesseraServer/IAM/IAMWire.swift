import Foundation
import Hummingbird
import TesseraStore

/// The TrustGraph `IamRequest`, field for field. Every member is optional: absent = empty.
public struct IAMRequest: Codable, Sendable, Equatable {
    public struct UserInput: Codable, Sendable, Equatable {
        public var username: String?
        public var name: String?
        public var email: String?
        public var password: String?
        public var roles: [String]?
        public var enabled: Bool?
        public var must_change_password: Bool?

        public init(
            username: String? = nil, name: String? = nil, email: String? = nil, password: String? = nil,
            roles: [String]? = nil, enabled: Bool? = nil, must_change_password: Bool? = nil
        ) {
            self.username = username
            self.name = name
            self.email = email
            self.password = password
            self.roles = roles
            self.enabled = enabled
            self.must_change_password = must_change_password
        }
    }

    public struct WorkspaceInput: Codable, Sendable, Equatable {
        public var id: String?
        public var name: String?
        public var enabled: Bool?

        public init(id: String? = nil, name: String? = nil, enabled: Bool? = nil) {
            self.id = id
            self.name = name
            self.enabled = enabled
        }
    }

    public struct KeyInput: Codable, Sendable, Equatable {
        public var user_id: String?
        public var name: String?
        public var expires: String?

        public init(user_id: String? = nil, name: String? = nil, expires: String? = nil) {
            self.user_id = user_id
            self.name = name
            self.expires = expires
        }
    }

    public var operation: String?
    public var workspace: String?
    /// Ignored from callers: the server overwrites it with the authenticated identity.
    public var actor: String?
    public var user_id: String?
    public var username: String?
    public var key_id: String?
    public var api_key: String?
    public var password: String?
    public var new_password: String?
    public var user: UserInput?
    public var workspace_record: WorkspaceInput?
    public var key: KeyInput?
    public var capability: String?
    public var resource_json: String?
    public var parameters_json: String?
    public var authorise_checks: String?
    /// Tessera extension for `list-audit`.
    public var limit: Int?

    public init(operation: String) { self.operation = operation }
}

/// The TrustGraph `IamResponse`; members left nil are omitted from the JSON.
public struct IAMResponse: Codable, Sendable, Equatable, ResponseEncodable {
    public struct User: Codable, Sendable, Equatable {
        public var id: String
        /// TrustGraph 2.11's tools read `workspace`; the protocol names it `default_workspace`.
        public var workspace: String
        public var default_workspace: String
        public var username: String
        public var name: String
        public var email: String
        public var roles: [String]
        public var enabled: Bool
        public var must_change_password: Bool
        public var created: String
    }

    public struct Workspace: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var enabled: Bool
        public var created: String
    }

    public struct APIKey: Codable, Sendable, Equatable {
        public var id: String
        public var user_id: String
        public var name: String
        public var prefix: String
        public var expires: String
        public var created: String
        public var last_used: String
    }

    public struct Audit: Codable, Sendable, Equatable {
        public var id: String
        public var at: String
        public var actor: String
        public var action: String
        public var target: String
        public var outcome: String
        public var detail: String?
    }

    public var user: User?
    public var users: [User]?
    public var workspace: Workspace?
    public var workspaces: [Workspace]?
    public var api_key_plaintext: String?
    public var api_key: APIKey?
    public var api_keys: [APIKey]?
    public var jwt: String?
    public var jwt_expires: String?
    public var signing_key_public: String?
    public var resolved_user_id: String?
    public var resolved_default_workspace: String?
    public var resolved_workspace: String?
    public var resolved_roles: [String]?
    public var temporary_password: String?
    public var bootstrap_admin_user_id: String?
    public var bootstrap_admin_api_key: String?
    public var bootstrap_available: Bool?
    public var decision_allow: Bool?
    public var decision_ttl_seconds: Int?
    public var decisions_json: String?
    public var audit: [Audit]?

    public init() {}
}

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
