import Foundation
import GRDB
import TesseraCore

extension SQLiteStore {
    public func bootstrap(workspace: WorkspaceRecord, admin: UserRecord, key: APIKeyRecord) async throws(StoreError) -> Bool {
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") == 0 else { return false }
            if try Self.fetchWorkspace(db, id: workspace.id) == nil { try Self.insert(workspace, db) }
            try Self.insert(admin, db)
            try Self.insert(key, db)
            return true
        }
    }

    public func hasUsers() async throws(StoreError) -> Bool {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0 > 0 }
    }

    // MARK: Workspaces

    public func createWorkspace(_ workspace: WorkspaceRecord) async throws(StoreError) {
        try await write { db in
            guard try Self.fetchWorkspace(db, id: workspace.id) == nil else {
                throw StoreError.conflict("workspace \(workspace.id) exists")
            }
            try Self.insert(workspace, db)
        }
    }

    public func workspace(id: String) async throws(StoreError) -> WorkspaceRecord? {
        try await read { db in try Self.fetchWorkspace(db, id: id) }
    }

    public func listWorkspaces() async throws(StoreError) -> [WorkspaceRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workspaces ORDER BY id").map(Self.workspace(from:))
        }
    }

    public func updateWorkspace(_ workspace: WorkspaceRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE workspaces SET name = ?, enabled = ? WHERE id = ?",
                arguments: [workspace.name, workspace.enabled, workspace.id])
            guard db.changesCount == 1 else { throw StoreError.notFound("workspace \(workspace.id)") }
        }
    }

    static func insert(_ workspace: WorkspaceRecord, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO workspaces (id, name, enabled, created) VALUES (?, ?, ?, ?)",
            arguments: [workspace.id, workspace.name, workspace.enabled, workspace.created.timeIntervalSince1970])
    }

    static func fetchWorkspace(_ db: Database, id: String) throws -> WorkspaceRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM workspaces WHERE id = ?", arguments: [id]).map(workspace(from:))
    }

    static func workspace(from row: Row) -> WorkspaceRecord {
        WorkspaceRecord(
            id: row["id"], name: row["name"], enabled: row["enabled"],
            created: Date(timeIntervalSince1970: row["created"]))
    }

    // MARK: Users

    public func createUser(_ user: UserRecord) async throws(StoreError) {
        try await write { db in
            guard try Self.fetchWorkspace(db, id: user.defaultWorkspace) != nil else {
                throw StoreError.notFound("workspace \(user.defaultWorkspace)")
            }
            guard try Self.fetchUser(db, sql: "username = ?", user.username) == nil else {
                throw StoreError.conflict("username \(user.username) exists")
            }
            try Self.insert(user, db)
        }
    }

    public func user(id: String) async throws(StoreError) -> UserRecord? {
        try await read { db in try Self.fetchUser(db, sql: "id = ?", id) }
    }

    public func user(username: String) async throws(StoreError) -> UserRecord? {
        try await read { db in try Self.fetchUser(db, sql: "username = ?", username) }
    }

    public func listUsers(workspace: String?) async throws(StoreError) -> [UserRecord] {
        try await read { db in
            if let workspace {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM users WHERE default_workspace = ? ORDER BY username", arguments: [workspace]
                ).map(Self.user(from:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY username").map(Self.user(from:))
        }
    }

    public func updateUser(_ user: UserRecord) async throws(StoreError) {
        try await write { db in
            if let other = try Self.fetchUser(db, sql: "username = ?", user.username), other.id != user.id {
                throw StoreError.conflict("username \(user.username) exists")
            }
            try db.execute(
                sql: """
                    UPDATE users SET username = ?, name = ?, email = ?, password_hash = ?, roles = ?,
                    default_workspace = ?, enabled = ?, must_change_password = ?, token_epoch = ? WHERE id = ?
                    """,
                arguments: [
                    user.username, user.name, user.email, user.passwordHash, try Self.json(user.roles),
                    user.defaultWorkspace, user.enabled, user.mustChangePassword, user.tokenEpoch, user.id,
                ])
            guard db.changesCount == 1 else { throw StoreError.notFound("user \(user.id)") }
        }
    }

    public func deleteUser(id: String) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "DELETE FROM api_keys WHERE user_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw StoreError.notFound("user \(id)") }
        }
    }

    static func insert(_ user: UserRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO users (id, username, name, email, password_hash, roles, default_workspace, enabled,
                must_change_password, created, token_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                user.id, user.username, user.name, user.email, user.passwordHash, try json(user.roles),
                user.defaultWorkspace, user.enabled, user.mustChangePassword, user.created.timeIntervalSince1970, user.tokenEpoch,
            ])
    }

    static func fetchUser(_ db: Database, sql condition: String, _ value: String) throws -> UserRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM users WHERE \(condition)", arguments: [value]).map(user(from:))
    }

    static func user(from row: Row) throws -> UserRecord {
        let roles: String = row["roles"]
        return UserRecord(
            id: row["id"], username: row["username"], name: row["name"], email: row["email"],
            passwordHash: row["password_hash"], roles: try StrictJSON.decode([String].self, from: Array(roles.utf8)),
            defaultWorkspace: row["default_workspace"], enabled: row["enabled"],
            mustChangePassword: row["must_change_password"], created: Date(timeIntervalSince1970: row["created"]),
            tokenEpoch: row["token_epoch"])
    }

    static func json(_ roles: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(roles), as: UTF8.self)
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) async throws(StoreError) {
        try await write { db in
            guard try Self.fetchUser(db, sql: "id = ?", key.userID) != nil else {
                throw StoreError.notFound("user \(key.userID)")
            }
            try Self.insert(key, db)
        }
    }

    public func apiKey(id: String) async throws(StoreError) -> APIKeyRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]).map(Self.apiKey(from:))
        }
    }

    public func listAPIKeys(userID: String) async throws(StoreError) -> [APIKeyRecord] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM api_keys WHERE user_id = ? AND revoked = 0 ORDER BY created", arguments: [userID]
            ).map(Self.apiKey(from:))
        }
    }

    public func revokeAPIKey(id: String) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked = 1 WHERE id = ? AND revoked = 0", arguments: [id])
            guard db.changesCount == 1 else { throw StoreError.notFound("api key \(id)") }
        }
    }

    public func resolveAPIKey(hash: String) async throws(StoreError) -> ResolvedAPIKey? {
        try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE hash = ?", arguments: [hash]) else {
                return nil
            }
            let key = Self.apiKey(from: row)
            guard let user = try Self.fetchUser(db, sql: "id = ?", key.userID) else { return nil }
            return ResolvedAPIKey(key: key, user: user, workspace: try Self.fetchWorkspace(db, id: user.defaultWorkspace))
        }
    }

    public func touchAPIKeys(_ lastUsed: [String: Date]) async throws(StoreError) {
        guard !lastUsed.isEmpty else { return }
        try await write { db in
            for (id, date) in lastUsed {
                try db.execute(
                    sql: "UPDATE api_keys SET last_used = MAX(COALESCE(last_used, 0), ?) WHERE id = ?",
                    arguments: [date.timeIntervalSince1970, id])
            }
        }
    }

    /// The database's clock in Unix seconds: the change window is measured on the clock that
    /// stamped the changes (the `at` default of migration v5), never on this process's.
    static let databaseNow = "((julianday('now') - 2440587.5) * 86400.0)"

    public func recentCredentialChanges(withinSeconds seconds: Double) async throws(StoreError) -> [CredentialChange] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT seq, kind, subject FROM credential_changes WHERE at > \(Self.databaseNow) - ? ORDER BY seq",
                arguments: [seconds]
            ).compactMap { row in
                CredentialChange.Kind(rawValue: row["kind"]).map { CredentialChange(seq: row["seq"], kind: $0, subject: row["subject"]) }
            }
        }
    }

    public func pruneCredentialChanges(olderThanSeconds seconds: Double) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "DELETE FROM credential_changes WHERE at < \(Self.databaseNow) - ?", arguments: [seconds])
        }
    }

    static func insert(_ key: APIKeyRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO api_keys (id, user_id, name, prefix, hash, expires, created, last_used, revoked)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                key.id, key.userID, key.name, key.prefix, key.hash, key.expires?.timeIntervalSince1970,
                key.created.timeIntervalSince1970, key.lastUsed?.timeIntervalSince1970, key.revoked,
            ])
    }

    static func apiKey(from row: Row) -> APIKeyRecord {
        let expires: Double? = row["expires"]
        let lastUsed: Double? = row["last_used"]
        return APIKeyRecord(
            id: row["id"], userID: row["user_id"], name: row["name"], prefix: row["prefix"], hash: row["hash"],
            expires: expires.map { Date(timeIntervalSince1970: $0) }, created: Date(timeIntervalSince1970: row["created"]),
            lastUsed: lastUsed.map { Date(timeIntervalSince1970: $0) }, revoked: row["revoked"])
    }
}
