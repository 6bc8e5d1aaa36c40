import Foundation

/// One entry of the audit trail: who did what to which target, when, and how it ended.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var id: String
    public var at: Date
    public var actor: String
    public var action: String
    public var target: String
    public var outcome: String
    public var detail: String?

    public init(
        id: String = UUID().uuidString.lowercased(), at: Date, actor: String, action: String,
        target: String, outcome: String, detail: String? = nil
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.outcome = outcome
        self.detail = detail
    }
}
