import TesseraCore

/// One row a session change writes, in the order it is written.
enum SessionWrite: Sendable {
    /// The session's new state (its version goes up by one).
    case session(SessionState)
    case receipt(ReceiptRecord)
    case delegation(DelegationRecord)
    case passport(PassportRecord)
    /// Opened, or its status changed (an upsert).
    case approval(ApprovalIndexRecord)
    case evaluation(EvaluationRecord)
}

extension SessionMutation {
    /// What both stores write for this change to `current` (at `version`), and the state and
    /// version the session has once it commits: decided once here, so the SQLite and PostgreSQL
    /// backends only translate each ``SessionWrite`` into their SQL.
    func writes(over current: SessionState, version: Int64) -> (writes: [SessionWrite], seen: (SessionState, Int64)) {
        var writes: [SessionWrite] = []
        var seen = (current, version)
        if let updated = session, updated != current {
            writes.append(.session(updated))
            seen = (updated, version + 1)
        }
        writes += receipts.map(SessionWrite.receipt)
        if let delegation { writes.append(.delegation(delegation)) }
        writes += passports.map(SessionWrite.passport)
        writes += approvals.map(SessionWrite.approval)
        if let evaluation { writes.append(.evaluation(evaluation)) }
        return (writes, seen)
    }
}
