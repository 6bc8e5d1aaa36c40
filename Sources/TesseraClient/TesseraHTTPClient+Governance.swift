import Foundation
import TesseraCore

/// Governance calls (passports, sessions, evaluation, delegation, receipts), with the wire types
/// of ``GovernanceWire``. A refusal surfaces as ``ClientError/server(status:body:)`` carrying the
/// flat `{"error":"…"}` body; ``ClientError/governanceCode`` reads it.
extension TesseraHTTPClient {
    /// Issues a passport (needs `passports:issue`). `mission` is the JSON object `/issue` takes.
    public func issuePassport(mission: [String: JSONValue], ttl: Int? = nil, keyThumbprint: String? = nil) async throws(ClientError) -> GovernanceWire.IssueResponse {
        try await send(
            .POST, "/issue", body: GovernanceWire.IssueRequest(mission: mission, ttl_s: ttl, cnf_jkt: keyThumbprint), as: GovernanceWire.IssueResponse.self)
    }

    /// Starts the passport's one session; `key` signs the proof a key-bound passport needs.
    public func startSession(passport: String, key: Ed25519KeyPair? = nil, clock: any TesseraClock = SystemClock()) async throws(ClientError) -> GovernanceWire.StartResponse {
        var proof: String?
        if let key {
            guard let claims = CompactJWS.unverifiedPayload(passport, as: PassportClaims.self) else { throw .invalidResponse("the passport is not a JWS") }
            do {
                proof = try PassportProofClaims.sign(
                    PassportProofClaims(passportJTI: claims.jti, purpose: .sessionStart, iat: clock.now().unixSeconds), key: key)
            } catch {
                throw .invalidResponse("cannot sign the proof: \(error)")
            }
        }
        return try await send(.POST, "/session/start", body: GovernanceWire.StartRequest(token: passport, proof: proof), as: GovernanceWire.StartResponse.self)
    }

    /// Asks whether one tool call is permitted. `requestID` makes a retry safe (see docs/security.md).
    public func evaluate(sessionID: String, tool: String, arguments: [String: JSONValue], requestID: String? = nil) async throws(ClientError) -> GovernanceWire.EvaluationResult {
        try await send(
            .POST, "/evaluate", body: GovernanceWire.EvaluateRequest(session_id: sessionID, tool_name: tool, arguments: arguments, request_id: requestID),
            as: GovernanceWire.EvaluationResult.self)
    }

    /// Delegates a narrower passport; `body` is `/delegate`'s request (see docs/governance.md).
    /// For a key-bound parent pass its holder's `key`: the SDK signs the proof, with the digest of
    /// exactly this request (`request_digest`), so the proof cannot be replayed for another
    /// child. A proof is single use: a retry (even with the same `delegation_request_id`) calls
    /// this again and gets a fresh one.
    public func delegate(
        _ body: [String: JSONValue], key: Ed25519KeyPair? = nil, clock: any TesseraClock = SystemClock()
    ) async throws(ClientError) -> GovernanceWire.DelegationResult {
        var body = body
        if let key { body["proof"] = .string(try Self.delegationProof(body, key: key, now: clock.now().unixSeconds)) }
        return try await send(.POST, "/delegate", body: body, as: GovernanceWire.DelegationResult.self)
    }

    /// The proof a key-bound parent's holder sends with `body`: the request is parsed as the
    /// server parses it (``DelegationRequest/parse(_:)``), so both compute the same digest.
    public static func delegationProof(_ body: [String: JSONValue], key: Ed25519KeyPair, now: Int64) throws(ClientError) -> String {
        var unsigned = body
        unsigned["proof"] = nil
        guard case .string(let parent)? = body["parent_token"], let claims = CompactJWS.unverifiedPayload(parent, as: PassportClaims.self) else {
            throw .invalidRequest("parent_token must be a passport (compact JWS)")
        }
        let request: DelegationRequest
        do {
            request = try DelegationRequest.parse(unsigned)
        } catch {
            throw .invalidRequest("cannot sign a delegation proof: \(error)")
        }
        do {
            return try PassportProofClaims.sign(
                .delegation(passportJTI: claims.jti, parentJKT: claims.cnf?.jkt ?? key.kid, request: request, iat: now), key: key)
        } catch {
            throw .invalidRequest("cannot sign the proof: \(error)")
        }
    }

    /// Ends the session and returns its signed attestation.
    public func endSession(_ sessionID: String) async throws(ClientError) -> GovernanceWire.EndResult {
        try await send(.POST, "/session/end", body: GovernanceWire.EndRequest(session_id: sessionID), as: GovernanceWire.EndResult.self)
    }

    /// The session's receipts (compact JWS) in chain order (needs `receipts:read`).
    public func receipts(sessionID: String) async throws(ClientError) -> [String] {
        let encoded = sessionID.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? sessionID
        let (status, bytes) = try await raw(.GET, "/receipts?session_id=\(encoded)", body: Optional<[String: String]>.none)
        guard status == 200 else { throw .server(status: status, body: String(decoding: bytes, as: UTF8.self)) }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            (try? StrictJSON.decode([String: String].self, from: Array(line.utf8)))?["jwt"]
        }
    }
}

extension ClientError {
    /// The governance error code of a refusal (`invalid_token`, `passport_revoked`, …), if any.
    public var governanceCode: String? {
        guard case .server(_, let body) = self, let parsed = try? StrictJSON.decode(GovernanceWire.ErrorBody.self, from: Array(body.utf8)) else { return nil }
        return parsed.error
    }
}
