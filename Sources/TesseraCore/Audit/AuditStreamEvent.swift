import Foundation

/// One security-relevant event, as every audit sink writes it (schema `tessera.audit/1`,
/// documented field by field in docs/audit.md).
///
/// Why one flat object rather than OCSF itself: SIEMs ingest flat JSON with stable names most
/// easily, and Tessera's own words (`passport_jti`, `receipt_id`) are what an operator searches
/// for; the OCSF class, activity and status are carried alongside in ``ocsf`` so an OCSF pipeline
/// maps each event without a lookup table. Nothing secret is ever a field: no API key, password,
/// token or argument value (argument names only).
public struct AuditStreamEvent: Codable, Sendable, Equatable {
    public static let schemaName = "tessera.audit/1"

    /// Who did it: a user (`id` = user id), an agent, an API key, an OAuth client, or the
    /// server itself (`system`).
    public struct Actor: Codable, Sendable, Equatable {
        public var type: String
        public var id: String
        public var name: String?

        public init(type: String, id: String, name: String? = nil) {
            self.type = type
            self.id = id
            self.name = name
        }

        public static let system = Actor(type: "system", id: "tessera")
    }

    /// What it was done to.
    public struct Target: Codable, Sendable, Equatable {
        public var type: String
        public var id: String

        public init(type: String, id: String) {
            self.type = type
            self.id = id
        }
    }

    /// The event's OCSF 1.x classification (class, category, activity, status, severity).
    public struct OCSF: Codable, Sendable, Equatable {
        public var class_uid: Int
        public var class_name: String
        public var category_uid: Int
        public var activity_id: Int
        public var activity_name: String
        public var type_uid: Int
        public var status_id: Int
        public var severity_id: Int
    }

    public var schema: String = AuditStreamEvent.schemaName
    /// Unique per event (`evt_` + 128 random bits): the key a receiver deduplicates on, since
    /// delivery to a webhook is at least once.
    public var id: String
    /// RFC 3339 UTC with milliseconds.
    public var time: String
    public var type: String
    /// `permit`, `deny`, `approval_required` for decisions; `success` or `failure` otherwise.
    public var outcome: String
    public var actor: Actor
    public var workspace: String?
    public var target: Target?
    /// The session, by reference: its id is a bearer capability for `/evaluate`, so events carry
    /// `sesref_` + the first 128 bits of its SHA-256 instead (the same value in every event and
    /// span of that session).
    public var session_ref: String?
    public var passport_jti: String?
    public var agent_id: String?
    public var tool: String?
    /// Names only, sorted: the values may be secrets.
    public var argument_names: [String]?
    public var reason: String?
    public var receipt_id: String?
    public var approval_id: String?
    public var client_address: String?
    /// Free-form context that is never secret (a configuration summary, a role list).
    public var details: [String: String]?
    public var trace_id: String?
    public var span_id: String?
    public var ocsf: OCSF
    public var node: String?

    public init(
        id: String, time: String, type: EventType, outcome: String, actor: Actor, workspace: String? = nil, target: Target? = nil
    ) {
        self.id = id
        self.time = time
        self.type = type.rawValue
        self.outcome = outcome
        self.actor = actor
        self.workspace = workspace
        self.target = target
        self.ocsf = type.ocsf(failed: outcome == "failure" || outcome == "deny")
    }

    /// Whether the event reports something refused or failed (syslog severity warning).
    public var isFailure: Bool { outcome == "failure" || outcome == "deny" }

    /// Every event type, with its OCSF class and activity.
    public enum EventType: String, Sendable, CaseIterable {
        case decision
        case approvalRequested = "approval.requested"
        case approvalGranted = "approval.granted"
        case approvalDenied = "approval.denied"
        case passportIssued = "passport.issued"
        case passportDelegated = "passport.delegated"
        case passportRevoked = "passport.revoked"
        case sessionStarted = "session.started"
        case sessionEnded = "session.ended"
        case badgeIssued = "badge.issued"
        case badgeRevoked = "badge.revoked"
        case loginSucceeded = "login.succeeded"
        case loginFailed = "login.failed"
        case apiKeyCreated = "api_key.created"
        case apiKeyRevoked = "api_key.revoked"
        case userCreated = "user.created"
        case userUpdated = "user.updated"
        case userDeleted = "user.deleted"
        case workspaceCreated = "workspace.created"
        case workspaceUpdated = "workspace.updated"
        case agentRegistered = "agent.registered"
        case agentUpdated = "agent.updated"
        case configurationLoaded = "configuration.loaded"
        case signingKeyRotated = "signing_key.rotated"

        /// OCSF classes used: Authorize Session (3003) for decisions and approvals, Authentication
        /// (3002) for logins, Account Change (3001) for users and API keys, API Activity (6003)
        /// for everything issued, revoked or configured.
        public func ocsf(failed: Bool) -> OCSF {
            let (classUID, className, category, activity, activityName): (Int, String, Int, Int, String) =
                switch self {
                case .decision: (3003, "Authorize Session", 3, 99, "Evaluate")
                case .approvalRequested: (3003, "Authorize Session", 3, 99, "Approval Request")
                case .approvalGranted: (3003, "Authorize Session", 3, 1, "Assign Privileges")
                case .approvalDenied: (3003, "Authorize Session", 3, 99, "Approval Deny")
                case .loginSucceeded, .loginFailed: (3002, "Authentication", 3, 1, "Logon")
                case .userCreated: (3001, "Account Change", 3, 1, "Create")
                case .userUpdated: (3001, "Account Change", 3, 99, "Other")
                case .userDeleted: (3001, "Account Change", 3, 6, "Delete")
                case .workspaceCreated, .agentRegistered: (6003, "API Activity", 6, 1, "Create")
                case .workspaceUpdated, .agentUpdated: (6003, "API Activity", 6, 3, "Update")
                case .apiKeyCreated: (3001, "Account Change", 3, 99, "API Key Create")
                case .apiKeyRevoked: (3001, "Account Change", 3, 99, "API Key Revoke")
                case .passportIssued, .passportDelegated, .badgeIssued, .sessionStarted: (6003, "API Activity", 6, 1, "Create")
                case .passportRevoked, .badgeRevoked, .sessionEnded: (6003, "API Activity", 6, 4, "Delete")
                case .configurationLoaded: (6003, "API Activity", 6, 99, "Configuration Loaded")
                case .signingKeyRotated: (6003, "API Activity", 6, 3, "Update")
                }
            return OCSF(
                class_uid: classUID, class_name: className, category_uid: category, activity_id: activity, activity_name: activityName,
                type_uid: classUID * 100 + activity, status_id: failed ? 2 : 1, severity_id: failed ? 3 : 1)
        }
    }
}
