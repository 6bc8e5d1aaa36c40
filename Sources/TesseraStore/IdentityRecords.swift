import Foundation

/// A workspace: the unit of isolation for agents, passports and role grants.
public struct WorkspaceRecord: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var enabled: Bool
    public var created: Date

    public init(id: String, name: String, enabled: Bool = true, created: Date) {
        self.id = id
        self.name = name
        self.enabled = enabled
        self.created = created
    }
}

/// A user (human or automation). Usernames are global.
public struct UserRecord: Sendable, Equatable, Codable {
    public var id: String
    public var username: String
    public var name: String
    public var email: String
    /// `PasswordHasher` encoding; empty for a user that can only use API keys.
    public var passwordHash: String
    public var roles: [String]
    public var defaultWorkspace: String
    public var enabled: Bool
    public var mustChangePassword: Bool
    public var created: Date
    /// Login JWTs carry the epoch they were issued in; a password change or a disable moves it
    /// on, so every login token issued before is refused from then on.
    public var tokenEpoch: Int

    public init(
        id: String, username: String, name: String = "", email: String = "", passwordHash: String,
        roles: [String], defaultWorkspace: String, enabled: Bool = true, mustChangePassword: Bool = false,
        created: Date, tokenEpoch: Int = 0
    ) {
        self.tokenEpoch = tokenEpoch
        self.id = id
        self.username = username
        self.name = name
        self.email = email
        self.passwordHash = passwordHash
        self.roles = roles
        self.defaultWorkspace = defaultWorkspace
        self.enabled = enabled
        self.mustChangePassword = mustChangePassword
        self.created = created
    }
}

/// An API key as stored: its SHA-256, never its plaintext.
public struct APIKeyRecord: Sendable, Equatable, Codable {
    public var id: String
    public var userID: String
    public var name: String
    public var prefix: String
    public var hash: String
    public var expires: Date?
    public var created: Date
    public var lastUsed: Date?
    public var revoked: Bool

    public init(
        id: String, userID: String, name: String, prefix: String, hash: String, expires: Date?, created: Date,
        lastUsed: Date? = nil, revoked: Bool = false
    ) {
        self.id = id
        self.userID = userID
        self.name = name
        self.prefix = prefix
        self.hash = hash
        self.expires = expires
        self.created = created
        self.lastUsed = lastUsed
        self.revoked = revoked
    }
}

/// What an API key resolves to: the key, its user, and the user's home workspace.
public struct ResolvedAPIKey: Sendable, Equatable {
    public var key: APIKeyRecord
    public var user: UserRecord
    public var workspace: WorkspaceRecord?
}

/// One committed change that may make a cached credential wrong: a user or workspace updated or
/// deleted, an API key revoked or its expiry changed.
public struct CredentialChange: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case user, workspace, key
        /// A passport revoked (subject: its jti).
        case revocation
    }

    /// Increases with each change (not necessarily in commit order on PostgreSQL, hence the
    /// time window rather than a high-water mark).
    public var seq: Int64
    public var kind: Kind
    /// The user, workspace or key id, or the revoked passport's jti.
    public var subject: String

    public init(seq: Int64, kind: Kind, subject: String) {
        self.seq = seq
        self.kind = kind
        self.subject = subject
    }
}
