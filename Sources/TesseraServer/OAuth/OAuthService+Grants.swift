import Foundation
import TesseraCore
import TesseraStore

/// Revocation (RFC 7009), introspection (RFC 7662), and the grants a person or an operator sees.
extension OAuthService {
    /// Revokes a refresh token (its whole grant) or an access token (its passport lineage) of
    /// the authenticated client. An unknown token, or another client's, changes nothing and is
    /// answered like success (RFC 7009 §2.2).
    public func revoke(_ form: FormBody, authorization: String?) async throws(OAuthFailure) {
        let client = try await authenticateClient(form, authorization: authorization)
        guard let token = form.value("token") else { throw .invalidRequest("token is required") }
        guard token.utf8.count <= 16 * 1024 else { return }
        do {
            if let record = try await store.oauthRecord(.refresh, id: Self.digest(token), now: clock.now()) {
                if record.clientID == client.client.client_id { try await endGrant(record.family) }
                return
            }
            if let claims = try? await governance.verify(token), claims.client_id == client.client.client_id {
                try await governance.revokeGranted(jti: claims.jti)
            }
        } catch {
            throw storeFailure(error)
        }
    }

    /// RFC 7662 for a resource server holding `tokens:introspect` in the token's workspace; any
    /// other token is simply inactive.
    public func introspect(_ form: FormBody, by identity: Identity) async throws(OAuthFailure) -> OAuthWire.Introspection {
        guard let token = form.value("token") else { throw .invalidRequest("token is required") }
        guard token.utf8.count <= 16 * 1024 else { return .inactive }
        if token.hasPrefix("trt_") {
            guard let record = try? await store.oauthRecord(.refresh, id: Self.digest(token), now: clock.now()), !record.used,
                identity.may(Capability.tokensIntrospect, in: record.workspace), let grant = try? Self.decode(Refresh.self, record.body)
            else { return .inactive }
            var answer = OAuthWire.Introspection(active: true)
            answer.scope = grant.scopes.joined(separator: " ")
            answer.client_id = grant.client_id
            answer.sub = grant.user_id
            answer.exp = record.expiresAt?.unixSeconds
            answer.iss = issuer
            answer.aud = [grant.resource]
            answer.workspace = grant.workspace
            return answer
        }
        guard let claims = try? await governance.verify(token), identity.may(Capability.tokensIntrospect, in: claims.workspace),
            (claims.exp ?? 0) > clock.now().unixSeconds
        else { return .inactive }
        return OAuthWire.Introspection(claims: claims)
    }

    /// The caller's own grants; with `oauth:read` in the workspace, every grant of it.
    public func grants(by identity: Identity) async throws -> [OAuthWire.Grant] {
        let everyone = identity.may(Capability.oauthRead, in: identity.workspace)
        let records = try await store.oauthRecords(
            .refresh, workspace: identity.workspace, subject: everyone ? nil : identity.userID, family: nil, now: clock.now(), limit: 10_000)
        var seen = Set<String>()
        var out: [OAuthWire.Grant] = []
        for record in records where !record.used && seen.insert(record.family).inserted {
            guard let grant = try? Self.decode(Refresh.self, record.body) else { continue }
            let name = (try? await store.oauthRecord(.client, id: grant.client_id, now: clock.now())).flatMap { $0 }
                .flatMap { try? Self.decode(StoredClient.self, $0.body).client_name }
            out.append(OAuthWire.Grant(
                id: record.family, client_id: grant.client_id, client_name: name, subject: grant.user_id, workspace: grant.workspace,
                scope: grant.scopes.joined(separator: " "), resource: grant.resource,
                created_at: WireTime.format(Date(timeIntervalSince1970: grant.family_created)),
                expires_at: WireTime.format(Date(timeIntervalSince1970: grant.family_expires))))
        }
        return out
    }

    /// Revokes a grant: the person it belongs to, or a holder of `oauth:write` in its workspace.
    public func revokeGrant(_ id: String, by identity: Identity) async throws {
        guard id.hasPrefix("grant_"), id.utf8.count <= 128,
            let record = try await store.oauthRecords(.refresh, workspace: nil, subject: nil, family: id, now: clock.now(), limit: 1).first,
            record.subject == identity.userID || identity.may(Capability.oauthWrite, in: record.workspace)
        else { throw GovernanceError.notFound("no OAuth grant \(id)") }
        try await endGrant(id)
        logger.notice("OAuth grant revoked", metadata: ["grant": "\(id)", "by": "\(identity.userID)"])
    }
}
