import Foundation
import TesseraCore
import TesseraStore

/// Evaluation, delegation and the end of a session.
extension GovernanceService {
    public struct EvaluationResult: Sendable, Encodable {
        public var decision: String
        public var reason: String?
        public var calls_used: Int
        public var calls_remaining: Int?
        public var receipt_id: String?
    }

    struct Revoked: Error {}

    /// Decides one tool call. The counters and the receipt are written in the same transaction
    /// as the decision is made, and that transaction commits before the answer is returned.
    public func evaluate(sessionID: String, tool: String, arguments: [String: JSONValue]) async throws -> EvaluationResult {
        let key = try await keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        do {
            return try await store.mutateSession(id: sessionID, delegationRequestID: nil) { current, _ in
                guard !current.revoked else { throw Revoked() }
                let decision = Evaluator(passport: current.passport).evaluate(current, tool: tool, arguments: arguments, now: now)
                guard current.endedAt == nil else {
                    // An ended session's chain is sealed by its attestation: nothing is appended.
                    return SessionMutation(
                        session: nil,
                        output: EvaluationResult(decision: decision.verdict.rawValue, reason: decision.reason, calls_used: current.callsUsed, calls_remaining: current.callsRemaining))
                }
                var next = current
                if decision.verdict == .permit { next.callsUsed += 1; next.permits += 1 } else { next.denies += 1 }
                let receipt = try next.appendReceipt(
                    tool: tool, decision: decision, arguments: .object(arguments), issuer: issuer, now: now, key: key)
                return SessionMutation(
                    session: next, receipts: [receipt],
                    output: EvaluationResult(
                        decision: decision.verdict.rawValue, reason: decision.reason, calls_used: next.callsUsed,
                        calls_remaining: next.callsRemaining, receipt_id: receipt.jti))
            }
        } catch is Revoked {
            throw APIError.passportRevoked
        } catch let error as StoreError {
            if case .notFound = error { throw APIError.unknownSession }
            throw APIError.unavailable()
        }
    }

    public struct DelegationResult: Sendable, Encodable {
        public var child_token: String
        public var child_claims: PassportClaims
        public var parent_jti: String
        public var parent_calls_remaining_at_delegation: Int?
    }

    /// Issues a narrower child passport and reserves its budget from the parent, atomically.
    public func delegate(_ request: DelegationRequest) async throws -> DelegationResult {
        let parentClaims: PassportClaims
        do {
            parentClaims = try await keys.verify(request.parentToken, as: PassportClaims.self, policy: passportPolicy)
        } catch {
            throw APIError.invalidToken
        }
        guard let parent = try await store.session(jti: parentClaims.jti) else {
            throw APIError.governance(.forbidden, "no started parent session for this passport: start the parent session first")
        }
        let key = try await keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        let fingerprint = request.fingerprint
        do {
            return try await store.mutateSession(id: parent.id, delegationRequestID: request.requestID) { current, existing in
                if let existing {
                    guard existing.fingerprint == fingerprint else {
                        throw DelegationError.conflict("delegation_request_id \(existing.requestID) was already used for a different reservation")
                    }
                    guard let claims = CompactJWS.unverifiedPayload(existing.childToken, as: PassportClaims.self) else {
                        throw DelegationError.forbidden("stored delegation is unreadable")
                    }
                    return SessionMutation(
                        session: nil,
                        output: DelegationResult(
                            child_token: existing.childToken, child_claims: claims, parent_jti: current.passport.jti,
                            parent_calls_remaining_at_delegation: existing.parentRemainingAtDelegation))
                }
                let child = try Attenuation.child(of: current, request: request, issuer: issuer, now: now)
                let token = try CompactJWS.sign(child, type: PassportClaims.type, key: key)
                var next = current
                let remainingBefore = current.callsRemaining
                next.reservedForChildren += child.max_tool_calls ?? 0
                next.delegations += 1
                var arguments: [String: JSONValue] = [
                    "child_agent_id": .string(request.childAgentID), "child_jti": .string(child.jti),
                ]
                if let id = request.requestID { arguments["delegation_request_id"] = .string(id) }
                if let budget = child.max_tool_calls { arguments["child_max_tool_calls"] = .number(Double(budget)) }
                let receipt = try next.appendReceipt(
                    tool: "delegate_passport", decision: .permit, arguments: .object(arguments), issuer: issuer, now: now, key: key)
                let record = request.requestID.map {
                    DelegationRecord(
                        parentSessionID: current.id, requestID: $0, fingerprint: fingerprint, childJTI: child.jti,
                        childToken: token, budget: child.max_tool_calls, parentRemainingAtDelegation: remainingBefore)
                }
                return SessionMutation(
                    session: next, receipts: [receipt], delegation: record,
                    output: DelegationResult(
                        child_token: token, child_claims: child, parent_jti: current.passport.jti,
                        parent_calls_remaining_at_delegation: remainingBefore))
            }
        } catch let error as DelegationError {
            switch error {
            case .forbidden(let message): throw APIError.governance(.forbidden, message)
            case .conflict(let message): throw APIError.governance(.conflict, message)
            case .revoked: throw APIError.passportRevoked
            }
        } catch let error as StoreError {
            if case .notFound = error { throw APIError.unknownSession }
            throw APIError.unavailable()
        }
    }

    public struct EndResult: Sendable, Encodable {
        public var attestation_token: String
        public var summary: AttestationClaims.Summary
        public var receipts_head: String
        public var receipts_count: Int
    }

    /// Ends the session (once) and returns its attestation; later calls return the same bytes.
    public func end(sessionID: String) async throws -> EndResult {
        let key = try await keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        let token: String
        do {
            token = try await store.mutateSession(id: sessionID, delegationRequestID: nil) { current, _ in
                var next = current
                let token = try next.end(issuer: issuer, now: now, key: key)
                return SessionMutation(session: next, output: token)
            }
        } catch let error as StoreError {
            if case .notFound = error { throw APIError.unknownSession }
            throw APIError.unavailable()
        }
        return try Self.endResult(token)
    }

    /// The stored attestation of an ended session, unchanged.
    public func attestation(sessionID: String) async throws -> EndResult {
        guard let session = try await store.session(id: sessionID) else { throw APIError.unknownSession }
        guard let token = session.attestation else { throw APIError.governance(.conflict, "session_not_ended") }
        return try Self.endResult(token)
    }

    static func endResult(_ token: String) throws -> EndResult {
        guard let claims = CompactJWS.unverifiedPayload(token, as: AttestationClaims.self) else { throw APIError.unavailable() }
        return EndResult(attestation_token: token, summary: claims.summary, receipts_head: claims.receipts_head, receipts_count: claims.receipts_count)
    }
}
