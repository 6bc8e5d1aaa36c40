import Foundation

/// The TrustGraph `IamRequest`, field for field (the wire contract shared by server, SDK and CLI). Every member is optional: absent = empty.
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
public struct IAMResponse: Codable, Sendable, Equatable {
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

        public init(id: String, workspace: String, default_workspace: String, username: String, name: String, email: String, roles: [String], enabled: Bool, must_change_password: Bool, created: String) {
            self.id = id
            self.workspace = workspace
            self.default_workspace = default_workspace
            self.username = username
            self.name = name
            self.email = email
            self.roles = roles
            self.enabled = enabled
            self.must_change_password = must_change_password
            self.created = created
        }
    }

    public struct Workspace: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var enabled: Bool
        public var created: String

        public init(id: String, name: String, enabled: Bool, created: String) {
            self.id = id
            self.name = name
            self.enabled = enabled
            self.created = created
        }
    }

    public struct APIKey: Codable, Sendable, Equatable {
        public var id: String
        public var user_id: String
        public var name: String
        public var prefix: String
        public var expires: String
        public var created: String
        public var last_used: String

        public init(id: String, user_id: String, name: String, prefix: String, expires: String, created: String, last_used: String) {
            self.id = id
            self.user_id = user_id
            self.name = name
            self.prefix = prefix
            self.expires = expires
            self.created = created
            self.last_used = last_used
        }
    }

    public struct Audit: Codable, Sendable, Equatable {
        public var id: String
        public var at: String
        public var actor: String
        public var action: String
        public var target: String
        public var outcome: String
        public var detail: String?

        public init(id: String, at: String, actor: String, action: String, target: String, outcome: String, detail: String? = nil) {
            self.id = id
            self.at = at
            self.actor = actor
            self.action = action
            self.target = target
            self.outcome = outcome
            self.detail = detail
        }
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

