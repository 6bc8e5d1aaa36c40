import Hummingbird
import TesseraCore

/// The OpenID AuthZEN Authorization API 1.0 routes (docs/authzen.md): the Access Evaluation and
/// Access Evaluations APIs for a PEP holding `decisions:evaluate`, and the PDP metadata,
/// anonymous like every discovery document.
///
/// Bodies go through the same reader as `/evaluate` (≤ 1 MiB, ``StrictJSON``: depth ≤ 32,
/// duplicate names refused), then are checked whole (every boxcar item, at most 1,000) before
/// the first decision is made.
struct AuthZENController {
    let authZEN: AuthZENService
    let origin: RegistryOrigin

    func register(on routes: SecuredRouter) throws {
        try routes.on(AuthZENMetadata.wellKnownPath, method: .get, access: .anonymous, use: metadata)
        try routes.on(AuthZENMetadata.evaluationPath, method: .post, access: .capability(Capability.decisionsEvaluate), use: evaluation)
        try routes.on(AuthZENMetadata.evaluationsPath, method: .post, access: .capability(Capability.decisionsEvaluate), use: evaluations)
    }

    @Sendable func metadata(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<AuthZENMetadata> {
        JSONResponse(AuthZENMetadata(origin: origin.current), headers: [.cacheControl: "max-age=300"])
    }

    /// The Access Evaluation API: one decision.
    @Sendable func evaluation(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let body = try await GovernanceController.object(request, context)
        let call = try AuthZENToolCall(try AuthZENEvaluationRequest.parse(body))
        return try Self.answer(try await authZEN.evaluate(call, by: try context.authenticatedIdentity()))
    }

    /// The Access Evaluations API: a boxcar, checked whole before the first decision.
    @Sendable func evaluations(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let body = try await GovernanceController.object(request, context)
        let boxcar = try AuthZENEvaluationsRequest.parse(body)
        let identity = try context.authenticatedIdentity()
        // No items: the spec's backwards-compatible form, one Access Evaluation answered as one.
        if boxcar.isSingle {
            let call = try AuthZENToolCall(try AuthZENEvaluationRequest.parse(body))
            return try Self.answer(try await authZEN.evaluate(call, by: identity))
        }
        let calls = try AuthZENToolCall.calls(boxcar)
        return try Self.answer(try await authZEN.evaluate(calls, semantic: boxcar.semantic, by: identity))
    }

    /// A decision answer: JSON with sorted keys, never cached (each one is a spent decision).
    static func answer(_ value: some Encodable) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try CompactJWS.encoder.encode(value))))
    }
}
