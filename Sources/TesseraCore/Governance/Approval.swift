import Foundation

/// A human approval of one exact tool call: bound to the session, the tool and the RFC 8785
/// digest of the arguments. Kept in the session's state, so it survives restarts and is shared by
/// every node exactly like budgets and chains.
public struct ApprovalRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case pending, granted, denied, used
    }

    public var id: String
    public var tool: String
    public var arguments_digest: String
    /// The exact arguments, for the approvers to read.
    public var arguments: JSONValue
    public var approvers: [String]
    public var min_approvals: Int
    public var created_at: Date
    public var expires_at: Date
    /// User ids that granted, in order (distinct).
    public var granted_by: [String]
    public var denied_by: String?
    public var status: Status

    public func isOpen(at now: Date) -> Bool { (status == .pending || status == .granted) && now < expires_at }
}

/// A call waiting for approval, as listed to approvers.
public struct ApprovalIndexRecord: Sendable, Equatable {
    public var id: String
    public var sessionID: String
    public var workspace: String
    public var status: String
    public var expiresAt: Date

    public init(id: String, sessionID: String, workspace: String, status: String, expiresAt: Date) {
        self.id = id
        self.sessionID = sessionID
        self.workspace = workspace
        self.status = status
        self.expiresAt = expiresAt
    }
}

extension SessionState {
    /// Open approvals a session may hold at once: one agent cannot fill its approvers' queue.
    public static let maximumOpenApprovals = 32
    /// Open approvals a workspace may hold at once, across all its sessions: the store counts them
    /// in the transaction that would open one more (see `SessionMutation.approvalCapacity`), so
    /// the sessions of one workspace cannot grow the approvals index without bound. Each
    /// workspace has its own cap, so one workspace's flood never touches another's queue.
    public static let maximumOpenApprovalsPerWorkspace = 1_024

    /// Applies the approval rule to a call that passed every other rule and needs approval:
    /// a *granted* approval of this exact call is used (PERMIT, once); a *pending* one is
    /// answered again (APPROVAL_REQUIRED, same id); otherwise a new request is opened.
    /// Denied and expired approvals are final: they never turn into a PERMIT.
    ///
    /// A new request beyond a cap — ``maximumOpenApprovals`` in this session, or
    /// `workspaceAtCapacity` (the store found ``maximumOpenApprovalsPerWorkspace`` open in the
    /// workspace) — is DENY `approval_capacity`: never opened, never silently permitted.
    public mutating func resolveApproval(
        tool: String, arguments: [String: JSONValue], requirement: ToolPolicy.Approval, now: Date, workspaceAtCapacity: Bool = false,
        newID: () -> String
    ) -> Decision {
        let digest = ReceiptClaims.digest(.object(arguments))
        var list = approvals ?? []
        if let index = list.lastIndex(where: { $0.tool == tool && $0.arguments_digest == digest && $0.isOpen(at: now) }) {
            if list[index].status == .granted {
                list[index].status = .used
                approvals = list
                return Decision(verdict: .permit, reason: nil, approvalID: list[index].id)
            }
            return Decision(verdict: .approvalRequired, reason: "approval_required", approvalID: list[index].id)
        }
        // Forget what can no longer matter, keeping the list bounded.
        list.removeAll { !$0.isOpen(at: now) && now.timeIntervalSince($0.expires_at) > 86_400 }
        if list.count > 256 { list.removeFirst(list.count - 256) }
        guard list.filter({ $0.isOpen(at: now) }).count < Self.maximumOpenApprovals else {
            return .deny("approval_capacity", "this session already has \(Self.maximumOpenApprovals) open approval requests")
        }
        guard !workspaceAtCapacity else {
            return .deny("approval_capacity", "this workspace already has \(Self.maximumOpenApprovalsPerWorkspace) open approval requests")
        }
        let record = ApprovalRecord(
            id: newID(), tool: tool, arguments_digest: digest, arguments: .object(arguments), approvers: requirement.approvers,
            min_approvals: requirement.minApprovals, created_at: now, expires_at: now.addingTimeInterval(TimeInterval(requirement.ttlSeconds)),
            granted_by: [], denied_by: nil, status: .pending)
        list.append(record)
        approvals = list
        return Decision(verdict: .approvalRequired, reason: "approval_required", approvalID: record.id)
    }
}
