import Foundation

/// A governance session as persisted: the passport it runs under and its counters.
public struct SessionState: Sendable, Equatable, Codable {
    public var id: String
    public var passport: PassportClaims
    public var startedAt: Date
    public var endedAt: Date?
    public var revoked: Bool
    public var callsUsed: Int
    /// Budget reserved for delegated children, not usable by this session.
    public var reservedForChildren: Int
    public var permits: Int
    public var denies: Int
    public var delegations: Int
    public var receiptCount: Int
    /// `prev` of the next receipt: hex SHA-256 of the last receipt's JWS, "" before the first.
    public var lastReceiptHash: String
    /// The signed attestation, once ended.
    public var attestation: String?
    /// Human approvals requested by this session's calls (bounded; see ``resolveApproval``).
    public var approvals: [ApprovalRecord]?

    public init(id: String, passport: PassportClaims, startedAt: Date) {
        self.id = id
        self.passport = passport
        self.startedAt = startedAt
        self.revoked = false
        self.callsUsed = 0
        self.reservedForChildren = 0
        self.permits = 0
        self.denies = 0
        self.delegations = 0
        self.receiptCount = 0
        self.lastReceiptHash = ""
    }

    /// Tool calls this session (and new children) may still use; nil = unlimited.
    public var callsRemaining: Int? {
        passport.max_tool_calls.map { max(0, $0 - callsUsed - reservedForChildren) }
    }
}
