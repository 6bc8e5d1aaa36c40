import Foundation

/// PERMIT, DENY or APPROVAL_REQUIRED, with the rule that decided.
public struct Decision: Sendable, Equatable {
    public enum Verdict: String, Sendable, Codable, CaseIterable {
        case permit = "PERMIT", deny = "DENY", approvalRequired = "APPROVAL_REQUIRED"
    }
    public var verdict: Verdict
    /// `rule: detail` for most DENYs; exactly `argument_violation`, `unknown_argument` or
    /// `missing_argument` for an argument DENY (the details are in `violations`); nil for a PERMIT.
    public var reason: String?
    /// What failed, argument by argument, for an argument DENY.
    public var violations: [ToolPolicy.Violation] = []
    /// On a call that passed every rule: the approval it still needs, if any.
    public var approval: ToolPolicy.Approval?
    /// For APPROVAL_REQUIRED, and for a PERMIT that used a granted approval.
    public var approvalID: String?

    public init(verdict: Verdict, reason: String?, violations: [ToolPolicy.Violation] = [], approval: ToolPolicy.Approval? = nil, approvalID: String? = nil) {
        self.verdict = verdict
        self.reason = reason
        self.violations = violations
        self.approval = approval
        self.approvalID = approvalID
    }

    public static let permit = Decision(verdict: .permit, reason: nil)
    public static func deny(_ rule: String, _ detail: String) -> Decision {
        Decision(verdict: .deny, reason: "\(rule): \(detail)")
    }
}

/// The evaluation rules, deterministic and pure: the first failing rule wins and the reason
/// names it. Revocation is checked by the caller first (it is a 403, not a decision).
///
/// Built once per session (a passport never changes under a session) and split in two: the rules
/// that depend only on the passport and the call — tool lists, resource scope — run *before* the
/// store's write transaction, so a costly path or pattern can never hold the lock; the rules that
/// depend on the session's state — ended, expiry, duration, budget — run inside it. The order of
/// the rules on the wire is unchanged.
public struct Evaluator: Sendable {
    let scope: [Glob]
    let allowed: Set<String>
    let forbidden: Set<String>
    /// Compiled tool entries (argument constraints, approvals).
    let policies: [String: ToolPolicy]
    /// The passport's `tools` did not compile (it was signed by an older or other version):
    /// every call is refused rather than evaluated without its constraints.
    let policiesInvalid: Bool

    /// The passport of an AAT session whose every call needs the holder's proof (nil otherwise).
    public let holderBoundAAT: PassportClaims?
    /// The mission declaration an AAT session is bound to: its revocation is re-checked (from a
    /// cache refreshed every status-list TTL) before each call.
    public let missionRef: JSONValue?

    public init(passport: PassportClaims) {
        self.holderBoundAAT = passport.aat?.holder_jwk != nil ? passport : nil
        self.missionRef = passport.aat?.mission_digest != nil ? passport.aat?.mission_ref : nil
        self.scope = passport.resource_scope.map(Glob.init)
        self.allowed = passport.permittedTools
        self.forbidden = Set(passport.forbidden_tools)
        if let tools = passport.tools {
            do {
                self.policies = try ToolPolicy.parseAll(.object(tools), path: "tools")
                self.policiesInvalid = false
            } catch {
                self.policies = [:]
                self.policiesInvalid = true
            }
        } else {
            self.policies = [:]
            self.policiesInvalid = false
        }
    }

    public static let maxToolNameBytes = 256

    /// The work one call may make the constraint checks do (steps as counted by
    /// ``ArgumentConstraint/cost(_:)``; about 30 ns each on a 2-core machine, so ~30 ms). A call
    /// over it is denied `constraint_too_costly` before any check runs.
    public static let stepBudget = 1_000_000
    /// Calls cheaper than this are checked inline; costlier ones are moved off the request's
    /// executor by the server (see `GovernanceService.evaluate`).
    public static let inlineCost = 20_000

    /// What the constraint checks of this call would cost at most (0 for a tool without
    /// constraints).
    public func cost(tool: String, arguments: [String: JSONValue]) -> Int {
        policies[tool]?.cost(arguments) ?? 0
    }

    public func evaluate(_ session: SessionState, tool: String, arguments: [String: JSONValue], now: Date) -> Decision {
        evaluate(session, call: decide(tool: tool, arguments: arguments), now: now)
    }

    /// The passport-only rules for one call: tool name, forbidden and allowed tools, resources.
    public func decide(tool: String, arguments: [String: JSONValue]) -> Decision {
        if tool.isEmpty || tool.utf8.count > Self.maxToolNameBytes { return .deny("tool_invalid", "tool_name must be 1-256 bytes") }
        if policiesInvalid { return .deny("tool_policy_invalid", "the passport's tool constraints cannot be read") }
        if forbidden.contains(tool) { return .deny("tool_forbidden", "\(tool) is in forbidden_tools") }
        // Swift's `String` equality is Unicode canonical equivalence; a tool name is compared as
        // its bytes (an MCP server does), so a decomposed spelling of an allowed name is not it.
        guard let index = allowed.firstIndex(of: tool), allowed[index].utf8.elementsEqual(tool.utf8) else {
            return .deny("tool_not_allowed", "\(tool) is not in allowed_tools")
        }
        // The resource arguments, walked in place (collecting them into an array first was three
        // allocations per call): every one must be a string or an array of strings, then each is
        // normalised and matched against the scope — the same order of rules as before.
        for name in ResourcePath.orderedArgumentNames {
            switch arguments[name] {
            case nil, .string?: continue
            case .array(let items)? where items.allSatisfy({ if case .string = $0 { true } else { false } }): continue
            default: return .deny("resource_invalid", "resource arguments must be strings or arrays of strings")
            }
        }
        for name in ResourcePath.orderedArgumentNames {
            switch arguments[name] {
            case .string(let raw)?:
                if let denial = checkResource(raw) { return denial }
            case .array(let items)?:
                for case .string(let raw) in items {
                    if let denial = checkResource(raw) { return denial }
                }
            default: continue
            }
        }
        if let policy = policies[tool] {
            let cost = policy.cost(arguments)
            if cost > Self.stepBudget {
                return .deny("constraint_too_costly", "checking these arguments could take \(cost) steps; at most \(Self.stepBudget) per call")
            }
            let violations = policy.violations(arguments)
            if let first = violations.first {
                let reason = ["unknown_argument", "missing_argument"].contains(first.constraint) ? first.constraint : "argument_violation"
                return Decision(verdict: .deny, reason: reason, violations: violations)
            }
            if policy.needsApproval(arguments) {
                return Decision(verdict: .permit, reason: nil, approval: policy.approval)
            }
        }
        return .permit
    }

    func checkResource(_ raw: String) -> Decision? {
        guard let path = ResourcePath.normalize(raw) else {
            return .deny("resource_invalid", "a resource argument has NUL, escapes the root or is badly encoded")
        }
        if !scope.isEmpty, !Glob.anyMatches(scope, path) {
            return .deny("resource_out_of_scope", "\(path) is outside resource_scope")
        }
        return nil
    }

    /// The session-state rules around a call already judged by ``decide(tool:arguments:)``.
    public func evaluate(_ session: SessionState, call: Decision, now: Date) -> Decision {
        let passport = session.passport
        if session.endedAt != nil { return .deny("session_ended", "the session has ended") }
        if let exp = passport.exp, now.unixSeconds >= exp { return .deny("passport_expired", "the passport expired") }
        if let limit = passport.max_duration_s, now.timeIntervalSince(session.startedAt) >= Double(limit) {
            return .deny("max_duration_exceeded", "max_duration_s (\(limit)) since the session started has passed")
        }
        if call.verdict != .permit { return call }
        if let remaining = session.callsRemaining, remaining <= 0 {
            return .deny("budget_exhausted", "max_tool_calls (\(passport.max_tool_calls ?? 0)) reached")
        }
        return .permit
    }
}
