import Foundation
import PostgresNIO
import TesseraCore

/// Users, workspaces and API keys.
extension PostgresStore {
    static let bootstrapLock: Int64 = 0x7465_7373_626f_6f74

    typealias UserRow = (String, String, String, String, String, String, String, Bool, Bool, Double, Int)
    static let userColumns = "id, username, name, email, password_hash, roles, default_workspace, enabled, must_change_password, created, token_epoch"

    static func user(_ row: UserRow) throws -> UserRecord {
        UserRecord(
            id: row.0, username: row.1, name: row.2, email: row.3, passwordHash: row.4,
            roles: try StrictJSON.decode([String].self, from: Array(row.5.utf8)), defaultWorkspace: row.6, enabled: row.7,
            mustChangePassword: row.8, created: row.9.date, tokenEpoch: row.10)
    }

    static func users(_ rows: PostgresRowSequence) async throws -> [UserRecord] {
        var out: [UserRecord] = []
        for try await row in rows.decode(UserRow.self) { out.append(try user(row)) }
        return out
    }

    static func workspaces(_ rows: PostgresRowSequence) async throws -> [WorkspaceRecord] {
        var out: [WorkspaceRecord] = []
        for try await (id, name, enabled, created) in rows.decode((String, String, Bool, Double).self) {
            out.append(WorkspaceRecord(id: id, name: name, enabled: enabled, created: created.date))
        }
        return out
    }

    typealias KeyRow = (String, String, String, String, String, Double?, Double, Double?, Bool)
    static let keyColumns = "id, user_id, name, prefix, hash, expires, created, last_used, revoked"

    static func keys(_ rows: PostgresRowSequence) async throws -> [APIKeyRecord] {
        var out: [APIKeyRecord] = []
        for try await r in rows.decode(KeyRow.self) {
            out.append(APIKeyRecord(id: r.0, userID: r.1, name: r.2, prefix: r.3, hash: r.4, expires: r.5?.date, created: r.6.date, lastUsed: r.7?.date, revoked: r.8))
        }
        return out
    }

    static func insertUser(_ u: UserRecord, _ c: PostgresConnection) async throws {
        let roles = String(decoding: try JSONEncoder().encode(u.roles), as: UTF8.self)
        try await c.query(
            "INSERT INTO users (\(unescaped: userColumns)) VALUES (\(u.id), \(u.username), \(u.name), \(u.email), \(u.passwordHash), \(roles), \(u.defaultWorkspace), \(u.enabled), \(u.mustChangePassword), \(u.created.pg), \(u.tokenEpoch))",
            logger: .init(label: "pg"))
    }

    static func insertKey(_ k: APIKeyRecord, _ c: PostgresConnection) async throws {
        try await c.query(
            "INSERT INTO api_keys (\(unescaped: keyColumns)) VALUES (\(k.id), \(k.userID), \(k.name), \(k.prefix), \(k.hash), \(k.expires?.pg), \(k.created.pg), \(k.lastUsed?.pg), \(k.revoked))",
            logger: .init(label: "pg"))
    }

    static func insertWorkspace(_ w: WorkspaceRecord, _ c: PostgresConnection) async throws {
        try await c.query(
            "INSERT INTO workspaces (id, name, enabled, created) VALUES (\(w.id), \(w.name), \(w.enabled), \(w.created.pg))", logger: .init(label: "pg"))
    }

    public func bootstrap(workspace: WorkspaceRecord, admin: UserRecord, key: APIKeyRecord) async throws(StoreError) -> Bool {
        try await transaction { [self] c in
            try await Self.drain(c.query("SELECT pg_advisory_xact_lock(\(Self.bootstrapLock))", logger: logger))
            var count = 0
            for try await n in try await c.query("SELECT COUNT(*)::INT FROM users", logger: logger).decode(Int.self) { count = n }
            guard count == 0 else { return false }
            try await c.query(
                "INSERT INTO workspaces (id, name, enabled, created) VALUES (\(workspace.id), \(workspace.name), \(workspace.enabled), \(workspace.created.pg)) ON CONFLICT (id) DO NOTHING",
                logger: logger)
            try await Self.insertUser(admin, c)
            try await Self.insertKey(key, c)
            return true
        }
    }

    public func hasUsers() async throws(StoreError) -> Bool {
        try await run { [self] in
            var found = false
            for try await value in try await client.query("SELECT EXISTS (SELECT 1 FROM users)").decode(Bool.self) { found = value }
            return found
        }
    }

    public func createWorkspace(_ workspace: WorkspaceRecord) async throws(StoreError) {
        try await run { [self] in try await client.withConnection { try await Self.insertWorkspace(workspace, $0) } }
    }

    public func workspace(id: String) async throws(StoreError) -> WorkspaceRecord? {
        try await run { [self] in try await Self.workspaces(try await client.query("SELECT id, name, enabled, created FROM workspaces WHERE id = \(id)")).first }
    }

    public func listWorkspaces() async throws(StoreError) -> [WorkspaceRecord] {
        try await run { [self] in try await Self.workspaces(try await client.query("SELECT id, name, enabled, created FROM workspaces ORDER BY id")) }
    }

    public func updateWorkspace(_ workspace: WorkspaceRecord) async throws(StoreError) {
        try await transaction { [self] c in
            let rows = try await c.query(
                "UPDATE workspaces SET name = \(workspace.name), enabled = \(workspace.enabled) WHERE id = \(workspace.id) RETURNING id", logger: logger)
            var changed = 0
            for try await _ in rows.decode(String.self) { changed += 1 }
            guard changed == 1 else { throw StoreError.notFound("workspace \(workspace.id)") }
        }
    }

    public func createUser(_ user: UserRecord) async throws(StoreError) {
        try await transaction { [self] c in
            let found = try await Self.workspaces(try await c.query("SELECT id, name, enabled, created FROM workspaces WHERE id = \(user.defaultWorkspace)", logger: logger))
            guard !found.isEmpty else { throw StoreError.notFound("workspace \(user.defaultWorkspace)") }
            try await Self.insertUser(user, c)
        }
    }

    public func user(id: String) async throws(StoreError) -> UserRecord? {
        try await run { [self] in try await Self.users(try await client.query("SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(id)")).first }
    }

    public func user(username: String) async throws(StoreError) -> UserRecord? {
        try await run { [self] in try await Self.users(try await client.query("SELECT \(unescaped: Self.userColumns) FROM users WHERE username = \(username)")).first }
    }

    public func listUsers(workspace: String?) async throws(StoreError) -> [UserRecord] {
        try await run { [self] in
            if let workspace {
                return try await Self.users(try await client.query("SELECT \(unescaped: Self.userColumns) FROM users WHERE default_workspace = \(workspace) ORDER BY username"))
            }
            return try await Self.users(try await client.query("SELECT \(unescaped: Self.userColumns) FROM users ORDER BY username"))
        }
    }

    public func updateUser(_ u: UserRecord) async throws(StoreError) {
        let roles: String
        do { roles = String(decoding: try JSONEncoder().encode(u.roles), as: UTF8.self) } catch { throw .invalidState("roles") }
        try await transaction { [self] c in
            let rows = try await c.query(
                """
                UPDATE users SET username = \(u.username), name = \(u.name), email = \(u.email), password_hash = \(u.passwordHash),
                roles = \(roles), default_workspace = \(u.defaultWorkspace), enabled = \(u.enabled), must_change_password = \(u.mustChangePassword),
                token_epoch = \(u.tokenEpoch) WHERE id = \(u.id) RETURNING id
                """, logger: logger)
            var changed = 0
            for try await _ in rows.decode(String.self) { changed += 1 }
            guard changed == 1 else { throw StoreError.notFound("user \(u.id)") }
        }
    }

    public func deleteUser(id: String) async throws(StoreError) {
        try await transaction { [self] c in
            try await c.query("DELETE FROM api_keys WHERE user_id = \(id)", logger: logger)
            var changed = 0
            for try await _ in try await c.query("DELETE FROM users WHERE id = \(id) RETURNING id", logger: logger).decode(String.self) { changed += 1 }
            guard changed == 1 else { throw StoreError.notFound("user \(id)") }
        }
    }

    public func createAPIKey(_ key: APIKeyRecord) async throws(StoreError) {
        try await transaction { [self] c in
            let found = try await Self.users(try await c.query("SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(key.userID)", logger: logger))
            guard !found.isEmpty else { throw StoreError.notFound("user \(key.userID)") }
            try await Self.insertKey(key, c)
        }
    }

    public func apiKey(id: String) async throws(StoreError) -> APIKeyRecord? {
        try await run { [self] in try await Self.keys(try await client.query("SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE id = \(id)")).first }
    }

    public func listAPIKeys(userID: String) async throws(StoreError) -> [APIKeyRecord] {
        try await run { [self] in
            try await Self.keys(try await client.query("SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE user_id = \(userID) AND NOT revoked ORDER BY created"))
        }
    }

    public func revokeAPIKey(id: String) async throws(StoreError) {
        try await transaction { [self] c in
            var changed = 0
            for try await _ in try await c.query("UPDATE api_keys SET revoked = TRUE WHERE id = \(id) AND NOT revoked RETURNING id", logger: logger).decode(String.self) {
                changed += 1
            }
            guard changed == 1 else { throw StoreError.notFound("api key \(id)") }
        }
    }

    public func resolveAPIKey(hash: String) async throws(StoreError) -> ResolvedAPIKey? {
        try await run { [self] in
            guard let key = try await Self.keys(try await client.query("SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE hash = \(hash)")).first,
                let user = try await Self.users(try await client.query("SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(key.userID)")).first
            else { return nil }
            let workspace = try await Self.workspaces(try await client.query("SELECT id, name, enabled, created FROM workspaces WHERE id = \(user.defaultWorkspace)")).first
            return ResolvedAPIKey(key: key, user: user, workspace: workspace)
        }
    }

    /// The database's clock in Unix seconds: the change window is measured on the clock that
    /// stamped the changes (the `at` default of migration v5), never on this node's.
    static let databaseNow = "EXTRACT(EPOCH FROM clock_timestamp())"

    public func recentCredentialChanges(withinSeconds seconds: Double) async throws(StoreError) -> [CredentialChange] {
        try await run { [self] in
            var changes: [CredentialChange] = []
            let rows = try await client.query(
                "SELECT seq, kind, subject FROM credential_changes WHERE at > \(unescaped: Self.databaseNow) - \(seconds) ORDER BY seq")
            for try await (seq, kind, subject) in rows.decode((Int64, String, String).self) {
                if let kind = CredentialChange.Kind(rawValue: kind) { changes.append(CredentialChange(seq: seq, kind: kind, subject: subject)) }
            }
            return changes
        }
    }

    public func pruneCredentialChanges(olderThanSeconds seconds: Double) async throws(StoreError) {
        try await run { [self] in
            _ = try await client.query("DELETE FROM credential_changes WHERE at < \(unescaped: Self.databaseNow) - \(seconds)")
        }
    }

    public func touchAPIKeys(_ lastUsed: [String: Date]) async throws(StoreError) {
        guard !lastUsed.isEmpty else { return }
        try await transaction { [self] c in
            for (id, date) in lastUsed {
                try await c.query("UPDATE api_keys SET last_used = GREATEST(COALESCE(last_used, 0), \(date.pg)) WHERE id = \(id)", logger: logger)
            }
        }
    }
}
