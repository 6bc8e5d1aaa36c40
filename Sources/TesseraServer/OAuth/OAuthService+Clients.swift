import Foundation
import TesseraCore
import TesseraStore

/// Clients: dynamic registration (RFC 7591), metadata-document clients, Tessera agents, and how
/// a token or revocation request authenticates its client.
extension OAuthService {
    /// An authenticated (or, for a public client, identified) client of one request.
    struct ClientContext: Sendable {
        var client: StoredClient
        /// The agent a `private_key_jwt` assertion authenticated.
        var agent: AgentRecord?
        var isPublic: Bool { client.token_endpoint_auth_method == "none" }
    }

    public func register(_ object: [String: JSONValue], address: String?) async throws(OAuthFailure) -> OAuthWire.Client {
        // Parsed first: only registrations that would be stored count against the address.
        let registration = try ClientRegistration.parse(object)
        if let wait = registrations.admit(address ?? "unknown", now: clock.now()) {
            throw .slowDown("too many client registrations from this address; retry in \(wait) s", retryAfter: wait)
        }
        let clientID = Self.random("tc_")
        let secret = registration.token_endpoint_auth_method == "none" ? nil : Self.random("tcs_")
        let now = clock.now()
        let stored = StoredClient(
            clientID: clientID, secretHash: secret.map(Self.digest), issuedAt: now.unixSeconds, registration: registration, kind: "dcr",
            registeredFrom: address)
        do {
            try await store.putOAuth(
                OAuthRecord(kind: .client, id: clientID, clientID: clientID, body: Self.encode(stored), createdAt: now, expiresAt: nil), replace: false)
        } catch {
            throw storeFailure(error)
        }
        logger.notice("OAuth client registered", metadata: ["client_id": "\(clientID)", "name": "\(registration.client_name ?? "")"])
        return stored.wire(secret: secret)
    }

    /// A client by id: registered here, or a metadata document fetched (and cached). Nil when
    /// unknown; a metadata document that cannot be used is `invalid_client` naming why.
    func client(_ clientID: String) async throws(OAuthFailure) -> StoredClient? {
        guard !clientID.isEmpty, clientID.utf8.count <= 2048 else { return nil }
        if ClientMetadataFetcher.isMetadataURL(clientID) {
            switch await metadataDocuments.registration(for: clientID, now: clock.now()) {
            case .success(let registration):
                return StoredClient(clientID: clientID, secretHash: nil, issuedAt: 0, registration: registration, kind: "cimd", registeredFrom: nil)
            case .failure(let failure):
                throw failure
            }
        }
        do {
            guard let record = try await store.oauthRecord(.client, id: clientID, now: clock.now()) else { return nil }
            return try Self.decode(StoredClient.self, record.body)
        } catch {
            throw storeFailure(error)
        }
    }

    /// Authenticates the client of a token, revocation request: HTTP Basic (RFC 6749 §2.3.1),
    /// `client_secret` in the body, a `private_key_jwt` assertion by a Tessera agent, or a public
    /// client's bare `client_id`. Exactly one method; the method must be the registered one.
    func authenticateClient(_ form: FormBody, authorization: String?) async throws(OAuthFailure) -> ClientContext {
        var basic: (id: String, secret: String)?
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "basic", let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
                let text = String(bytes: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":"),
                let id = FormBody.decode(text[..<colon]), let secret = FormBody.decode(text[text.index(after: colon)...])
            else { throw .invalidClient("the Authorization header is not HTTP Basic client credentials") }
            basic = (id, secret)
        }
        let methods = [basic != nil, form.value("client_secret") != nil, form.value("client_assertion") != nil].filter { $0 }.count
        guard methods <= 1 else { throw .invalidRequest("use exactly one client authentication method") }
        if let assertion = form.value("client_assertion") {
            guard form.value("client_assertion_type") == OAuthWire.jwtBearerAssertion else {
                throw .invalidClient("client_assertion_type must be \(OAuthWire.jwtBearerAssertion)")
            }
            return try await authenticateAgent(assertion, clientID: form.value("client_id"))
        }
        let clientID = basic?.id ?? form.value("client_id")
        guard let clientID else { throw .invalidClient("client authentication is required (client_id)") }
        if let formID = form.value("client_id"), formID != clientID { throw .invalidClient("client_id does not match the authenticated client") }
        guard let client = try await client(clientID) else { throw .invalidClient("unknown client") }
        let secret = basic?.secret ?? form.value("client_secret")
        switch client.token_endpoint_auth_method {
        case "none":
            guard secret == nil else { throw .invalidClient("this client is public: it has no secret") }
        case "client_secret_basic", "client_secret_post":
            guard let secret, let hash = client.secret_hash,
                ConstantTime.equals(Array(Self.digest(secret).utf8), Array(hash.utf8))
            else { throw .invalidClient("client authentication failed") }
        default:
            throw .invalidClient("client authentication failed")
        }
        return ClientContext(client: client)
    }

    /// RFC 7523 client authentication by a registered Tessera agent: the assertion's `iss` is the
    /// agent id, and it must be signed by the agent's registered key. The assertion's `jti` is
    /// spent in the fleet-wide replay cache.
    func authenticateAgent(_ assertion: String, clientID: String?) async throws(OAuthFailure) -> ClientContext {
        guard let claimed = ClientAssertion.claimedClient(assertion) else { throw .invalidClient("client_assertion is not a readable JWT") }
        if let clientID, clientID != claimed { throw .invalidClient("client_id does not match the assertion's iss") }
        let agent: AgentRecord
        do {
            guard let found = try await store.agent(id: claimed), found.status == "active" else { throw OAuthFailure.invalidClient("unknown or disabled agent") }
            agent = found
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw storeFailure(error)
        }
        let key: ForeignPublicKey
        do {
            key = try ForeignPublicKey(jwk: agent.publicJWK)
        } catch {
            throw .invalidClient("the agent's registered key cannot verify assertions")
        }
        let now = clock.now()
        let verified = try ClientAssertion.verify(
            assertion, clientID: claimed, key: key, audiences: [issuer, issuer + "/", tokenEndpoint], now: now.unixSeconds)
        let first: Bool
        do {
            first = try await store.recordProofUse(
                key: CompactJWS.digest("oauth-assertion:\(claimed):\(verified.jti)"),
                expiresAt: Date(timeIntervalSince1970: TimeInterval(verified.expiresAt + ClientAssertion.skew)), now: now)
        } catch {
            throw storeFailure(error)
        }
        guard first else { throw .invalidClient("client_assertion was already used (jti replayed)") }
        let registration = ClientRegistration(
            redirect_uris: [], client_name: agent.name, client_uri: nil, grant_types: ["client_credentials", OAuthWire.tokenExchangeGrant],
            response_types: [], token_endpoint_auth_method: "private_key_jwt", scope: nil)
        let client = StoredClient(clientID: agent.id, secretHash: nil, issuedAt: 0, registration: registration, kind: "agent", registeredFrom: nil)
        return ClientContext(client: client, agent: agent)
    }

    // MARK: administration (system-level: registered clients belong to no workspace)

    public func clients(by identity: Identity) async throws -> [OAuthWire.Client] {
        guard identity.may(Capability.oauthRead, in: nil) else { throw GovernanceError.forbidden("access_denied") }
        return try await store.oauthRecords(.client, workspace: nil, subject: nil, family: nil, now: clock.now(), limit: 10_000)
            .compactMap { try? Self.decode(StoredClient.self, $0.body).wire() }
    }

    /// Deletes a registered client and ends everything issued to it: its codes and refresh
    /// tokens, and the passports of its grants.
    public func deleteClient(_ clientID: String, by identity: Identity) async throws {
        guard identity.may(Capability.oauthWrite, in: nil) else { throw GovernanceError.forbidden("access_denied") }
        guard try await store.oauthRecord(.client, id: clientID, now: clock.now()) != nil else {
            throw GovernanceError.notFound("no OAuth client \(clientID)")
        }
        try await store.deleteOAuth(.client, id: clientID)
        for family in try await endClientTokens(clientID) { logger.notice("OAuth grant ended: client deleted", metadata: ["grant": "\(family)"]) }
        logger.notice("OAuth client deleted", metadata: ["client_id": "\(clientID)", "by": "\(identity.userID)"])
    }

    func endClientTokens(_ clientID: String) async throws -> [String] {
        let now = clock.now()
        var families: [String] = []
        for record in try await store.oauthRecords(.refresh, workspace: nil, subject: nil, family: nil, now: now, limit: 100_000) where record.clientID == clientID {
            if !families.contains(record.family) { families.append(record.family) }
        }
        for family in families { try await endGrant(family) }
        _ = try await store.deleteOAuthTokens(clientID: clientID)
        return families
    }
}
