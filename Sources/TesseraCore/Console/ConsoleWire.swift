import Foundation

/// The operator console's JSON: shared by the server that writes it and any Swift reader (the
/// console itself is JavaScript and reads the same shapes; docs/openapi.json describes them).
public enum ConsoleWire {
    /// One decision as the live feed shows it. Tool names, reasons and agent ids are copied from
    /// the call and the passport: attacker-controlled text that the page renders as text only.
    public struct DecisionEvent: Sendable, Codable, Equatable {
        /// When the decision was made, in milliseconds since 1970 (the page measures its lag from it).
        public var at_ms: Int64
        public var agent_id: String
        /// The passport the session runs on: the console's name for a session (the session id
        /// itself is the agent's bearer secret and is never shown).
        public var passport_jti: String
        public var parent_jti: String?
        public var tool: String
        public var decision: String
        public var reason: String?
        public var violations: [ToolPolicy.Violation]?
        public var approval_id: String?
        public var receipt_id: String?
        public var calls_used: Int
        public var calls_remaining: Int?

        public init(
            at_ms: Int64, agent_id: String, passport_jti: String, parent_jti: String?, tool: String, result: GovernanceWire.EvaluationResult
        ) {
            self.at_ms = at_ms
            self.agent_id = agent_id
            self.passport_jti = passport_jti
            self.parent_jti = parent_jti
            self.tool = tool
            self.decision = result.decision
            self.reason = result.reason
            self.violations = result.violations
            self.approval_id = result.approval_id
            self.receipt_id = result.receipt_id
            self.calls_used = result.calls_used
            self.calls_remaining = result.calls_remaining
        }
    }

    /// One server-sent event of the feed: the decisions since the last batch that match the
    /// subscriber's filter. Under load the server sends at most a bounded number per batch and
    /// counts the rest in `dropped`; `counts` covers every matching decision, shown or not, so
    /// the page's totals stay exact while its rows are a sample.
    public struct DecisionBatch: Sendable, Codable, Equatable {
        public var decisions: [DecisionEvent]
        public var dropped: Int
        public var counts: [String: Int]

        public init(decisions: [DecisionEvent], dropped: Int, counts: [String: Int]) {
            self.decisions = decisions
            self.dropped = dropped
            self.counts = counts
        }
    }

    /// `GET /api/v1/console/overview`. A part the caller may not read is absent (null), never
    /// filled in with the console's own privilege.
    public struct Overview: Sendable, Codable, Equatable {
        public struct SigningKey: Sendable, Codable, Equatable {
            public var kid: String
            public var created: String
            public var age_seconds: Int64
            /// Tessera rotates on command (`tessera key rotate`); this is the date the console
            /// recommends it by (90 days after creation), not a schedule.
            public var rotate_by: String
            public init(kid: String, created: String, age_seconds: Int64, rotate_by: String) {
                self.kid = kid
                self.created = created
                self.age_seconds = age_seconds
                self.rotate_by = rotate_by
            }
        }

        public var workspace: String
        public var username: String
        public var capabilities: [String]
        public var agents: Int?
        public var agents_active: Int?
        public var sessions_active: Int?
        /// Decisions in the last hour by outcome, as this node made them (since it started).
        public var decisions_last_hour: [String: Int]?
        /// Decisions per second over the last ``rateWindow`` seconds, oldest first.
        public var decisions_per_second: [Int]?
        public var signing_key: SigningKey?
        public var server_time: String

        public init(workspace: String, username: String, capabilities: [String], server_time: String) {
            self.workspace = workspace
            self.username = username
            self.capabilities = capabilities
            self.server_time = server_time
        }
    }

    /// Seconds of per-second history the overview chart shows.
    public static let rateWindow = 300

    /// A registered agent with its latest badge (`GET /api/v1/console/agents`).
    public struct AgentSummary: Sendable, Codable, Equatable {
        public struct Badge: Sendable, Codable, Equatable {
            public var jti: String
            public var ial: String
            public var issued: String
            public var expires: String
            public var revoked: Bool
            public init(jti: String, ial: String, issued: String, expires: String, revoked: Bool) {
                self.jti = jti
                self.ial = ial
                self.issued = issued
                self.expires = expires
                self.revoked = revoked
            }
        }

        public var id: String
        public var name: String
        public var did: String
        public var domain: String
        public var status: String
        public var created: String
        public var last_badge: Badge?

        public init(id: String, name: String, did: String, domain: String, status: String, created: String, last_badge: Badge?) {
            self.id = id
            self.name = name
            self.did = did
            self.domain = domain
            self.status = status
            self.created = created
            self.last_badge = last_badge
        }
    }

    /// A session as the console lists it (`GET /api/v1/console/sessions`), keyed by its
    /// passport's `jti`.
    public struct SessionSummary: Sendable, Codable, Equatable {
        public var passport_jti: String
        public var parent_jti: String?
        public var agent_id: String
        public var mission: String
        public var started: String
        public var expires: String?
        /// `active`, `ended`, `revoked` or `expired`.
        public var state: String
        public var calls_used: Int
        public var max_tool_calls: Int?
        public var reserved_for_children: Int
        public var permits: Int
        public var denies: Int
        public var delegations: Int
        public var receipts: Int
        public var delegation_depth: Int

        public init(
            passport_jti: String, parent_jti: String?, agent_id: String, mission: String, started: String, expires: String?,
            state: String, calls_used: Int, max_tool_calls: Int?, reserved_for_children: Int, permits: Int, denies: Int,
            delegations: Int, receipts: Int, delegation_depth: Int
        ) {
            self.passport_jti = passport_jti
            self.parent_jti = parent_jti
            self.agent_id = agent_id
            self.mission = mission
            self.started = started
            self.expires = expires
            self.state = state
            self.calls_used = calls_used
            self.max_tool_calls = max_tool_calls
            self.reserved_for_children = reserved_for_children
            self.permits = permits
            self.denies = denies
            self.delegations = delegations
            self.receipts = receipts
            self.delegation_depth = delegation_depth
        }
    }
}
