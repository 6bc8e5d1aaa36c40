import Foundation
import NIOPosix
import Tracing
import TesseraCore
import TesseraStore

/// Evaluation, delegation and the end of a session.
extension GovernanceService {
    public typealias EvaluationResult = GovernanceWire.EvaluationResult

    struct Revoked: Error {}

    /// The compiled evaluator of a session (one read the first time, then from memory).
    func evaluator(for sessionID: String) async throws -> Evaluator {
        let now = clock.now()
        if let cached = evaluators.value(for: sessionID, now: now) { return cached }
        guard let session = try await store.session(id: sessionID) else { throw GovernanceError.unknownSession }
        let evaluator = Evaluator(passport: session.passport)
        evaluators.set(evaluator, for: sessionID, now: now)
        return evaluator
    }

    /// Decides one tool call. The counters and the receipt are written in the same transaction
    /// as the decision is made, and that transaction commits before the answer is returned.
    ///
    /// With a `requestID` the call is idempotent: the answer is stored in the same transaction,
    /// and a retry with the same id and the same call — on any process or node — gets that answer
    /// again and spends nothing. This is what makes a 503 safe to retry: the first attempt either
    /// committed (the retry returns its answer) or did not (the retry decides now).
    public func evaluate(sessionID: String, tool: String, arguments: [String: JSONValue], requestID: String? = nil, proof: String? = nil) async throws -> EvaluationResult {
        guard Telemetry.isTracing else {
            return try await decide(sessionID: sessionID, tool: tool, arguments: arguments, requestID: requestID, proof: proof, span: nil)
        }
        return try await Telemetry.span("tessera.evaluate") { span in
            span.attributes["tessera.session.ref"] = AuditLog.sessionRef(sessionID)
            span.attributes["tessera.tool"] = tool.prefix(utf8Bytes: Evaluator.maxToolNameBytes)
            return try await decide(sessionID: sessionID, tool: tool, arguments: arguments, requestID: requestID, proof: proof, span: span)
        }
    }

    private func decide(
        sessionID: String, tool: String, arguments: [String: JSONValue], requestID: String?, proof: String?, span: (any Span)?
    ) async throws -> EvaluationResult {
        let evaluator = try await evaluator(for: sessionID)
        try await checkBeforeDeciding(evaluator, sessionID: sessionID, tool: tool, arguments: arguments, proof: proof)
        // Passport-only rules (tool lists, path normalisation, glob matching) run here, outside
        // the write lock; the transaction only applies the state rules and writes. A call whose
        // constraint checks may cost more than a few microseconds runs on its own thread, never
        // on the executor that serves `/health` and every other request.
        let call: Decision
        let cost = evaluator.cost(tool: tool, arguments: arguments)
        if cost > Evaluator.inlineCost {
            call = try await Self.costlyChecks.runIfActive { evaluator.decide(tool: tool, arguments: arguments) }
        } else {
            call = evaluator.decide(tool: tool, arguments: arguments)
        }
        let key = keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        let fingerprint = requestID.map { _ in
            CompactJWS.digest(CanonicalJSON.serialize(.object(["tool": .string(tool), "arguments": .object(arguments)])))
        }
        let decided: Decided
        do {
            let plan = EvaluationPlan(
                evaluator: evaluator, call: call, tool: tool, arguments: arguments, requestID: requestID, fingerprint: fingerprint,
                issuer: issuer, key: key, now: now)
            decided = try await Telemetry.span("tessera.store.write") { _ in
                try await store.mutateSession(id: sessionID, request: requestID.map(SessionRequestKey.evaluation)) { current, prior in
                    try SessionMutation.openingApprovals(in: current, now: now) { approvalsFull in
                        try plan.mutation(current, prior: prior, approvalsFull: approvalsFull)
                    }
                }
            }
        } catch is Revoked {
            throw GovernanceError.passportRevoked
        } catch let error as StoreError {
            if case .notFound = error { throw GovernanceError.unknownSession }
            throw GovernanceError.unavailable
        }
        publishDecision(decided, sessionID: sessionID, tool: tool, arguments: arguments, cost: cost, now: now, span: span)
        return decided.result
    }

    /// What is checked before any rule runs, spending nothing: an AAT holder's proof, the mission
    /// declaration still standing, the denial back-off, and an audit sink able to record.
    private func checkBeforeDeciding(_ evaluator: Evaluator, sessionID: String, tool: String, arguments: [String: JSONValue], proof: String?) async throws {
        if let passport = evaluator.holderBoundAAT {
            try await checkAATProof(proof, passport: passport, tool: tool, arguments: arguments)
        }
        if let reference = evaluator.missionRef {
            // A revoked (or no longer verifiable) mission declaration stops its sessions: fail
            // closed, nothing spent.
            do {
                _ = try await missions.resolve(reference, now: clock.now())
            } catch {
                throw GovernanceError.missionRefused(error)
            }
        }
        if let wait = denials.retryAfter(sessionID, now: clock.now()) { throw GovernanceError.tooManyDenials(retryAfter: wait) }
        // A sink that fails closed and cannot write: decide nothing rather than decide unaudited.
        guard auditLog.permitsAllowed else { throw GovernanceError.auditUnavailable }
    }

    /// One call's plan inside the store's transaction: a pure function of the session's state
    /// (the transaction cannot suspend), so everything it needs is gathered before it starts.
    struct EvaluationPlan: Sendable {
        let evaluator: Evaluator
        let call: Decision
        let tool: String
        let arguments: [String: JSONValue]
        let requestID: String?
        /// The call's digest, stored with its answer under `requestID` (nil without one).
        let fingerprint: String?
        let issuer: String
        let key: Ed25519KeyPair
        let now: Date

        /// The plan, given whether the store found the workspace at its cap of open approvals
        /// (then a call that would open one more is DENY approval_capacity, see below).
        func mutation(_ current: SessionState, prior: PriorAnswer?, approvalsFull: Bool) throws -> SessionMutation<Decided> {
            if let previous = prior?.evaluation { return try replayed(previous) }
            guard !current.revoked else { throw Revoked() }
            var decision = evaluator.evaluate(current, call: call, now: now)
            var next = current
            // A call that passed every rule but needs a human: use a granted approval of this
            // exact call once, or answer APPROVAL_REQUIRED (opening a request if none is open).
            if decision.verdict == .permit, current.endedAt == nil, let requirement = call.approval {
                decision = next.resolveApproval(
                    tool: tool, arguments: arguments, requirement: requirement, now: now, workspaceAtCapacity: approvalsFull,
                    newID: GovernanceService.newApprovalID)
            }
            guard current.endedAt == nil else {
                // An ended session's chain is sealed by its attestation: nothing is appended.
                return SessionMutation(
                    session: nil,
                    output: Decided(
                        result: EvaluationResult(
                            decision: decision.verdict.rawValue, reason: decision.reason, calls_used: current.callsUsed,
                            calls_remaining: current.callsRemaining),
                        passport: current.passport))
            }
            switch decision.verdict {
            case .permit: next.callsUsed += 1; next.permits += 1
            case .deny: next.denies += 1
            // Budget is spent only on PERMIT; a request for approval is receipted, not counted.
            case .approvalRequired: break
            }
            let receipt = try next.appendReceipt(
                tool: tool, decision: decision, arguments: .object(arguments), issuer: issuer, now: now, key: key)
            let result = EvaluationResult(
                decision: decision.verdict.rawValue, reason: decision.reason, calls_used: next.callsUsed,
                calls_remaining: next.callsRemaining, receipt_id: receipt.jti,
                violations: decision.violations.isEmpty ? nil : decision.violations, approval_id: decision.approvalID)
            let record = try requestID.map { id in
                EvaluationRecord(
                    sessionID: current.id, requestID: id, fingerprint: fingerprint ?? "",
                    response: String(decoding: try CompactJWS.encoder.encode(result), as: UTF8.self))
            }
            let index = decision.approvalID.flatMap { id in next.approvals?.first { $0.id == id } }.map {
                ApprovalIndexRecord(id: $0.id, sessionID: current.id, workspace: current.passport.workspace, status: $0.status.rawValue, expiresAt: $0.expires_at)
            }
            return SessionMutation(
                session: next, receipts: [receipt], evaluation: record, approvals: index.map { [$0] } ?? [],
                output: Decided(result: result, passport: current.passport))
        }

        /// A retry under the same `request_id`: the answer stored then, nothing spent again.
        func replayed(_ previous: EvaluationRecord) throws -> SessionMutation<Decided> {
            guard previous.fingerprint == fingerprint else {
                throw GovernanceError.conflict("request_id \(previous.requestID) was already used for a different call")
            }
            guard let answer = try? StrictJSON.decode(EvaluationResult.self, from: Array(previous.response.utf8)) else {
                throw GovernanceError.unavailable
            }
            return SessionMutation(session: nil, output: Decided(result: answer, passport: nil))
        }
    }

    /// The effects of a committed decision: the denial back-off, the console feeds, the audit
    /// event and the span's attributes.
    private func publishDecision(
        _ decided: Decided, sessionID: String, tool: String, arguments: [String: JSONValue], cost: Int, now: Date, span: (any Span)?
    ) {
        // After the commit, and only for a decision made now (a replayed answer was shown when
        // it was made).
        if let passport = decided.passport {
            let result = decided.result
            if result.decision == Decision.Verdict.deny.rawValue {
                let costly = result.reason?.hasPrefix("constraint_too_costly") == true
                denials.record(sessionID, weight: costly ? Evaluator.stepBudget : max(1, cost), now: now)
            }
            let event = ConsoleWire.DecisionEvent(
                at_ms: Int64((now.timeIntervalSince1970 * 1000).rounded()), agent_id: passport.agent_id, passport_jti: passport.jti,
                parent_jti: passport.parent_jti, tool: tool, result: result)
            feed.publish(workspace: passport.workspace, outcome: result.decision, at: now, event: event)
            fleet?.publish(workspace: passport.workspace, outcome: result.decision, event: event)
            recordDecision(result, passport: passport, sessionID: sessionID, tool: tool, arguments: arguments, span: span)
        }
    }

    /// The decision's audit event (and its approval request's, when it opened one), and the
    /// decision's attributes on the current span.
    func recordDecision(
        _ result: EvaluationResult, passport: PassportClaims, sessionID: String, tool: String, arguments: [String: JSONValue], span: (any Span)?
    ) {
        let outcome = result.decision.lowercased()
        if let span {
            span.attributes["tessera.decision"] = result.decision
            span.attributes["tessera.passport.jti"] = passport.jti
            span.attributes["tessera.workspace"] = passport.workspace
            if let reason = result.reasonRule { span.attributes["tessera.reason"] = reason }
            if let receipt = result.receipt_id { span.attributes["tessera.receipt.id"] = receipt }
        }
        guard auditLog.isEnabled else { return }
        let actor = AuditStreamEvent.Actor(type: "agent", id: passport.agent_id)
        let names = arguments.keys.sorted()
        auditLog.record(.decision, outcome: outcome, actor: actor, workspace: passport.workspace, target: .init(type: "session", id: AuditLog.sessionRef(sessionID))) { event in
            event.session_ref = AuditLog.sessionRef(sessionID)
            event.passport_jti = passport.jti
            event.agent_id = passport.agent_id
            event.tool = tool
            event.argument_names = names.isEmpty ? nil : names
            event.reason = result.reasonRule
            event.receipt_id = result.receipt_id
            event.approval_id = result.approval_id
        }
        if result.decision == Decision.Verdict.approvalRequired.rawValue, let approval = result.approval_id {
            auditLog.record(.approvalRequested, outcome: "success", actor: actor, workspace: passport.workspace, target: .init(type: "approval", id: approval)) { event in
                event.session_ref = AuditLog.sessionRef(sessionID)
                event.passport_jti = passport.jti
                event.agent_id = passport.agent_id
                event.tool = tool
                event.approval_id = approval
                event.receipt_id = result.receipt_id
            }
        }
    }

    /// One thread for the constraint checks that may take long (see ``Evaluator/inlineCost``): at
    /// most one such check runs at a time, and never on the cooperative pool's two threads.
    static let costlyChecks: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// An evaluation's answer and, for a decision made by this call, the passport it was made on.
    struct Decided: Sendable {
        var result: EvaluationResult
        var passport: PassportClaims?
    }

    public typealias DelegationResult = GovernanceWire.DelegationResult

    /// Issues a narrower child passport and reserves its budget from the parent, atomically.
    /// A key-bound parent delegates only with its holder's proof, and its child is bound too.
    public func delegate(_ request: DelegationRequest, aatProof: String? = nil, aatProofArguments: [String: JSONValue] = [:]) async throws -> DelegationResult {
        let parentClaims = try await delegatingParent(request, aatProof: aatProof, aatProofArguments: aatProofArguments)
        guard let parent = try await store.session(jti: parentClaims.jti) else {
            throw GovernanceError.forbidden("no started parent session for this passport: start the parent session first")
        }
        let key = keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        let fingerprint = request.fingerprint
        // The child's status-list place is taken before the transaction (which cannot suspend);
        // a delegation that then fails leaves an index unused, never reused.
        let childJTI = UUID().uuidString.lowercased()
        let childStatus = try await statusLists.allocate(
            kind: "passport", jti: childJTI, agentID: nil, expiresAt: Date(timeIntervalSince1970: TimeInterval(parentClaims.exp ?? 0)))
        do {
            let plan = DelegationPlan(
                request: request, fingerprint: fingerprint, childJTI: childJTI, childStatus: childStatus, issuer: issuer, key: key, now: now)
            let delegated = try await store.mutateSession(id: parent.id, delegationRequestID: request.requestID) { current, existing in
                try plan.mutation(current, existing: existing)
            }
            auditLog.record(
                .passportDelegated, outcome: "success", actor: .init(type: "agent", id: parentClaims.agent_id),
                workspace: parentClaims.workspace, target: .init(type: "passport", id: delegated.child_claims.jti)
            ) {
                $0.passport_jti = delegated.child_claims.jti
                $0.agent_id = delegated.child_claims.agent_id
                $0.session_ref = AuditLog.sessionRef(parent.id)
                $0.details = ["parent_jti": parentClaims.jti]
            }
            return delegated
        } catch let error as DelegationError {
            switch error {
            case .invalid(let message): throw GovernanceError.invalid(message)
            case .forbidden(let message): throw GovernanceError.forbidden(message)
            case .conflict(let message): throw GovernanceError.conflict(message)
            case .revoked: throw GovernanceError.passportRevoked
            }
        } catch let error as StoreError {
            if case .notFound = error { throw GovernanceError.unknownSession }
            throw GovernanceError.unavailable
        }
    }

    /// The delegating parent's claims, verified: the AAT its session was started with (not
    /// revoked, proven by its holder, its mission declaration still standing) or a signed
    /// passport, with its holder's proof of this very request when it is key-bound.
    private func delegatingParent(_ request: DelegationRequest, aatProof: String?, aatProofArguments: [String: JSONValue]) async throws -> PassportClaims {
        let parentClaims: PassportClaims
        if let aatClaims = try await aatParent(request.parentToken) {
            // The AAT a session was started with: its chain was verified then.
            if try await isRevoked(aatClaims) { throw GovernanceError.passportRevoked }
            try await checkAATProof(aatProof, passport: aatClaims, tool: Self.delegateTool, arguments: aatProofArguments)
            if let reference = aatClaims.aat?.mission_digest != nil ? aatClaims.aat?.mission_ref : nil {
                do {
                    _ = try await missions.resolve(reference, now: clock.now())
                } catch {
                    throw GovernanceError.missionRefused(error)
                }
            }
            parentClaims = aatClaims
        } else {
            do {
                parentClaims = try await keys.verify(request.parentToken, as: PassportClaims.self, policy: passportPolicy)
            } catch {
                throw GovernanceError.invalidToken
            }
        }
        if parentClaims.aat == nil, let jkt = parentClaims.cnf?.jkt {
            // The proof must carry the digest of this very request: a captured proof cannot
            // authorise a wider child (more tools, a bigger budget) than its holder asked for.
            try await checkProof(
                request.proof, jkt: jkt, passport: parentClaims, purpose: .delegate, childJKT: request.childCnfJKT ?? jkt,
                requestDigest: request.proofDigest)
        }
        return parentClaims
    }

    /// A delegation's plan inside the parent session's transaction (which cannot suspend): the
    /// child's `jti` and status-list place are taken before it starts.
    struct DelegationPlan: Sendable {
        let request: DelegationRequest
        let fingerprint: String
        let childJTI: String
        let childStatus: StatusClaim
        let issuer: String
        let key: Ed25519KeyPair
        let now: Date

        func mutation(_ current: SessionState, existing: DelegationRecord?) throws -> SessionMutation<DelegationResult> {
            if let existing { return try replayed(existing, current: current) }
            var child = try Attenuation.child(of: current, request: request, issuer: issuer, now: now)
            child.jti = childJTI
            child.status = childStatus
            let token = try CompactJWS.sign(child, type: PassportClaims.type, key: key)
            var next = current
            let remainingBefore = current.callsRemaining
            next.reservedForChildren += child.max_tool_calls ?? 0
            next.delegations += 1
            var arguments: [String: JSONValue] = [
                "child_agent_id": .string(request.childAgentID), "child_jti": .string(child.jti),
            ]
            if let id = request.requestID { arguments["delegation_request_id"] = .string(id) }
            if let budget = child.max_tool_calls { arguments["child_max_tool_calls"] = .number(JSONNumber(budget)) }
            let receipt = try next.appendReceipt(
                tool: "delegate_passport", decision: .permit, arguments: .object(arguments), issuer: issuer, now: now, key: key)
            let record = request.requestID.map {
                DelegationRecord(
                    parentSessionID: current.id, requestID: $0, fingerprint: fingerprint, childJTI: child.jti,
                    childToken: token, budget: child.max_tool_calls, parentRemainingAtDelegation: remainingBefore)
            }
            return SessionMutation(
                session: next, receipts: [receipt], delegation: record, passports: [PassportRecord(child)],
                output: DelegationResult(
                    child_token: token, child_claims: child, parent_jti: current.passport.jti,
                    parent_calls_remaining_at_delegation: remainingBefore))
        }

        /// A retry under the same `delegation_request_id`: the child issued then, nothing reserved again.
        func replayed(_ existing: DelegationRecord, current: SessionState) throws -> SessionMutation<DelegationResult> {
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
    }

    public typealias EndResult = GovernanceWire.EndResult

    /// An end's attestation, and whether this call ended the session (or found it ended).
    struct EndedNow: Sendable {
        var token: String
        var now: Bool
        var passport: PassportClaims
    }

    /// Ends the session (once) and returns its attestation; later calls return the same bytes.
    public func end(sessionID: String, proof: String? = nil) async throws -> EndResult {
        try await checkHolder(sessionID: sessionID, proof: proof, tool: Self.sessionEndTool)
        let key = keys.signer.keyPair
        let issuer = self.issuer
        let now = clock.now()
        let token: String
        do {
            let ended = try await store.mutateSession(id: sessionID, delegationRequestID: nil) { current, _ in
                var next = current
                let token = try next.end(issuer: issuer, now: now, key: key)
                return SessionMutation(session: next, output: EndedNow(token: token, now: current.endedAt == nil, passport: current.passport))
            }
            token = ended.token
            if ended.now {
                auditLog.record(
                    .sessionEnded, outcome: "success", actor: .init(type: "agent", id: ended.passport.agent_id),
                    workspace: ended.passport.workspace, target: .init(type: "session", id: AuditLog.sessionRef(sessionID))
                ) {
                    $0.session_ref = AuditLog.sessionRef(sessionID)
                    $0.passport_jti = ended.passport.jti
                    $0.agent_id = ended.passport.agent_id
                }
            }
        } catch let error as StoreError {
            if case .notFound = error { throw GovernanceError.unknownSession }
            throw GovernanceError.unavailable
        }
        return try Self.endResult(token)
    }

    /// The stored attestation of an ended session, unchanged.
    public func attestation(sessionID: String, proof: String? = nil) async throws -> EndResult {
        guard let session = try await store.session(id: sessionID) else { throw GovernanceError.unknownSession }
        if session.passport.aat?.holder_jwk != nil {
            try await checkAATProof(proof, passport: session.passport, tool: Self.sessionAttestTool, arguments: [:])
        }
        guard let token = session.attestation else { throw GovernanceError.sessionNotEnded }
        return try Self.endResult(token)
    }

    static func endResult(_ token: String) throws -> EndResult {
        guard let claims = CompactJWS.unverifiedPayload(token, as: AttestationClaims.self) else { throw GovernanceError.unavailable }
        return EndResult(attestation_token: token, summary: claims.summary, receipts_head: claims.receipts_head, receipts_count: claims.receipts_count)
    }
}
