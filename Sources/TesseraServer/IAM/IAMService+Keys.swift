import Foundation
import TesseraCore
import TesseraStore

/// API keys and signing keys.
extension IAMService {
    /// Own keys need `keys:self` in the caller's home workspace; anyone else's need `keys:admin`.
    func requireKeyAccess(_ identity: Identity, owner: String) throws(IAMError) {
        if owner == identity.userID, identity.may(Capability.keysSelf, in: identity.defaultWorkspace) { return }
        try require(identity, Capability.keysAdmin, in: nil)
    }

    func createAPIKey(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        guard let input = request.key else { throw IAMError.invalid("missing field key") }
        let owner = (input.user_id?.isEmpty == false) ? input.user_id! : identity.userID
        try requireKeyAccess(identity, owner: owner)
        guard let name = input.name, (1...128).contains(name.count) else {
            throw IAMError.invalid("invalid field key.name: 1-128 characters")
        }
        var expires: Date?
        if let text = input.expires, !text.isEmpty {
            guard let date = WireTime.parse(text) else { throw IAMError.invalid("invalid field key.expires: ISO-8601 expected") }
            guard date > clock.now() else { throw IAMError.invalid("invalid field key.expires: in the past") }
            expires = date
        }
        guard let user = try await store.user(id: owner) else { throw IAMError.notFound("user not found") }
        if let workspace = request.workspace, !workspace.isEmpty, workspace != user.defaultWorkspace {
            throw IAMError.notFound("user not found")
        }
        let issued = APIKeyCodec.generate()
        let key = APIKeyRecord(
            id: newID(), userID: owner, name: name, prefix: issued.prefix, hash: issued.hash, expires: expires,
            created: clock.now())
        try await store.createAPIKey(key)
        await audit(identity, "create-api-key", target: key.id, detail: "user \(owner)")
        var response = IAMResponse()
        response.api_key_plaintext = issued.plaintext
        response.api_key = .init(key)
        return response
    }

    func listAPIKeys(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        let owner = (request.user_id?.isEmpty == false) ? request.user_id! : identity.userID
        try requireKeyAccess(identity, owner: owner)
        await authenticator.flushUsage()
        var response = IAMResponse()
        response.api_keys = try await store.listAPIKeys(userID: owner).map(IAMResponse.APIKey.init)
        return response
    }

    func revokeAPIKey(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        guard let id = request.key_id, !id.isEmpty else { throw IAMError.invalid("missing field key_id") }
        guard let key = try await store.apiKey(id: id), !key.revoked else { throw IAMError.notFound("api key not found") }
        do {
            try requireKeyAccess(identity, owner: key.userID)
        } catch {
            // Someone else's key without keys:admin: indistinguishable from an unknown id.
            throw IAMError.notFound("api key not found")
        }
        try await store.revokeAPIKey(id: id)
        authenticator.invalidate(keyID: id)
        await audit(identity, "revoke-api-key", target: id)
        return IAMResponse()
    }

    /// `iam:admin`: what an API key resolves to, without using it.
    func resolveAPIKey(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        try require(identity, Capability.iamAdmin, in: nil)
        guard let plaintext = request.api_key, !plaintext.isEmpty else { throw IAMError.invalid("missing field api_key") }
        guard let resolved = try await store.resolveAPIKey(hash: APIKeyCodec.hash(plaintext)), !resolved.key.revoked,
            resolved.user.enabled, (resolved.key.expires.map { $0 > clock.now() } ?? true)
        else { throw IAMError.authFailed }
        var response = IAMResponse()
        response.resolved_user_id = resolved.user.id
        response.resolved_default_workspace = resolved.user.defaultWorkspace
        response.resolved_workspace = resolved.user.defaultWorkspace
        response.resolved_roles = resolved.user.roles
        return response
    }

    /// The active signing key as PEM (SPKI), the shape TrustGraph's gateway fetches.
    func signingKeyPublic() async throws -> IAMResponse {
        let pair = keys.signer.keyPair
        var response = IAMResponse()
        response.signing_key_public = pair.privateKey.publicKey.pemRepresentation
        return response
    }

    func rotateSigningKey(_ identity: Identity) async throws -> IAMResponse {
        try require(identity, Capability.iamAdmin, in: nil)
        let record = try await keys.rotate()
        await audit(identity, "rotate-signing-key", target: record.kid)
        var response = IAMResponse()
        response.signing_key_public = try record.keyPair().privateKey.publicKey.pemRepresentation
        return response
    }

    func listAudit(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        try require(identity, Capability.auditRead, in: nil)
        var response = IAMResponse()
        response.audit = try await store.listAudit(limit: min(max(request.limit ?? 100, 1), 1000)).map {
            IAMResponse.Audit(
                id: $0.id, at: WireTime.format($0.at), actor: $0.actor, action: $0.action, target: $0.target,
                outcome: $0.outcome, detail: $0.detail)
        }
        return response
    }
}
