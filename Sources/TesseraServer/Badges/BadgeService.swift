import Foundation
import Logging
import TesseraCore
import TesseraStore

/// Badge issuance rules. Defaults are RFC-002 §7.2's issuance constraints and RFC-003 §8's
/// challenge and rate limits.
public struct BadgeSettings: Sendable {
    public var minimumLifetime: Int = 60
    public var maximumLifetime: Int = 3600
    public var defaultLifetime: Int = 300
    /// RFC-003 §8.2: challenges live 5 minutes by default, 10 at most.
    public var challengeDefaultLifetime: Int = 300
    public var challengeMaximumLifetime: Int = 600
    /// Open challenges an agent may hold at once (the newest displaces the oldest).
    public var challengeLimit: Int = 16
    /// RFC-003 §8.4 phase-1 limits, per minute: per client address, and per DID *for each
    /// principal asking* (a user or API key, or one badge), so that a relying party holding the
    /// agent's badge cannot use up the agent's own challenges.
    public var challengesPerRequesterPerMinute: Int = 50
    public var challengesPerDIDPerMinute: Int = 10
    /// RFC-003 §8.4 phase-2 limits: issuances per DID per minute (only valid proofs count, so only
    /// the key holder spends it); failed proofs per 15 min per DID and principal that asked for
    /// the challenge. Past that limit a failing proof is answered 429, but every proof is still
    /// checked: a valid proof is never refused because of anyone's failures.
    public var issuancesPerDIDPerMinute: Int = 10
    public var failedProofsPerDID: Int = 5
    /// How long verifiers may cache a status list.
    public var statusTTL: Int = 60
    public init() {}
}

/// Who is asking the registry: a Tessera principal (API key or login), or an agent presenting
/// its own badge (RFC-003 §5.1).
public enum RegistryCaller: Sendable {
    case principal(Identity)
    case badge(BadgeClaims)
}

/// A badge as issued: the token and its claims.
public struct IssuedBadge: Sendable {
    public var token: String
    public var claims: BadgeClaims
}

/// The agent registry and the badge authority (RFC-002 CA and RFC-003 proof of possession),
/// independent of HTTP.
public struct BadgeService: Sendable {
    let store: any AgentStore & IdentityStore & AuditStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    public let origin: RegistryOrigin
    public let statusLists: StatusListService
    let settings: BadgeSettings
    let logger: Logger
    /// Where security-relevant events go (docs/audit.md); set by ``ServerEnvironment``.
    public internal(set) var auditLog: AuditLog = .disabled
    /// RFC-003 §8.4's rate limits, from ``BadgeSettings``.
    let limiters: RegistryLimiters

    public init(
        store: any AgentStore & IdentityStore & AuditStore, keys: SigningKeyService, clock: any TesseraClock, origin: RegistryOrigin, statusLists: StatusListService,
        settings: BadgeSettings, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.origin = origin
        self.statusLists = statusLists
        self.settings = settings
        self.logger = logger
        self.limiters = RegistryLimiters(settings: settings)
    }

    /// A registry action: a row of the stored trail and an event on the audit stream.
    func audit(_ identity: Identity, _ action: String, _ target: String) async {
        try? await store.appendAudit(AuditEvent(at: clock.now(), actor: identity.userID, action: action, target: target, outcome: "ok"))
        let type: AuditStreamEvent.EventType
        let targetType: String
        switch action {
        case "register-agent": (type, targetType) = (.agentRegistered, "agent")
        case "revoke-badge": (type, targetType) = (.badgeRevoked, "badge")
        default: (type, targetType) = (.agentUpdated, "agent")
        }
        let workspace = identity.workspace
        auditLog.record(type, outcome: "success", actor: AuditLog.actor(identity), workspace: workspace, target: .init(type: targetType, id: target)) {
            $0.details = ["action": action]
            if targetType == "agent" { $0.agent_id = target }
        }
    }
}
