import Foundation
import TesseraCore
import TesseraStore

/// Tessera as an OpenID AuthZEN Policy Decision Point: each evaluation is a real decision made by
/// ``GovernanceService/evaluate(sessionID:tool:arguments:requestID:)`` — the one implementation,
/// so budgets, receipts, approvals, the deny-rate 429 and the decision feed are exactly those of
/// `/evaluate` — after the caller's right to ask in the session's workspace is checked.
public struct AuthZENService: Sendable {
    let governance: GovernanceService
    let store: any GovernanceStore
    /// Subject → its session and workspace. Neither ever changes for a session (a passport
    /// starts at most one), so an entry stays right on every node; only found subjects are kept,
    /// and at most 50,000 of them.
    let scopes: TTLCache<AuthZENToolCall.Subject, Scope>

    struct Scope: Sendable {
        var sessionID: String
        var workspace: String
    }

    public init(governance: GovernanceService, store: any GovernanceStore) {
        self.governance = governance
        self.store = store
        self.scopes = TTLCache(ttl: TimeInterval(GovernanceService.maxTTL), capacity: 50_000)
    }

    /// One evaluation; a subject that does not exist or lies outside the workspaces where the
    /// caller holds `decisions:evaluate` is the same 404, as for every other workspace-scoped
    /// object (docs/iam.md): the answer never tells a PEP that a session exists elsewhere.
    public func evaluate(_ call: AuthZENToolCall, by identity: Identity) async throws -> AuthZENDecision {
        let scope = try await scope(of: call.subject)
        guard identity.may(Capability.decisionsEvaluate, in: scope.workspace) else { throw GovernanceError.notFound(Self.unknownSubject) }
        let result = try await governance.evaluate(sessionID: scope.sessionID, tool: call.tool, arguments: call.arguments, requestID: call.requestID)
        return AuthZENDecision(result)
    }

    /// A boxcar, in request order, one item after the other (so the budget an item spends is
    /// seen by the next, and a short-circuit leaves the rest unevaluated: no budget spent, no
    /// receipt). An item that cannot be evaluated is `false` with the error the single route
    /// would answer, and counts as a denial for `deny_on_first_deny`.
    public func evaluate(_ calls: [AuthZENToolCall], semantic: AuthZENSemantic, by identity: Identity) async throws -> AuthZENEvaluationsResponse {
        var decisions: [AuthZENDecision] = []
        decisions.reserveCapacity(calls.count)
        for call in calls {
            try Task.checkCancellation()
            let decision: AuthZENDecision
            do {
                decision = try await evaluate(call, by: identity)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                decision = .failed(AuthZENErrors.itemError(for: error))
            }
            decisions.append(decision)
            switch semantic {
            case .executeAll: continue
            case .denyOnFirstDeny: if !decision.decision { return AuthZENEvaluationsResponse(evaluations: decisions) }
            case .permitOnFirstPermit: if decision.decision { return AuthZENEvaluationsResponse(evaluations: decisions) }
            }
        }
        return AuthZENEvaluationsResponse(evaluations: decisions)
    }

    static let unknownSubject = "unknown_subject"

    func scope(of subject: AuthZENToolCall.Subject) async throws -> Scope {
        if let known = scopes.value(for: subject, now: governance.clock.now()) { return known }
        let session: SessionState?
        do {
            switch subject {
            case .session(let id): session = try await store.session(id: id)
            case .passport(let jti): session = try await store.session(jti: jti)
            }
        } catch {
            throw GovernanceError.unavailable
        }
        guard let session else { throw GovernanceError.notFound(Self.unknownSubject) }
        let scope = Scope(sessionID: session.id, workspace: session.passport.workspace)
        scopes.set(scope, for: subject, now: governance.clock.now())
        return scope
    }
}
