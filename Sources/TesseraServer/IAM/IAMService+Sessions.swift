import Foundation
import TesseraCore
import TesseraStore

/// Bootstrap, login and password changes: the public auth surface.
extension IAMService {
    public static let defaultWorkspace = "default"
    public static let adminUsername = "admin"

    public func bootstrapAvailable() async throws(IAMError) -> Bool {
        guard settings.bootstrapMode == .bootstrap else { return false }
        do {
            return try await !store.hasUsers()
        } catch {
            throw Self.map(error)
        }
    }

    func bootstrapStatus() async throws -> IAMResponse {
        var response = IAMResponse()
        response.bootstrap_available = try await bootstrapAvailable()
        return response
    }

    /// Creates the `default` workspace, the `admin` user and its API key, once, in bootstrap mode.
    /// Any refusal is the masked auth failure: mode, state and races look the same.
    public func bootstrap() async throws(IAMError) -> IAMResponse {
        guard settings.bootstrapMode == .bootstrap else { throw .authFailed }
        let issued = APIKeyCodec.generate()
        let (workspace, admin, key) = bootstrapRecords(keyHash: issued.hash, prefix: issued.prefix, keyName: "bootstrap")
        let created: Bool
        do {
            created = try await store.bootstrap(workspace: workspace, admin: admin, key: key)
        } catch {
            throw .authFailed
        }
        guard created else { throw .authFailed }
        await audit(nil, "bootstrap", target: admin.id)
        var response = IAMResponse()
        response.bootstrap_admin_user_id = admin.id
        response.bootstrap_admin_api_key = issued.plaintext
        return response
    }

    /// Token mode: on a store with no users, make the operator's token the admin's API key.
    public func bootstrapWithToken(_ token: String) async throws -> Bool {
        let (workspace, admin, key) = bootstrapRecords(
            keyHash: APIKeyCodec.hash(token), prefix: APIKeyCodec.prefix(token), keyName: "bootstrap-token")
        let created = try await store.bootstrap(workspace: workspace, admin: admin, key: key)
        if created { await audit(nil, "bootstrap-token", target: admin.id) }
        return created
    }

    func bootstrapRecords(keyHash: String, prefix: String, keyName: String) -> (WorkspaceRecord, UserRecord, APIKeyRecord) {
        let now = clock.now()
        let workspace = WorkspaceRecord(id: Self.defaultWorkspace, name: "Default", created: now)
        // No password: the admin authenticates with the API key until one is set.
        let admin = UserRecord(
            id: newID(), username: Self.adminUsername, name: "Administrator", passwordHash: "", roles: ["admin"],
            defaultWorkspace: workspace.id, created: now)
        let key = APIKeyRecord(id: newID(), userID: admin.id, name: keyName, prefix: prefix, hash: keyHash, expires: nil, created: now)
        return (workspace, admin, key)
    }

    public struct LoginResult: Sendable {
        public var jwt: String
        public var expires: Date
    }

    /// Checks a username and password and issues a login JWT.
    ///
    /// The unknown-user path verifies against a decoy hash, so it costs the same as a wrong
    /// password and answers the same 401. Throttling is checked first, per username and address.
    public func login(username: String, password: String, workspace: String?, clientAddress: String?) async throws(IAMError) -> LoginResult {
        let now = clock.now()
        let user = try await authenticate(username: username, password: password, clientAddress: clientAddress)
        let target = (workspace?.isEmpty == false) ? workspace! : user.defaultWorkspace
        let identity = Identity(user: user, workspace: target, source: .login(jti: ""))
        let mayUse = identity.grantedWorkspaces.contains("*") || identity.grantedWorkspaces.contains(target)
            || target == user.defaultWorkspace
        guard mayUse, (try? await authenticator.workspaceIsEnabled(target)) == true else {
            await audit(nil, "login", target: username, outcome: "denied", detail: "workspace", clientAddress: clientAddress, workspace: user.defaultWorkspace)
            throw .authFailed
        }
        let expires = now.addingTimeInterval(settings.loginLifetime)
        let claims = LoginClaims(
            iss: settings.issuer, sub: user.id, workspace: target, iat: now.unixSeconds, exp: expires.unixSeconds,
            epoch: user.tokenEpoch)
        let token: String
        do {
            token = try keys.sign(claims, type: LoginClaims.type)
        } catch {
            throw .unavailable
        }
        await audit(identity, "login", target: user.id, clientAddress: clientAddress)
        return LoginResult(jwt: token, expires: Date(timeIntervalSince1970: TimeInterval(claims.exp ?? 0)))
    }

    /// The enabled user a username and password name, through the login throttle (per username
    /// and address), in constant work whether the user exists or not. `/login` and the OAuth
    /// sign-in page both come here, so both are throttled alike.
    public func authenticate(username: String, password: String, clientAddress: String?) async throws(IAMError) -> UserRecord {
        let now = clock.now()
        let ticket = try admit(username: username, address: clientAddress, now: now)
        let user: UserRecord?
        do {
            user = try await store.user(username: username)
        } catch {
            throttle.finish(ticket, succeeded: false)
            throw Self.map(error)
        }
        let stored = user.map { $0.passwordHash.isEmpty ? decoyHash : $0.passwordHash } ?? decoyHash
        let hasher = self.hasher
        let matches = (try? await offLoop { hasher.verify(password, against: stored) }) ?? false
        guard let user, matches, !user.passwordHash.isEmpty, user.enabled else {
            throttle.finish(ticket, succeeded: false)
            await audit(nil, "login", target: username, outcome: "denied", clientAddress: clientAddress, workspace: user?.defaultWorkspace)
            throw .authFailed
        }
        throttle.finish(ticket, succeeded: true)
        if hasher.needsRehash(user.passwordHash) {
            var upgraded = user
            if let hash = try? await offLoop({ try hasher.hash(password) }) {
                upgraded.passwordHash = hash
                try? await store.updateUser(upgraded)
            }
        }
        return user
    }

    /// Admits a password check through the throttle, or refuses with 429 and `Retry-After`.
    func admit(username: String, address: String?, now: Date) throws(IAMError) -> LoginThrottle.Ticket {
        do {
            return try throttle.begin(username: username, address: address, now: now)
        } catch {
            guard case .retryAfter(let wait) = error else { throw .unavailable }
            throw IAMError.rateLimited("too many failed password attempts; retry later", retryAfter: wait)
        }
    }

    /// The caller changes their own password; clears `must_change_password`. The current-password
    /// check is throttled exactly like a login, so a stolen session cannot guess it.
    public func changePassword(current: String?, new: String?, _ identity: Identity, clientAddress: String? = nil) async throws -> IAMResponse {
        guard let new, !new.isEmpty else { throw IAMError.invalid("missing field new_password") }
        guard let user = try await store.user(id: identity.userID) else { throw IAMError.authFailed }
        let ticket = try admit(username: user.username, address: clientAddress, now: clock.now())
        let hasher = self.hasher
        let stored = user.passwordHash.isEmpty ? decoyHash : user.passwordHash
        let currentPassword = current ?? ""
        let matches = (try? await offLoop { hasher.verify(currentPassword, against: stored) }) ?? false
        guard matches, !user.passwordHash.isEmpty else {
            throttle.finish(ticket, succeeded: false)
            await audit(identity, "change-password", target: user.id, outcome: "denied")
            throw IAMError.authFailed
        }
        throttle.finish(ticket, succeeded: true)
        if let problem = PasswordPolicy.problem(with: new, username: user.username) {
            throw IAMError.weakPassword(problem)
        }
        var updated = user
        updated.passwordHash = try await offLoop { try hasher.hash(new) }
        updated.mustChangePassword = false
        // Every login token issued before the change is refused from now on (API keys are
        // separate credentials and stay valid).
        updated.tokenEpoch += 1
        try await store.updateUser(updated)
        authenticator.invalidate(userID: user.id)
        await audit(identity, "change-password", target: user.id)
        return IAMResponse()
    }

    func whoami(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        guard let user = try await store.user(id: identity.userID) else { throw IAMError.authFailed }
        var response = IAMResponse()
        response.user = .init(user)
        response.resolved_workspace = identity.workspace
        return response
    }
}
