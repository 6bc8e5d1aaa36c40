/// An AuthZEN Decision (OpenID AuthZEN 1.0, "Decision"): `decision` is true only for what the
/// PEP may let through now, so APPROVAL_REQUIRED is `false` like DENY; Tessera's own verdict and
/// evidence travel in `context`.
public struct AuthZENDecision: Codable, Sendable, Equatable {
    public var decision: Bool
    public var context: AuthZENDecisionContext?

    public init(decision: Bool, context: AuthZENDecisionContext? = nil) {
        self.decision = decision
        self.context = context
    }

    /// The answer for an `/evaluate` result: the same decision, receipt and budget.
    public init(_ result: GovernanceWire.EvaluationResult) {
        self.decision = result.decision == Decision.Verdict.permit.rawValue
        self.context = AuthZENDecisionContext(
            decision: result.decision, reason: result.reason, violations: result.violations, receipt_id: result.receipt_id,
            approval_id: result.approval_id, calls_remaining: result.calls_remaining)
    }

    /// An item of a boxcar that could not be evaluated: closed (`false`), with the error the
    /// single route would have answered (the spec's per-evaluation errors, "Errors").
    public static func failed(_ error: AuthZENItemError) -> AuthZENDecision {
        AuthZENDecision(decision: false, context: AuthZENDecisionContext(error: error))
    }
}

/// `context` of a Tessera decision. Absent members are omitted (the spec: a null SHOULD be).
public struct AuthZENDecisionContext: Codable, Sendable, Equatable {
    /// `PERMIT`, `DENY` or `APPROVAL_REQUIRED`, as `/evaluate` answers it.
    public var decision: String?
    public var reason: String?
    public var violations: [ToolPolicy.Violation]?
    /// The signed receipt recording this decision (absent when none was written: an ended session).
    public var receipt_id: String?
    /// For APPROVAL_REQUIRED (and the PERMIT that used a granted approval).
    public var approval_id: String?
    /// Calls the session may still make; absent when its passport sets no limit.
    public var calls_remaining: Int?
    /// Why a boxcar item was not evaluated.
    public var error: AuthZENItemError?

    public init(
        decision: String? = nil, reason: String? = nil, violations: [ToolPolicy.Violation]? = nil, receipt_id: String? = nil,
        approval_id: String? = nil, calls_remaining: Int? = nil, error: AuthZENItemError? = nil
    ) {
        self.decision = decision
        self.reason = reason
        self.violations = violations
        self.receipt_id = receipt_id
        self.approval_id = approval_id
        self.calls_remaining = calls_remaining
        self.error = error
    }
}

/// A per-item error in a boxcar: the HTTP status and code the single route answers for it.
public struct AuthZENItemError: Codable, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String
    /// Seconds, for a 429.
    public var retry_after: Int?

    public init(status: Int, code: String, message: String, retry_after: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
    }
}

/// An Access Evaluations answer: one Decision per item evaluated, in request order. The
/// top-level `decision` is omitted, as the spec recommends.
public struct AuthZENEvaluationsResponse: Codable, Sendable, Equatable {
    public var evaluations: [AuthZENDecision]
    public init(evaluations: [AuthZENDecision]) { self.evaluations = evaluations }
}
