import Foundation
import TesseraCore
import TesseraStore

/// User management. Users are system-level records; the capability is checked in the user's home
/// workspace, so a workspace-scoped grant can only ever reach users of that workspace.
extension IAMService {
    /// Loads the user an operation targets. `workspace`, when given, must be the user's home:
    /// a mismatch looks exactly like an unknown user.
    func targetUser(_ request: IAMRequest) async throws -> UserRecord {
        guard let id = request.user_id, !id.isEmpty else { throw IAMError.invalid("missing field user_id") }
        guard let user = try await store.user(id: id) else { throw IAMError.notFound("user not found") }
        if let workspace = request.workspace, !workspace.isEmpty, workspace != user.defaultWorkspace {
            throw IAMError.notFound("user not found")
        }
        return user
    }

    /// Roles must be known; granting `admin` needs `users:admin`.
    func validateRoles(_ roles: [String], by identity: Identity, workspace: String) throws {
        guard roles.count <= 32 else { throw IAMError.invalid("invalid field user.roles: at most 32 roles") }
        for entry in roles {
            let grant = RoleGrant.parse(entry, homeWorkspace: workspace)
            guard RoleCatalog.roles.contains(grant.role) else {
                throw IAMError.invalid("invalid field user.roles: unknown role \(entry)")
            }
            if grant.workspace != "*" && !Self.validWorkspaceID(grant.workspace) {
                throw IAMError.invalid("invalid field user.roles: bad workspace in \(entry)")
            }
            if grant.role == "admin" { try require(identity, Capability.usersAdmin, in: nil) }
        }
    }

    func createUser(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        let workspace = (request.workspace?.isEmpty == false) ? request.workspace! : identity.workspace
        try require(identity, Capability.usersWrite, in: workspace)
        guard let input = request.user else { throw IAMError.invalid("missing field user") }
        guard let username = input.username, Self.validUsername(username) else {
            throw IAMError.invalid("invalid field user.username")
        }
        guard try await store.workspace(id: workspace) != nil else { throw IAMError.notFound("workspace not found") }
        let roles = input.roles ?? ["reader"]
        try validateRoles(roles, by: identity, workspace: workspace)
        var passwordHash = ""
        if let password = input.password, !password.isEmpty {
            if let problem = PasswordPolicy.problem(with: password, username: username) {
                throw IAMError.weakPassword(problem)
            }
            let hasher = self.hasher
            passwordHash = try await offLoop { try hasher.hash(password) }
        }
        let user = UserRecord(
            id: newID(), username: username, name: input.name ?? "", email: input.email ?? "", passwordHash: passwordHash,
            roles: roles, defaultWorkspace: workspace, enabled: input.enabled ?? true,
            mustChangePassword: input.must_change_password ?? false, created: clock.now())
        do {
            try await store.createUser(user)
        } catch {
            if case .conflict = error { throw IAMError.conflict("username \(username) already exists") }
            throw error
        }
        await audit(identity, "create-user", target: user.id)
        var response = IAMResponse()
        response.user = .init(user)
        return response
    }

    func listUsers(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        let workspace = request.workspace?.isEmpty == false ? request.workspace : nil
        try require(identity, Capability.usersRead, in: workspace)
        var response = IAMResponse()
        response.users = try await store.listUsers(workspace: workspace).map(IAMResponse.User.init)
        return response
    }

    func getUser(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        let user = try await targetUser(request)
        try require(identity, Capability.usersRead, in: user.defaultWorkspace)
        var response = IAMResponse()
        response.user = .init(user)
        return response
    }

    func updateUser(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        var user = try await targetUser(request)
        try require(identity, Capability.usersWrite, in: user.defaultWorkspace)
        guard let input = request.user else { throw IAMError.invalid("missing field user") }
        if input.password != nil { throw IAMError.invalid("invalid field user.password: use reset-password") }
        if let username = input.username, username != user.username {
            guard Self.validUsername(username) else { throw IAMError.invalid("invalid field user.username") }
            user.username = username
        }
        if let name = input.name { user.name = name }
        if let email = input.email { user.email = email }
        if let roles = input.roles {
            try validateRoles(roles, by: identity, workspace: user.defaultWorkspace)
            if user.roles.contains("admin"), !roles.contains("admin") { try await requireAnotherAdmin(besides: user) }
            user.roles = roles
        }
        if let enabled = input.enabled {
            if !enabled { try await requireAnotherAdmin(besides: user) }
            if !enabled && user.enabled { user.tokenEpoch += 1 }
            user.enabled = enabled
        }
        if let flag = input.must_change_password { user.mustChangePassword = flag }
        try await store.updateUser(user)
        authenticator.invalidate(userID: user.id)
        await audit(identity, "update-user", target: user.id)
        var response = IAMResponse()
        response.user = .init(user)
        return response
    }

    func setUserEnabled(_ request: IAMRequest, _ identity: Identity, enabled: Bool) async throws -> IAMResponse {
        var user = try await targetUser(request)
        try require(identity, Capability.usersWrite, in: user.defaultWorkspace)
        if !enabled { try await requireAnotherAdmin(besides: user) }
        // Disabling ends every login token: re-enabling does not bring them back.
        if !enabled && user.enabled { user.tokenEpoch += 1 }
        user.enabled = enabled
        try await store.updateUser(user)
        authenticator.invalidate(userID: user.id)
        await audit(identity, enabled ? "enable-user" : "disable-user", target: user.id)
        var response = IAMResponse()
        response.user = .init(user)
        return response
    }

    func deleteUser(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        let user = try await targetUser(request)
        try require(identity, Capability.usersAdmin, in: user.defaultWorkspace)
        try await requireAnotherAdmin(besides: user)
        try await store.deleteUser(id: user.id)
        authenticator.invalidate(userID: user.id)
        await audit(identity, "delete-user", target: user.id)
        return IAMResponse()
    }

    /// Sets a random temporary password and forces a change at next login.
    func resetPassword(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        var user = try await targetUser(request)
        try require(identity, Capability.usersWrite, in: user.defaultWorkspace)
        // 96 random bits as base64url; one that would start with "-" is drawn again, because a
        // command line (`tg-login --password -x…`) reads it as an option (1 in 64 otherwise).
        var drawn: String
        repeat {
            drawn = Base64URL.random(byteCount: 12)
        } while drawn.hasPrefix("-")
        let temporary = drawn
        let hasher = self.hasher
        user.passwordHash = try await offLoop { try hasher.hash(temporary) }
        user.mustChangePassword = true
        user.tokenEpoch += 1
        try await store.updateUser(user)
        authenticator.invalidate(userID: user.id)
        await audit(identity, "reset-password", target: user.id)
        var response = IAMResponse()
        response.temporary_password = temporary
        return response
    }

    /// Refuses a change that would leave no enabled admin (422).
    func requireAnotherAdmin(besides user: UserRecord) async throws {
        guard user.roles.contains("admin"), user.enabled else { return }
        let others = try await store.listUsers(workspace: nil).filter { $0.id != user.id && $0.enabled && $0.roles.contains("admin") }
        guard !others.isEmpty else {
            throw IAMError.notPermitted("the last enabled admin cannot be removed")
        }
    }
}
