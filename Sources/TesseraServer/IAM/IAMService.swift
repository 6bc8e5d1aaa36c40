import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import TesseraCore
import TesseraStore

/// The IAM operations, independent of transport: `POST /api/v1/iam` and the WebSocket's
/// `service: "iam"` frames both call ``handle(_:identity:)``, so they cannot diverge.
public struct IAMService: Sendable {
    let store: any IdentityStore & AuditStore
    let keys: SigningKeyService
    let authenticator: Authenticator
    let clock: any TesseraClock
    let hasher: PasswordHasher
    let settings: IAMSettings
    let logger: Logger
    /// Where security-relevant events go (docs/audit.md); set by ``ServerEnvironment``.
    public internal(set) var auditLog: AuditLog = .disabled
    let throttle: LoginThrottle
    /// Verifying an unknown username against this costs what a real check costs.
    let decoyHash: String

    public init(
        store: any IdentityStore & AuditStore, keys: SigningKeyService, authenticator: Authenticator, clock: any TesseraClock,
        settings: IAMSettings, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.authenticator = authenticator
        self.clock = clock
        self.hasher = PasswordHasher(iterations: settings.passwordIterations)
        self.settings = settings
        self.logger = logger
        self.throttle = LoginThrottle()
        self.decoyHash = hasher.decoy()
    }

    typealias Operation = @Sendable (IAMService, IAMRequest, Identity) async throws -> IAMResponse

    /// Every operation the endpoint accepts. An operation not listed here is a 400.
    static let operations: [String: Operation] = [
        "whoami": { s, r, i in try await s.whoami(r, i) },
        "bootstrap-status": { s, _, _ in try await s.bootstrapStatus() },
        "create-user": { s, r, i in try await s.createUser(r, i) },
        "list-users": { s, r, i in try await s.listUsers(r, i) },
        "get-user": { s, r, i in try await s.getUser(r, i) },
        "update-user": { s, r, i in try await s.updateUser(r, i) },
        "disable-user": { s, r, i in try await s.setUserEnabled(r, i, enabled: false) },
        "enable-user": { s, r, i in try await s.setUserEnabled(r, i, enabled: true) },
        "delete-user": { s, r, i in try await s.deleteUser(r, i) },
        "change-password": { s, r, i in try await s.changePassword(current: r.password, new: r.new_password, i) },
        "reset-password": { s, r, i in try await s.resetPassword(r, i) },
        "create-workspace": { s, r, i in try await s.createWorkspace(r, i) },
        "list-workspaces": { s, _, i in try await s.listWorkspaces(i) },
        "list-my-workspaces": { s, _, i in try await s.listMyWorkspaces(i) },
        "get-workspace": { s, r, i in try await s.getWorkspace(r, i) },
        "update-workspace": { s, r, i in try await s.updateWorkspace(r, i, enabled: nil) },
        "disable-workspace": { s, r, i in try await s.updateWorkspace(r, i, enabled: false) },
        "create-api-key": { s, r, i in try await s.createAPIKey(r, i) },
        "list-api-keys": { s, r, i in try await s.listAPIKeys(r, i) },
        "revoke-api-key": { s, r, i in try await s.revokeAPIKey(r, i) },
        "get-signing-key-public": { s, _, _ in try await s.signingKeyPublic() },
        "rotate-signing-key": { s, _, i in try await s.rotateSigningKey(i) },
        "resolve-api-key": { s, r, i in try await s.resolveAPIKey(r, i) },
        "authorise": { s, r, i in try await s.authorise(r, i) },
        "authorise-many": { s, r, i in try await s.authoriseMany(r, i) },
        "list-audit": { s, r, i in try await s.listAudit(r, i) },
    ]

    /// Operations a user who must change their password may still call.
    static let allowedWhilePasswordChangePending: Set<String> = ["whoami", "change-password", "bootstrap-status"]

    /// Runs one operation for an authenticated caller. Errors are ``IAMError``s; anything else
    /// becomes a 503 (store) or a denial, never a success.
    public func handle(_ request: IAMRequest, identity: Identity) async throws(IAMError) -> IAMResponse {
        var request = request
        request.actor = identity.userID
        guard let name = request.operation, !name.isEmpty else { throw .invalid("missing field operation") }
        guard let operation = Self.operations[name] else { throw .invalid("unknown operation \(name)") }
        if identity.mustChangePassword, !Self.allowedWhilePasswordChangePending.contains(name) {
            throw .accessDenied
        }
        do {
            return try await operation(self, request, identity)
        } catch let error as IAMError {
            throw error
        } catch let error as StoreError {
            throw Self.map(error)
        } catch {
            logger.error("IAM operation failed", metadata: ["operation": "\(name)", "error": "\(error)"])
            throw .unavailable
        }
    }

    static func map(_ error: StoreError) -> IAMError {
        switch error {
        case .conflict(let what): .conflict(what)
        case .notFound(let what): .notFound(what)
        case .unavailable, .invalidState, .revoked: .unavailable
        }
    }

    // MARK: Shared rules

    /// Refuses unless the caller holds `capability` in `workspace` (nil = system-level).
    func require(_ identity: Identity, _ capability: String, in workspace: String?) throws(IAMError) {
        guard identity.may(capability, in: workspace) else { throw .accessDenied }
    }

    /// One administrative action: a row of the stored trail (`GET /api/v1/audit`, TrustGraph's
    /// shape) and an event on the audit stream (docs/audit.md), written here once for both.
    func audit(
        _ identity: Identity?, _ action: String, target: String, outcome: String = "ok", detail: String? = nil, clientAddress: String? = nil,
        workspace: String? = nil
    ) async {
        let event = AuditEvent(
            at: clock.now(), actor: identity?.userID ?? "anonymous", action: action, target: target, outcome: outcome,
            detail: detail)
        do {
            try await store.appendAudit(event)
        } catch {
            logger.error("audit write failed", metadata: ["action": "\(action)", "error": "\(error)"])
        }
        guard auditLog.isEnabled, case (var type, let targetType)? = Self.streamType(action) else { return }
        if type == .loginSucceeded, outcome != "ok" { type = .loginFailed }
        let actor = identity.map(AuditLog.actor) ?? (action.hasPrefix("bootstrap") ? .system : .init(type: "anonymous", id: "anonymous"))
        auditLog.record(
            type, outcome: outcome == "ok" ? "success" : "failure", actor: actor, workspace: workspace ?? identity?.workspace,
            target: .init(type: targetType, id: target)
        ) {
            $0.client_address = clientAddress
            $0.details = ["action": action]
            if let detail { $0.details?["detail"] = detail }
        }
    }

    /// The stream's event type (and target type) for a stored trail action.
    static func streamType(_ action: String) -> (AuditStreamEvent.EventType, String)? {
        switch action {
        case "login": (.loginSucceeded, "user")
        case "create-user", "bootstrap", "bootstrap-token": (.userCreated, "user")
        case "update-user", "enable-user", "disable-user", "reset-password", "change-password": (.userUpdated, "user")
        case "delete-user": (.userDeleted, "user")
        case "create-workspace": (.workspaceCreated, "workspace")
        case "disable-workspace", "update-workspace": (.workspaceUpdated, "workspace")
        case "create-api-key": (.apiKeyCreated, "api_key")
        case "revoke-api-key": (.apiKeyRevoked, "api_key")
        case "rotate-signing-key": (.signingKeyRotated, "signing_key")
        default: nil
        }
    }

    /// Runs CPU-heavy work (PBKDF2) off the event loops, on a pool that leaves at least one core
    /// free: a burst of logins can then never starve request handling (measured by scripts/load).
    ///
    /// The pool's threads also run at the lowest scheduling class Linux has, `SCHED_IDLE`: they get
    /// the CPU only when nothing else wants it. Measured with scripts/load (issue 28): with two
    /// cores, one core of PBKDF2 at nice +10 still shared the other with request handling, wrk and
    /// the kernel, and a burst of 16 logins raised /evaluate's p99 3.2×. The trade, chosen on
    /// purpose: on a machine whose CPU is saturated by requests, logins wait (a login is
    /// latency-tolerant, ~0.1 s by design, and clients retry; a decision is in every tool call's
    /// path). Where `SCHED_IDLE` is refused, nice +10 stays.
    func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.hashingPool.runIfActive {
            Self.lowerThreadPriority()
            return try work()
        }
    }

    static func lowerThreadPriority() {
        #if os(Linux)
        // On Linux scheduling attributes are per thread, and pid/`who` 0 is the calling thread
        // (sched_setscheduler(2), setpriority(2) "Bugs"). SCHED_IDLE is 5 in <linux/sched.h>; Glibc's
        // module exports it only under _GNU_SOURCE.
        var parameters = sched_param()
        parameters.sched_priority = 0
        if sched_setscheduler(0, 5, &parameters) != 0 {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        }
        #endif
    }

    static let hashingPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, System.coreCount - 1))
        pool.start()
        return pool
    }()

    func newID() -> String { UUID().uuidString.lowercased() }

    /// Workspace ids: 1–64 of `[a-z0-9._-]`, not starting with `_` (reserved).
    static func validWorkspaceID(_ id: String) -> Bool {
        guard (1...64).contains(id.count), !id.hasPrefix("_") else { return false }
        return id.unicodeScalars.allSatisfy { "abcdefghijklmnopqrstuvwxyz0123456789._-".unicodeScalars.contains($0) }
    }

    /// Usernames: 1–128 characters, none of them a control character below U+0021, `@`, or Unicode
    /// white space. The set is spelled out (not `CharacterSet.whitespacesAndNewlines`) so that the
    /// OpenAPI document's pattern says exactly the same thing.
    static func validUsername(_ name: String) -> Bool {
        guard (1...128).contains(name.unicodeScalars.count) else { return false }
        return name.unicodeScalars.allSatisfy { !usernameExcluded.contains($0.value) && $0 != "@" }
    }

    static let usernameExcluded: Set<UInt32> = Set(0...0x20).union([
        0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF,
    ]).union(0x2000...0x200A)
}

/// IAM behaviour settings resolved from the server configuration.
public struct IAMSettings: Sendable {
    public enum BootstrapMode: String, Sendable {
        case bootstrap
        case token
    }

    public var issuer: String
    public var loginLifetime: TimeInterval = 3600
    public var bootstrapMode: BootstrapMode?
    public var passwordIterations: Int = PasswordHasher.standardIterations
    public var cacheTTL: TimeInterval = 10

    public init(issuer: String) { self.issuer = issuer }
}
