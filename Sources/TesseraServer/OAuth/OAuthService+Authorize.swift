import Foundation
import TesseraCore
import TesseraStore

/// The authorization endpoint: a request is validated, the person signs in (IAM username and
/// password), sees exactly what each scope grants, and approves or denies.
extension OAuthService {
    /// An error that must not be redirected (unknown client, unregistered redirect URI, an
    /// unusable request state): shown as a page.
    public struct PageFailure: Error, Sendable, Equatable {
        public var status: Int
        public var message: String
    }

    /// Where an authorization response goes, and what it carries (RFC 6749 §4.1.2, RFC 9207).
    public struct Redirect: Sendable, Equatable {
        public var uri: String
        public var parameters: [(String, String)]
        public static func == (a: Redirect, b: Redirect) -> Bool { a.uri == b.uri && a.parameters.map { $0.0 + "=" + $0.1 } == b.parameters.map { $0.0 + "=" + $0.1 } }
        public var location: String { uri + (uri.contains("?") ? "&" : "?") + FormBody.encode(parameters) }
    }

    /// A validated authorization request waiting for the person (stored under the digest of
    /// its id; bound to the browser by the digest of a cookie).
    struct Pending: Codable, Sendable {
        var client_id: String
        var client_name: String?
        var redirect_uri: String
        /// Whether the request named it (then the token request must repeat it, RFC 6749 §4.1.3).
        var redirect_uri_given: Bool?
        var state: String?
        var code_challenge: String
        var scope: String?
        var resource: String
        var upstream: String
        var cookie_hash: String
        var csrf: String
        var user_id: String?
        var workspace: String?
        var scopes: [String]?
        var offline: Bool?
        var token_epoch: Int?
        var template_digests: [String: String]?
    }

    /// What the page handler needs to render the next step.
    public struct Step: Sendable {
        public enum Kind: Sendable { case signIn, consent }
        public var kind: Kind
        public var requestID: String
        public var csrf: String
        /// Set when a new browser binding is made (the first page).
        public var cookie: String?
        public var clientName: String
        public var clientID: String
        public var redirectOrigin: String
        public var resource: String
        public var templates: [MissionTemplate]
        public var username: String?
        public var message: String?
    }

    public enum AuthorizeOutcome: Sendable {
        case page(Step)
        case redirect(Redirect)
    }

    static let maximumStateBytes = 1_024

    /// `GET /oauth/authorize`: validates, then asks the person to sign in.
    public func beginAuthorization(_ query: FormBody, address: String? = nil) async throws -> AuthorizeOutcome {
        guard let clientID = query.value("client_id") else { throw PageFailure(status: 400, message: "client_id is required.") }
        let client: StoredClient
        do {
            guard let found = try await self.client(clientID) else { throw PageFailure(status: 400, message: "Unknown client_id.") }
            client = found
        } catch let failure as OAuthFailure {
            if case .temporarilyUnavailable = failure { throw PageFailure(status: 503, message: "The server cannot look this client up now. Try again shortly.") }
            throw PageFailure(status: 400, message: "This client cannot be used: \(failure.description).")
        }
        let redirectURI: String
        if let requested = query.value("redirect_uri") {
            guard RedirectURI.matches(requested, registered: client.redirect_uris) else {
                throw PageFailure(status: 400, message: "redirect_uri is not registered for this client.")
            }
            redirectURI = requested
        } else {
            guard client.redirect_uris.count == 1 else { throw PageFailure(status: 400, message: "redirect_uri is required.") }
            redirectURI = client.redirect_uris[0]
        }
        let state = query.value("state")
        if let state, state.utf8.count > Self.maximumStateBytes {
            throw PageFailure(status: 400, message: "state is longer than \(Self.maximumStateBytes) bytes.")
        }
        func fail(_ failure: OAuthFailure) -> AuthorizeOutcome { .redirect(errorRedirect(redirectURI, failure, state: state)) }
        guard query.value("response_type") == "code" else { return fail(.unsupportedResponseType("response_type must be code")) }
        guard let challenge = query.value("code_challenge") else { return fail(.invalidRequest("code_challenge is required (PKCE, S256)")) }
        guard query.value("code_challenge_method") == "S256" else { return fail(.invalidRequest("code_challenge_method must be S256")) }
        guard PKCE.isValidChallenge(challenge) else { return fail(.invalidRequest("code_challenge must be 43 base64url characters (S256)")) }
        guard let resource = query.value("resource") else { return fail(.invalidTarget("resource is required (RFC 8707): this server's MCP endpoint")) }
        guard let upstream = upstream(of: resource) else { return fail(.invalidTarget("resource is not an MCP endpoint of this server")) }
        let scope = query.value("scope")
        if let scope {
            guard scope.utf8.count <= 2_048 else { return fail(.invalidScope("scope is longer than 2048 bytes")) }
            let known = Set(try await allTemplates().filter { $0.isOffered(on: upstream) }.map(\.name)).union([OAuthWire.offlineAccess])
            if let unknown = scope.split(separator: " ").map(String.init).first(where: { !known.contains($0) }) {
                return fail(.invalidScope("scope \(unknown) is not a mission template offered on \(upstream)"))
            }
        }
        // Each valid request stores a pending sign-in for ten minutes: bounded per address.
        if let wait = authorizations.admit(address ?? "unknown", now: clock.now()) {
            throw PageFailure(status: 429, message: "Too many sign-in requests from this address. Try again in \(wait) s.")
        }
        let requestID = Self.random("")
        let cookie = Self.random("")
        let pending = Pending(
            client_id: client.client_id, client_name: client.client_name, redirect_uri: redirectURI, redirect_uri_given: query.value("redirect_uri") != nil,
            state: state, code_challenge: challenge,
            scope: scope, resource: resource, upstream: upstream, cookie_hash: Self.digest(cookie), csrf: Self.random(""))
        try await save(pending, id: requestID, replace: false)
        return .page(step(.signIn, pending, requestID: requestID, cookie: cookie, templates: []))
    }

    func step(_ kind: Step.Kind, _ pending: Pending, requestID: String, cookie: String? = nil, templates: [MissionTemplate], username: String? = nil, message: String? = nil) -> Step {
        Step(
            kind: kind, requestID: requestID, csrf: pending.csrf, cookie: cookie, clientName: pending.client_name ?? pending.client_id,
            clientID: pending.client_id, redirectOrigin: RedirectURI.origin(pending.redirect_uri) ?? pending.redirect_uri, resource: pending.resource,
            templates: templates, username: username, message: message)
    }

    func save(_ pending: Pending, id: String, replace: Bool) async throws {
        try await store.putOAuth(
            OAuthRecord(
                kind: .pending, id: Self.digest(id), clientID: pending.client_id, subject: pending.user_id ?? "", workspace: pending.workspace ?? "",
                body: Self.encode(pending), createdAt: clock.now(), expiresAt: clock.now().addingTimeInterval(Self.pendingLifetime)),
            replace: replace)
    }

    /// The pending request a form post continues: the `request` id, the browser's cookie and the
    /// form's CSRF token must all match (a page from another site can forge neither).
    func pending(_ form: FormBody, cookie: String?) async throws -> (Pending, String) {
        guard let requestID = form.value("request"), requestID.utf8.count <= 128,
            let record = try await store.oauthRecord(.pending, id: Self.digest(requestID), now: clock.now()),
            let pending = try? Self.decode(Pending.self, record.body)
        else { throw PageFailure(status: 400, message: "This sign-in request is unknown or has expired. Start again from your application.") }
        guard let cookie, ConstantTime.equals(Array(Self.digest(cookie).utf8), Array(pending.cookie_hash.utf8)),
            let csrf = form.value("csrf_token"), ConstantTime.equals(Array(csrf.utf8), Array(pending.csrf.utf8))
        else { throw PageFailure(status: 403, message: "This form was not sent from this browser's sign-in page (CSRF check failed).") }
        return (pending, requestID)
    }

    /// `POST /oauth/authorize`: a sign-in, or the person's decision.
    public func continueAuthorization(_ form: FormBody, cookie: String?, address: String?) async throws -> AuthorizeOutcome {
        var (pending, requestID) = try await pending(form, cookie: cookie)
        if let decision = form.value("decision") {
            guard let userID = pending.user_id, let workspace = pending.workspace, let scopes = pending.scopes else {
                throw PageFailure(status: 400, message: "Sign in first.")
            }
            try await store.deleteOAuth(.pending, id: Self.digest(requestID))
            switch decision {
            case "approve":
                let code = Self.random("tac_")
                let grant = Code(
                    client_id: pending.client_id, redirect_uri: pending.redirect_uri, redirect_uri_given: pending.redirect_uri_given ?? true,
                    code_challenge: pending.code_challenge, resource: pending.resource,
                    upstream: pending.upstream, user_id: userID, workspace: workspace, scopes: scopes, offline: pending.offline ?? false,
                    token_epoch: pending.token_epoch ?? 0, template_digests: pending.template_digests ?? [:])
                let now = clock.now()
                try await store.putOAuth(
                    OAuthRecord(
                        kind: .code, id: Self.digest(code), family: Self.random("grant_"), clientID: pending.client_id, subject: userID, workspace: workspace,
                        body: Self.encode(grant), createdAt: now, expiresAt: now.addingTimeInterval(Self.codeLifetime)),
                    replace: false)
                logger.info("OAuth authorization approved", metadata: ["client_id": "\(pending.client_id)", "user": "\(userID)", "scope": "\(scopes.joined(separator: " "))"])
                var parameters = [("code", code)]
                if let state = pending.state { parameters.append(("state", state)) }
                parameters.append(("iss", issuer))
                return .redirect(Redirect(uri: pending.redirect_uri, parameters: parameters))
            case "deny":
                logger.info("OAuth authorization denied", metadata: ["client_id": "\(pending.client_id)", "user": "\(userID)"])
                return .redirect(errorRedirect(pending.redirect_uri, .accessDenied("the person denied the request"), state: pending.state))
            default:
                throw PageFailure(status: 400, message: "decision must be approve or deny.")
            }
        }
        guard let username = form.value("username"), let password = form["password"], !password.isEmpty else {
            return .page(step(.signIn, pending, requestID: requestID, templates: [], message: "Enter your username and password."))
        }
        var user: UserRecord
        do {
            user = try await iam.authenticate(username: username, password: password, clientAddress: address)
            // What /login refuses, this refuses too; and approving needs oauth:authorize.
            guard (try? await iam.authenticator.workspaceIsEnabled(user.defaultWorkspace)) == true else {
                return .page(step(.signIn, pending, requestID: requestID, templates: [], username: username, message: "Your workspace is disabled."))
            }
            guard !user.mustChangePassword else {
                return .page(step(.signIn, pending, requestID: requestID, templates: [], username: username, message: "Change your temporary password first (tessera iam login, or the console), then sign in here."))
            }
            guard Identity(user: user, workspace: user.defaultWorkspace, source: .login(jti: "")).may(Capability.oauthAuthorize, in: user.defaultWorkspace) else {
                return .page(step(.signIn, pending, requestID: requestID, templates: [], username: username, message: "Your role does not allow approving applications (oauth:authorize)."))
            }
        } catch .rateLimited(_, let wait) {
            return .page(step(.signIn, pending, requestID: requestID, templates: [], username: username, message: "Too many attempts. Try again in \(wait) s."))
        } catch {
            return .page(step(.signIn, pending, requestID: requestID, templates: [], username: username, message: "Wrong username or password."))
        }
        let resolved: (templates: [MissionTemplate], offline: Bool)
        do {
            resolved = try await resolveScopes(pending.scope, workspace: user.defaultWorkspace, upstream: pending.upstream)
        } catch {
            _ = try? await store.deleteOAuth(.pending, id: Self.digest(requestID))
            return .redirect(errorRedirect(pending.redirect_uri, error, state: pending.state))
        }
        do {
            _ = try MissionTemplate.combine(resolved.templates, agentID: pending.client_id)
        } catch {
            _ = try? await store.deleteOAuth(.pending, id: Self.digest(requestID))
            return .redirect(errorRedirect(pending.redirect_uri, .invalidScope(error.description), state: pending.state))
        }
        pending.user_id = user.id
        pending.workspace = user.defaultWorkspace
        pending.scopes = resolved.templates.map(\.name)
        pending.offline = resolved.offline
        pending.token_epoch = user.tokenEpoch
        pending.template_digests = Self.digests(resolved.templates)
        pending.csrf = Self.random("")
        try await save(pending, id: requestID, replace: true)
        return .page(step(.consent, pending, requestID: requestID, templates: resolved.templates, username: user.username))
    }

    func errorRedirect(_ uri: String, _ failure: OAuthFailure, state: String?) -> Redirect {
        var parameters = [("error", failure.code), ("error_description", failure.description)]
        if let state { parameters.append(("state", state)) }
        parameters.append(("iss", issuer))
        return Redirect(uri: uri, parameters: parameters)
    }

    /// An authorization code's grant (stored under the code's digest, 60 s, single use).
    struct Code: Codable, Sendable {
        var client_id: String
        var redirect_uri: String
        var redirect_uri_given: Bool
        var code_challenge: String
        var resource: String
        var upstream: String
        var user_id: String
        var workspace: String
        var scopes: [String]
        var offline: Bool
        var token_epoch: Int
        /// The templates as the person saw them: one changed since is dropped from the grant.
        var template_digests: [String: String]
    }

    /// A digest of each template's mission as granted.
    static func digests(_ templates: [MissionTemplate]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: templates.map { ($0.name, digest(encode($0.mission) + "|\($0.ttl_s)|" + encode($0.resources))) })
    }
}
