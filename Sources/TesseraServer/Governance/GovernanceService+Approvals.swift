import Foundation
import TesseraCore
import TesseraStore

/// Human approvals: listing what waits, granting and denying. Every grant and denial is a change
/// of the session (under its lock, on whichever node) and a receipt on its chain.
extension GovernanceService {
    /// 128 random bits.
    static func newApprovalID() -> String {
        "apr_" + Base64URL.random(byteCount: 16)
    }

    public struct ApprovalView: Sendable, Codable, Equatable {
        public var approval_id: String
        public var session_id: String
        public var agent_id: String
        public var workspace: String
        public var tool: String
        public var arguments: JSONValue
        public var arguments_digest: String
        public var approvers: [String]
        public var min_approvals: Int
        public var granted_by: [String]
        public var status: String
        public var created_at: String
        public var expires_at: String

        init(_ record: ApprovalRecord, session: SessionState) {
            approval_id = record.id
            session_id = session.id
            agent_id = session.passport.agent_id
            workspace = session.passport.workspace
            tool = record.tool
            arguments = record.arguments
            arguments_digest = record.arguments_digest
            approvers = record.approvers
            min_approvals = record.min_approvals
            granted_by = record.granted_by
            status = record.status.rawValue
            created_at = WireTime.format(record.created_at)
            expires_at = WireTime.format(record.expires_at)
        }
    }

    public struct ApprovalList: Sendable, Codable {
        public var approvals: [ApprovalView]
    }

    /// Approvals listed at most per request.
    static let approvalListLimit = 1_000

    /// Approvals waiting for a decision in the workspaces where `identity` may grant.
    ///
    /// The store filters by those workspaces in its query, so another workspace's queue — however
    /// long or however soon it expires — can never push this caller's approvals out of the
    /// first ``approvalListLimit``. A cross-workspace admin (`admin@*`) keeps the earlier
    /// semantics: every workspace's open approvals, soonest expiry first, the first
    /// ``approvalListLimit`` of them (each workspace holds at most
    /// ``SessionState/maximumOpenApprovalsPerWorkspace``).
    public func pendingApprovals(for identity: Identity) async throws -> ApprovalList {
        let now = clock.now()
        var out: [ApprovalView] = []
        let workspaces = Self.approvalWorkspaces(identity)
        if let workspaces, workspaces.isEmpty { return ApprovalList(approvals: []) }
        for entry in try await store.openApprovals(workspaces: workspaces, now: now, limit: Self.approvalListLimit)
        where identity.may(Capability.approvalsGrant, in: entry.workspace) {
            guard let session = try await store.session(id: entry.sessionID),
                let record = session.approvals?.first(where: { $0.id == entry.id }), record.status == .pending, record.isOpen(at: now)
            else { continue }
            out.append(ApprovalView(record, session: session))
        }
        return ApprovalList(approvals: out)
    }

    /// The workspaces where `identity` may grant approvals, sorted; nil for a grant on every
    /// workspace (`*`). Bounded by the identity's roles.
    static func approvalWorkspaces(_ identity: Identity) -> [String]? {
        guard identity.enabled else { return [] }
        let granting = identity.grants.filter { RoleCatalog.capabilities(of: $0.role).contains(Capability.approvalsGrant) }
        if granting.contains(where: { $0.workspace == "*" }) { return nil }
        return Set(granting.map(\.workspace)).sorted()
    }

    /// Whether `identity` is one of the approvers an approval names.
    static func eligible(_ identity: Identity, _ approvers: [String], workspace: String) -> Bool {
        approvers.contains { entry in
            if entry.hasPrefix("user:") { return String(entry.dropFirst(5)) == identity.username }
            let role = String(entry.dropFirst(5))
            return identity.grants.contains { $0.role == role && ($0.workspace == workspace || $0.workspace == "*") }
        }
    }

    /// Grants (or denies) an approval. Distinct users count once each; `min_approvals` grants
    /// make it usable by exactly one re-evaluation of the same call; a denial, like expiry, is final.
    public func decideApproval(id: String, grant: Bool, by identity: Identity) async throws -> ApprovalView {
        guard let entry = try await store.approvalSession(id: id), identity.may(Capability.approvalsGrant, in: entry.workspace) else {
            throw GovernanceError.notFound("unknown_approval")
        }
        let key = keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        do {
            let view = try await store.mutateSession(id: entry.sessionID, request: nil) { current, _ in
                guard var list = current.approvals, let index = list.firstIndex(where: { $0.id == id }) else {
                    throw GovernanceError.notFound("unknown_approval")
                }
                var record = list[index]
                guard now < record.expires_at else { throw GovernanceError.conflict("approval_expired") }
                switch record.status {
                case .denied: throw GovernanceError.conflict("approval_denied")
                case .used: throw GovernanceError.conflict("approval_used")
                case .granted where grant: throw GovernanceError.conflict("approval_already_granted")
                default: break
                }
                guard Self.eligible(identity, record.approvers, workspace: current.passport.workspace) else {
                    throw GovernanceError.forbidden("not_an_approver")
                }
                if grant {
                    guard !record.granted_by.contains(identity.userID) else { throw GovernanceError.conflict("already_granted_by_this_user") }
                    record.granted_by.append(identity.userID)
                    if record.granted_by.count >= record.min_approvals { record.status = .granted }
                } else {
                    record.denied_by = identity.userID
                    record.status = .denied
                }
                list[index] = record
                var next = current
                next.approvals = list
                let decision = Decision(
                    verdict: grant ? .permit : .deny, reason: grant ? "approval_granted" : "approval_denied", approvalID: id)
                let receipt = try next.appendReceipt(
                    tool: grant ? "approval_grant" : "approval_deny", decision: decision,
                    arguments: .object(["approval_id": .string(id), "approver": .string(identity.userID), "tool": .string(record.tool)]),
                    issuer: issuer, now: now, key: key)
                let indexEntry = ApprovalIndexRecord(
                    id: id, sessionID: current.id, workspace: current.passport.workspace, status: record.status.rawValue, expiresAt: record.expires_at)
                return SessionMutation(session: next, receipts: [receipt], approvals: [indexEntry], output: ApprovalView(record, session: next))
            }
            auditLog.record(
                grant ? .approvalGranted : .approvalDenied, outcome: "success", actor: AuditLog.actor(identity), workspace: view.workspace,
                target: .init(type: "approval", id: id)
            ) {
                $0.approval_id = id
                $0.session_ref = AuditLog.sessionRef(view.session_id)
                $0.agent_id = view.agent_id
                $0.tool = view.tool
                $0.details = ["status": view.status, "grants": String(view.granted_by.count), "min_approvals": String(view.min_approvals)]
            }
            return view
        } catch let error as StoreError {
            if case .notFound = error { throw GovernanceError.notFound("unknown_approval") }
            throw GovernanceError.unavailable
        }
    }
}
