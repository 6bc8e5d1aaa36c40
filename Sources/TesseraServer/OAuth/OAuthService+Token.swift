import Foundation
import TesseraCore
import TesseraStore

/// The token endpoint: every grant ends in one governed passport.
extension OAuthService {
    /// A refresh token's grant (stored under the token's digest; rotated on every use).
    struct Refresh: Codable, Sendable {
        var client_id: String
        var resource: String
        var upstream: String
        var user_id: String
        var workspace: String
        var scopes: [String]
        var jkt: String?
        /// The passport issued with this refresh token (revoked when the family ends).
        var passport_jti: String
        var family_created: Double
        var family_expires: Double
        var token_epoch: Int?
        var template_digests: [String: String]?
    }

    /// What the request carried besides its form: the `DPoP` header(s).
    public struct TokenRequestContext: Sendable {
        public var authorization: String?
        public var dpop: [String]
        public var address: String?
        public init(authorization: String?, dpop: [String], address: String?) {
            self.authorization = authorization
            self.dpop = dpop
            self.address = address
        }
    }

    public func token(_ form: FormBody, _ context: TokenRequestContext) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
        guard let grantType = form.value("grant_type") else { throw .invalidRequest("grant_type is required") }
        // The client is authenticated before a DPoP proof is spent in the replay cache, so
        // nobody unauthenticated can fill it (the exchange's badge is its authentication).
        switch grantType {
        case "authorization_code":
            let client = try await authenticateClient(form, authorization: context.authorization)
            return try await redeemCode(form, client: client, jkt: try await dpopKey(context.dpop))
        case "refresh_token":
            let client = try await authenticateClient(form, authorization: context.authorization)
            return try await refresh(form, client: client, jkt: try await dpopKey(context.dpop))
        case "client_credentials":
            guard form.value("client_assertion") != nil else {
                throw .unauthorizedClient("client_credentials is for registered Tessera agents authenticating with private_key_jwt")
            }
            let client = try await authenticateClient(form, authorization: context.authorization)
            guard let agent = client.agent else { throw .unauthorizedClient("client_credentials needs an agent client") }
            return try await issueToAgent(agent, form: form, jkt: try await dpopKey(context.dpop))
        case OAuthWire.tokenExchangeGrant:
            return try await exchangeBadge(form, jkt: try await dpopKey(context.dpop))
        default:
            throw .unsupportedGrantType("grant_type \(grantType) is not supported")
        }
    }

    /// RFC 9449 §5: a DPoP proof on a token request binds the token to the proof's key.
    func dpopKey(_ proofs: [String]) async throws(OAuthFailure) -> String? {
        guard !proofs.isEmpty else { return nil }
        guard proofs.count == 1, let proof = proofs.first, let presented = DPoPProofClaims.presentedKey(proof) else {
            throw .invalidDPoPProof("send exactly one DPoP proof with an Ed25519 jwk")
        }
        let now = clock.now()
        let verified: (jti: String, iat: Int64)
        do {
            verified = try DPoPProofClaims.verify(proof, method: "POST", url: tokenEndpoint, badge: nil, key: presented.key, now: now.unixSeconds)
        } catch {
            throw .invalidDPoPProof("the DPoP proof does not hold for POST \(tokenEndpoint) (no ath on a token request)")
        }
        do {
            guard try await store.recordProofUse(
                key: CompactJWS.digest("dpop:\(presented.thumbprint):\(verified.jti)"),
                expiresAt: Date(timeIntervalSince1970: TimeInterval(verified.iat + DPoPProofClaims.window)), now: now)
            else { throw OAuthFailure.invalidDPoPProof("the DPoP proof was already used") }
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw storeFailure(error)
        }
        return presented.thumbprint
    }

    func checkResource(_ form: FormBody, expected: String) throws(OAuthFailure) {
        if let resource = form.value("resource"), resource != expected {
            throw .invalidTarget("resource must be the one this grant was made for")
        }
    }

    func redeemCode(_ form: FormBody, client: ClientContext, jkt: String?) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
        guard let code = form.value("code"), code.utf8.count <= 256 else { throw .invalidRequest("code is required") }
        guard let verifier = form.value("code_verifier") else { throw .invalidRequest("code_verifier is required (PKCE)") }
        let claim: OAuthClaim
        do {
            claim = try await store.claimOAuth(.code, id: Self.digest(code), now: clock.now())
        } catch {
            throw storeFailure(error)
        }
        let record: OAuthRecord
        switch claim {
        case .absent: throw .invalidGrant("the code is unknown or expired")
        case .replayed(let spent):
            // OAuth 2.1 §4.1.3: a code used twice revokes what it issued.
            try? await endGrant(spent.family)
            logger.notice("OAuth code replayed: grant ended", metadata: ["client_id": "\(spent.clientID)", "grant": "\(spent.family)"])
            throw .invalidGrant("the code was already used; the tokens issued from it are revoked")
        case .claimed(let found): record = found
        }
        guard let grant = try? Self.decode(Code.self, record.body) else { throw .invalidGrant("the code cannot be read") }
        guard grant.client_id == client.client.client_id else { throw .invalidGrant("the code was issued to another client") }
        if grant.redirect_uri_given || form.value("redirect_uri") != nil {
            guard form.value("redirect_uri") == grant.redirect_uri else { throw .invalidGrant("redirect_uri differs from the authorization request's") }
        }
        guard PKCE.verify(verifier, challenge: grant.code_challenge) else { throw .invalidGrant("code_verifier does not match the code_challenge") }
        try checkResource(form, expected: grant.resource)
        let now = clock.now()
        let refresh = Refresh(
            client_id: grant.client_id, resource: grant.resource, upstream: grant.upstream, user_id: grant.user_id, workspace: grant.workspace,
            scopes: grant.scopes, jkt: jkt, passport_jti: "", family_created: now.timeIntervalSince1970,
            family_expires: now.addingTimeInterval(Self.refreshLifetime).timeIntervalSince1970, token_epoch: grant.token_epoch,
            template_digests: grant.template_digests)
        try await checkPerson(refresh, family: record.family)
        return try await issueForUser(
            refresh, family: record.family, scopes: grant.scopes, clientName: client.client.client_name, parent: (.code, record.id),
            withRefresh: client.client.grant_types.contains("refresh_token"))
    }

    func refresh(_ form: FormBody, client: ClientContext, jkt: String?) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
        guard let token = form.value("refresh_token"), token.utf8.count <= 256 else { throw .invalidRequest("refresh_token is required") }
        // A request that is wrong in itself (another client, resource or key, a wider scope) is
        // refused before the token is spent: its retry must not look like reuse.
        if let unspent = try? await store.oauthRecord(.refresh, id: Self.digest(token), now: clock.now()), !unspent.used,
            let peek = try? Self.decode(Refresh.self, unspent.body)
        {
            guard peek.client_id == client.client.client_id else { throw .invalidGrant("the refresh token was issued to another client") }
            try checkResource(form, expected: peek.resource)
            if let bound = peek.jkt, bound != jkt { throw .invalidDPoPProof("this refresh token is bound to a DPoP key; prove it") }
            if let requested = form.value("scope"),
                !requested.split(separator: " ").map(String.init).filter({ $0 != OAuthWire.offlineAccess }).allSatisfy(peek.scopes.contains)
            {
                throw .invalidScope("a refresh may only narrow the granted scopes")
            }
        }
        let claim: OAuthClaim
        do {
            claim = try await store.claimOAuth(.refresh, id: Self.digest(token), now: clock.now())
        } catch {
            throw storeFailure(error)
        }
        let record: OAuthRecord
        switch claim {
        case .absent: throw .invalidGrant("the refresh token is unknown, expired or revoked")
        case .replayed(let spent):
            // Rotation's point: an old refresh token used again means two parties hold the
            // family; end it for both.
            try? await endGrant(spent.family)
            logger.warning("OAuth refresh token reused: grant ended", metadata: ["client_id": "\(spent.clientID)", "grant": "\(spent.family)"])
            throw .invalidGrant("the refresh token was already used; every token of this grant is revoked")
        case .claimed(let found): record = found
        }
        guard var grant = try? Self.decode(Refresh.self, record.body) else { throw .invalidGrant("the refresh token cannot be read") }
        guard grant.client_id == client.client.client_id else { throw .invalidGrant("the refresh token was issued to another client") }
        try checkResource(form, expected: grant.resource)
        // RFC 9449 §5: a public client's DPoP-bound refresh token needs the same key again.
        if let bound = grant.jkt, bound != jkt { throw .invalidDPoPProof("this refresh token is bound to a DPoP key; prove it") }
        try await checkPerson(grant, family: record.family)
        do {
            if !grant.passport_jti.isEmpty, try await store.isRevoked(jti: grant.passport_jti, parentJTI: nil) {
                try await endGrant(record.family)
                throw OAuthFailure.invalidGrant("the grant's passport was revoked")
            }
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw storeFailure(error)
        }
        var scopes = grant.scopes
        if let requested = form.value("scope") {
            let names = requested.split(separator: " ").map(String.init).filter { $0 != OAuthWire.offlineAccess }
            guard names.allSatisfy(grant.scopes.contains) else { throw .invalidScope("a refresh may only narrow the granted scopes") }
            if !names.isEmpty { scopes = names }
        }
        grant.jkt = grant.jkt ?? jkt
        return try await issueForUser(grant, family: record.family, scopes: scopes, clientName: client.client.client_name, parent: (.refresh, record.id), withRefresh: true)
    }

    /// A passport for a person's grant, and the family's next refresh token.
    func issueForUser(
        _ grant: Refresh, family: String, scopes: [String], clientName: String?, parent: (kind: OAuthRecord.Kind, id: String), withRefresh: Bool
    ) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
        let now = clock.now()
        var templates: [MissionTemplate] = []
        do {
            for name in scopes {
                // A template deleted, moved or changed since the person approved it is dropped:
                // a grant never widens behind their back.
                if let template = try await template(named: name), template.workspace == grant.workspace, template.isOffered(on: grant.upstream),
                    grant.template_digests.map({ $0[name] == Self.digests([template])[name] }) ?? true
                {
                    templates.append(template)
                }
            }
        } catch {
            throw storeFailure(error)
        }
        guard !templates.isEmpty else {
            try? await endGrant(family)
            throw .invalidGrant("none of the granted mission templates exists any more")
        }
        let combined: (mission: Mission, ttl: Int)
        do {
            combined = try MissionTemplate.combine(templates, agentID: grant.client_id)
        } catch {
            throw .invalidScope(error.description)
        }
        let scope = templates.map(\.name).joined(separator: " ")
        let (token, claims): (String, PassportClaims)
        do {
            (token, claims) = try await governance.issueOAuth(
                mission: combined.mission, workspace: grant.workspace, subject: grant.user_id, clientID: grant.client_id, scope: scope,
                audience: grant.resource, jkt: grant.jkt, ttl: combined.ttl)
        } catch {
            throw storeFailure(error)
        }
        var next = grant
        next.passport_jti = claims.jti
        next.scopes = grant.scopes
        let refreshToken = withRefresh ? Self.random("trt_") : nil
        let expires = min(now.addingTimeInterval(Self.refreshLifetime), Date(timeIntervalSince1970: grant.family_expires))
        do {
            if let refreshToken {
                try await store.putOAuth(
                    OAuthRecord(
                        kind: .refresh, id: Self.digest(refreshToken), family: family, clientID: grant.client_id, subject: grant.user_id,
                        workspace: grant.workspace, body: Self.encode(next), createdAt: now, expiresAt: expires),
                    replace: false)
            }
            // The grant may have been ended meanwhile (a replay of the code or refresh token just
            // spent, on any node): its rows are gone then. Checked after writing, so either the
            // ending saw this token's row and revoked its passport, or this sees the ending.
            guard try await store.oauthRecord(parent.kind, id: parent.id, now: now) != nil else {
                try await governance.revokeGranted(jti: claims.jti)
                if let refreshToken { try await store.deleteOAuth(.refresh, id: Self.digest(refreshToken)) }
                throw OAuthFailure.invalidGrant("the grant was ended while this token was being issued")
            }
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw storeFailure(error)
        }
        logger.info("OAuth token issued", metadata: ["client_id": "\(grant.client_id)", "sub": "\(grant.user_id)", "jti": "\(claims.jti)", "scope": "\(scope)"])
        return OAuthWire.TokenResponse(
            access_token: token, token_type: grant.jkt == nil ? "Bearer" : "DPoP", expires_in: combined.ttl, scope: scope, refresh_token: refreshToken)
    }

    /// `client_credentials` for an agent authenticated by its registered key.
    func issueToAgent(_ agent: AgentRecord, form: FormBody, jkt: String?, issuedTokenType: String? = nil) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
        guard (try? await iam.authenticator.workspaceIsEnabled(agent.workspace)) == true else {
            throw .invalidGrant("the agent's workspace is disabled")
        }
        guard let resource = form.value("resource") else { throw .invalidTarget("resource is required (RFC 8707): this server's MCP endpoint") }
        guard let upstream = upstream(of: resource) else { throw .invalidTarget("resource is not an MCP endpoint of this server") }
        let resolved = try await resolveScopes(form.value("scope"), workspace: agent.workspace, upstream: upstream, agent: agent.id)
        let combined: (mission: Mission, ttl: Int)
        do {
            combined = try MissionTemplate.combine(resolved.templates, agentID: agent.id)
        } catch {
            throw .invalidScope(error.description)
        }
        let scope = resolved.templates.map(\.name).joined(separator: " ")
        let token: String
        do {
            (token, _) = try await governance.issueOAuth(
                mission: combined.mission, workspace: agent.workspace, subject: agent.id, clientID: agent.id, scope: scope, audience: resource,
                jkt: jkt, ttl: combined.ttl)
        } catch {
            throw storeFailure(error)
        }
        logger.info("OAuth token issued to agent", metadata: ["agent": "\(agent.id)", "scope": "\(scope)"])
        return OAuthWire.TokenResponse(
            access_token: token, token_type: jkt == nil ? "Bearer" : "DPoP", expires_in: combined.ttl, scope: scope, issued_token_type: issuedTokenType)
    }

    /// RFC 8693: an IAL-1 badge (proof-of-possession issued) and a DPoP proof by its key become a
    /// DPoP-bound passport for a resource.
    func exchangeBadge(_ form: FormBody, jkt: String?) async throws(OAuthFailure) -> OAuthWire.TokenResponse {
        guard let badge = form.value("subject_token") else { throw .invalidRequest("subject_token is required (an IAL-1 badge)") }
        guard form.value("subject_token_type") == OAuthWire.jwtTokenType else {
            throw .invalidRequest("subject_token_type must be \(OAuthWire.jwtTokenType)")
        }
        if let requested = form.value("requested_token_type"), requested != OAuthWire.accessTokenType {
            throw .invalidRequest("requested_token_type may only be \(OAuthWire.accessTokenType)")
        }
        if form.value("actor_token") != nil { throw .invalidRequest("actor_token is not supported") }
        guard let claims = await badges.authenticateBadge(badge), claims.ial == "1", let key = claims.key, let agentID = claims.agent_id else {
            throw .invalidGrant("subject_token is not a valid, unrevoked IAL-1 badge of an active agent issued here")
        }
        guard let jkt, let thumbprint = try? JWKThumbprint.compute(key), ConstantTime.equals(Array(jkt.utf8), Array(thumbprint.utf8)) else {
            throw .invalidDPoPProof("a DPoP proof by the badge's key is required")
        }
        let agent: AgentRecord
        do {
            guard let found = try await store.agent(id: agentID), found.status == "active" else { throw OAuthFailure.invalidGrant("the badge's agent is not active") }
            agent = found
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw storeFailure(error)
        }
        return try await issueToAgent(agent, form: form, jkt: jkt, issuedTokenType: OAuthWire.accessTokenType)
    }

    /// The person behind a grant may still hold it: enabled, workspace enabled, password not
    /// changed or reset since they approved (`tokenEpoch`), still holding `oauth:authorize`.
    /// Anything else ends the grant.
    func checkPerson(_ grant: Refresh, family: String) async throws(OAuthFailure) {
        do {
            let user = try await store.user(id: grant.user_id)
            let workspaceEnabled = (try? await iam.authenticator.workspaceIsEnabled(grant.workspace)) == true
            guard let user, user.enabled, workspaceEnabled, grant.token_epoch.map({ $0 == user.tokenEpoch }) ?? true,
                Identity(user: user, workspace: grant.workspace, source: .login(jti: "")).may(Capability.oauthAuthorize, in: grant.workspace)
            else {
                try await endGrant(family)
                throw OAuthFailure.invalidGrant("the user is disabled or deleted, their workspace is disabled, their password changed, or their role no longer allows this grant")
            }
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw storeFailure(error)
        }
    }

    /// Ends a grant: every passport its refresh tokens carried is revoked, its codes and
    /// refresh tokens deleted.
    func endGrant(_ family: String) async throws {
        guard !family.isEmpty else { return }
        let records = try await store.oauthRecords(.refresh, workspace: nil, subject: nil, family: family, now: clock.now(), limit: 10_000)
        for record in records {
            if let grant = try? Self.decode(Refresh.self, record.body), !grant.passport_jti.isEmpty {
                try await governance.revokeGranted(jti: grant.passport_jti)
            }
        }
        try await store.deleteOAuthFamily(family)
    }
}
