/// `/session/start`'s answer for `token_type` `aat`: Ardur's fields (`session_id` = the AAT's
/// `jti`, `agent_id`, `allowed_tools`, `credential_format`) and Tessera's (`claims` — the
/// passport the session is governed by —, `started_at`, `calls_remaining`, `mission_digest`).
public struct AATStartResponse: Codable, Sendable, Equatable {
    public var session_id: String
    public var agent_id: String
    public var allowed_tools: [String]
    public var credential_format: String
    public var claims: PassportClaims
    public var started_at: String
    public var calls_remaining: Int?
    public var mission_digest: String?
    public var pop_required: Bool

    public init(session: SessionState, startedAt: String) {
        session_id = session.id
        agent_id = session.passport.agent_id
        allowed_tools = session.passport.permittedTools.sorted()
        credential_format = AATBinding.credentialFormat
        claims = session.passport
        started_at = startedAt
        calls_remaining = session.callsRemaining
        mission_digest = session.passport.aat?.mission_digest
        pop_required = session.passport.aat?.popRequired ?? false
    }
}

/// `/issue`'s answer for `format` `aat`: the root AAT and its claims.
public struct AATIssueResponse: Codable, Sendable, Equatable {
    public var token: String
    public var format: String = "aat"
    public var claims: JSONValue
    public init(token: String, claims: [String: JSONValue]) {
        self.token = token
        self.claims = .object(claims)
    }
}
