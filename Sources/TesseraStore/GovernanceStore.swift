import Foundation
import TesseraCore

/// What one atomic change to a session writes: the new state, receipts to append to its chain,
/// a delegation to record, and what the caller gets back.
public struct SessionMutation<Output: Sendable>: Sendable {
    public var session: SessionState?
    public var receipts: [ReceiptRecord]
    public var delegation: DelegationRecord?
    /// Passports issued by this change (a delegated child), recorded with their lineage.
    public var passports: [PassportRecord]
    /// The answer to an evaluation sent with an idempotency key, kept for its retries.
    public var evaluation: EvaluationRecord?
    /// Approvals opened or changed by this change, for the listing index.
    public var approvals: [ApprovalIndexRecord]
    /// Set when this change opens a new approval: the store counts the workspace's open approvals
    /// in the same transaction (serialised per workspace) and writes `instead` when the workspace
    /// is at ``SessionState/maximumOpenApprovalsPerWorkspace``. See ``openingApprovals(in:now:_:)``.
    public var approvalCapacity: ApprovalCapacity?
    public var output: Output

    /// The per-workspace approval cap, decided by the store where the count is exact.
    public struct ApprovalCapacity: Sendable {
        public var workspace: String
        /// Approvals expiring at or before this instant are no longer open.
        public var now: Date
        /// The change to write when the workspace is full (a DENY `approval_capacity`).
        public var instead: @Sendable () throws -> SessionMutation<Output>
    }

    public init(
        session: SessionState?, receipts: [ReceiptRecord] = [], delegation: DelegationRecord? = nil,
        passports: [PassportRecord] = [], evaluation: EvaluationRecord? = nil, approvals: [ApprovalIndexRecord] = [], output: Output
    ) {
        self.approvals = approvals
        self.session = session
        self.receipts = receipts
        self.delegation = delegation
        self.passports = passports
        self.evaluation = evaluation
        self.output = output
    }
}

extension SessionMutation {
    /// Runs `plan` on a cached view of the session and returns the mutation if it is the common
    /// decision — a changed session and exactly one receipt, nothing else — which both stores can
    /// write on a version condition alone. nil (the caller takes its locking path) otherwise,
    /// including when the plan throws on the view.
    static func plannedDecision(
        _ plan: (SessionState, PriorAnswer?) throws -> SessionMutation<Output>, on cached: SessionState
    ) -> (SessionMutation<Output>, SessionState, ReceiptRecord)? {
        guard let mutation = try? plan(cached, nil), let updated = mutation.session, updated != cached,
            mutation.receipts.count == 1, let receipt = mutation.receipts.first, mutation.delegation == nil,
            mutation.passports.isEmpty, mutation.approvals.isEmpty, mutation.evaluation == nil, mutation.approvalCapacity == nil
        else { return nil }
        return (mutation, updated, receipt)
    }

    /// Plans a change that may open an approval: `plan(false)`, and when that opens one that
    /// `current` does not have, `plan(true)` as the alternative the store writes if the
    /// workspace is at its cap. The plan must be pure (both may run; only one is written).
    public static func openingApprovals(
        in current: SessionState, now: Date, _ plan: @escaping @Sendable (_ workspaceAtCapacity: Bool) throws -> SessionMutation<Output>
    ) throws -> SessionMutation<Output> {
        var mutation = try plan(false)
        let known = Set((current.approvals ?? []).map(\.id))
        if mutation.approvals.contains(where: { $0.status == ApprovalRecord.Status.pending.rawValue && !known.contains($0.id) }) {
            mutation.approvalCapacity = ApprovalCapacity(workspace: current.passport.workspace, now: now) { try plan(true) }
        }
        return mutation
    }

    /// What the store writes, given the workspace's open approvals counted inside the
    /// transaction (`count` runs only when this change opens an approval). The one place the
    /// per-workspace cap is decided, for every backend.
    func resolvingApprovalCapacity(openInWorkspace count: (String, Date) throws -> Int) throws -> SessionMutation<Output> {
        guard let capacity = approvalCapacity else { return self }
        guard try count(capacity.workspace, capacity.now) >= SessionState.maximumOpenApprovalsPerWorkspace else { return self }
        var replacement = try capacity.instead()
        replacement.approvalCapacity = nil
        return replacement
    }

    /// ``resolvingApprovalCapacity(openInWorkspace:)`` with an asynchronous count (PostgreSQL).
    func resolvingApprovalCapacity(countingWith count: (String, Date) async throws -> Int) async throws -> SessionMutation<Output> {
        guard let capacity = approvalCapacity else { return self }
        let open = try await count(capacity.workspace, capacity.now)
        return try resolvingApprovalCapacity { _, _ in open }
    }
}

/// Every passport Tessera signs, recorded when it is signed (issued or delegated), so that
/// revocation can walk a lineage through passports that never started a session, and so that a
/// revocation by `jti` knows the passport's workspace.
public struct PassportRecord: Sendable, Equatable {
    public var jti: String
    public var parentJTI: String?
    public var workspace: String
    /// `cnf.jkt`, for a key-bound passport.
    public var jkt: String?
    public var issuedAt: Date
    public var expiresAt: Date

    public init(jti: String, parentJTI: String?, workspace: String, jkt: String?, issuedAt: Date, expiresAt: Date) {
        self.jti = jti
        self.parentJTI = parentJTI
        self.workspace = workspace
        self.jkt = jkt
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    public init(_ claims: PassportClaims) {
        self.init(
            jti: claims.jti, parentJTI: claims.parent_jti, workspace: claims.workspace, jkt: claims.cnf?.jkt,
            issuedAt: Date(timeIntervalSince1970: TimeInterval(claims.iat ?? 0)),
            expiresAt: Date(timeIntervalSince1970: TimeInterval(claims.exp ?? 0)))
    }
}

/// The answer given to `/evaluate` under an idempotency key (`request_id`): a retry with the same
/// key and the same call gets these bytes again and spends nothing.
public struct EvaluationRecord: Sendable, Equatable {
    public var sessionID: String
    public var requestID: String
    /// What makes a retry "the same call": RFC 8785 of the tool name and arguments.
    public var fingerprint: String
    public var response: String

    public init(sessionID: String, requestID: String, fingerprint: String, response: String) {
        self.sessionID = sessionID
        self.requestID = requestID
        self.fingerprint = fingerprint
        self.response = response
    }
}

/// A request key under which a session change is idempotent, and what was stored under it.
public enum SessionRequestKey: Sendable, Equatable {
    case delegation(String)
    case evaluation(String)
}

public enum PriorAnswer: Sendable, Equatable {
    case delegation(DelegationRecord)
    case evaluation(EvaluationRecord)

    public var delegation: DelegationRecord? { if case .delegation(let d) = self { d } else { nil } }
    public var evaluation: EvaluationRecord? { if case .evaluation(let e) = self { e } else { nil } }
}

/// Sessions, their receipt chains, delegations, the passport replay cache and revocations.
///
/// ``mutateSession(id:delegationRequestID:_:)`` is the one way to change a session: the store
/// reads the current state under its write lock (SQLite) or a row lock (PostgreSQL), runs the
/// caller's pure plan on it, and writes the plan's result in the same transaction. Counters,
/// reservations and chain links can therefore never be lost or forked, whichever process or node
/// writes.
public protocol GovernanceStore: Sendable {
    /// Records the passport `jti` in the replay cache and creates the session, atomically, after
    /// checking *in the same transaction* that neither the passport nor any ancestor is revoked
    /// (`.revoked`), so a revocation can never slip between the check and the insert.
    /// `.conflict` when the `jti` was already used; `.unavailable` when the cache cannot be written.
    func startSession(_ session: SessionState) async throws(StoreError)
    /// Records a passport at issuance (delegated children are recorded by ``mutateSession``).
    func recordPassport(_ passport: PassportRecord) async throws(StoreError)
    func passport(jti: String) async throws(StoreError) -> PassportRecord?
    func session(id: String) async throws(StoreError) -> SessionState?
    func session(jti: String) async throws(StoreError) -> SessionState?
    /// Whether `jti` or any passport it was delegated from is revoked (the lineage is walked
    /// through the issuance records, so never-started passports are links too).
    /// `parentJTI` is the parent the signed passport names, when the caller has it: the walk then
    /// starts there even for a passport the store has no record of.
    func isRevoked(jti: String, parentJTI: String?) async throws(StoreError) -> Bool
    /// Revokes a passport and every session started from it or from its delegated descendants.
    func revoke(jti: String, at: Date) async throws(StoreError)
    /// Runs `plan` on the session's current state inside one write transaction, with what was
    /// stored under `request` before (an idempotent retry). The plan's own errors propagate
    /// unchanged (and nothing is written); store failures are `StoreError`.
    func mutateSession<Output: Sendable>(
        id: String, request: SessionRequestKey?,
        _ plan: @escaping @Sendable (SessionState, PriorAnswer?) throws -> SessionMutation<Output>
    ) async throws -> Output
    /// Where an approval lives (its session), or nil.
    func approvalSession(id: String) async throws(StoreError) -> ApprovalIndexRecord?
    /// Approvals still pending and not expired at `now`, soonest expiry first (at most `limit`),
    /// in `workspaces` only — filtered in the query, so one workspace's queue can never crowd
    /// another's out of the answer. nil means every workspace (a cross-workspace admin).
    func openApprovals(workspaces: [String]?, now: Date, limit: Int) async throws(StoreError) -> [ApprovalIndexRecord]
    /// The session's receipts in chain order.
    func receipts(sessionID: String) async throws(StoreError) -> [ReceiptRecord]
    /// A workspace's sessions, newest start first, at most `limit` (the console's Sessions view).
    func listSessions(workspace: String, limit: Int) async throws(StoreError) -> [SessionState]
}

extension GovernanceStore {
    public func isRevoked(jti: String) async throws(StoreError) -> Bool {
        try await isRevoked(jti: jti, parentJTI: nil)
    }

    /// ``mutateSession(id:request:_:)`` keyed by a delegation request id.
    public func mutateSession<Output: Sendable>(
        id: String, delegationRequestID: String?,
        _ plan: @escaping @Sendable (SessionState, DelegationRecord?) throws -> SessionMutation<Output>
    ) async throws -> Output {
        try await mutateSession(id: id, request: delegationRequestID.map(SessionRequestKey.delegation)) { state, prior in
            try plan(state, prior?.delegation)
        }
    }
}
