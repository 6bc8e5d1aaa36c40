import Foundation
import TesseraCore
import TesseraStore

/// The `authorise` contract: may this identity use this capability on this resource?
extension IAMService {
    /// One check as sent in `authorise_checks`.
    struct Check: Decodable {
        var capability: String
        /// Members are strings in practice; anything else is accepted and ignored.
        var resource: [String: JSONValue]?
        var parameters: [String: JSONValue]?
    }

    /// One answer in `decisions_json`.
    struct Decision: Encodable {
        var allow: Bool
        var ttl: Int
    }

    /// The identity a decision is about: the caller, or (with `iam:admin`) the user named by `user_id`.
    func subject(_ request: IAMRequest, _ identity: Identity) async throws -> Identity {
        guard let id = request.user_id, !id.isEmpty, id != identity.userID else { return identity }
        try require(identity, Capability.iamAdmin, in: nil)
        guard let user = try await store.user(id: id) else { throw IAMError.notFound("user not found") }
        return Identity(user: user, workspace: user.defaultWorkspace, source: identity.source)
    }

    /// Any error in evaluating a check is a denial.
    func decide(_ subject: Identity, capability: String, resource: [String: JSONValue]?) async -> Bool {
        let workspace: String? = if case .string(let named)? = resource?["workspace"] { named } else { nil }
        if let workspace, (try? await authenticator.workspaceIsEnabled(workspace)) != true { return false }
        return subject.may(capability, in: workspace)
    }

    func authorise(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        guard let capability = request.capability, !capability.isEmpty else { throw IAMError.invalid("missing field capability") }
        let subject = try await subject(request, identity)
        var resource: [String: JSONValue]?
        if let json = request.resource_json, !json.isEmpty {
            guard json.utf8.count <= 64 * 1024, let parsed = try? StrictJSON.object(Array(json.utf8)) else {
                throw IAMError.invalid("invalid field resource_json: a JSON object expected")
            }
            resource = parsed
        }
        var response = IAMResponse()
        response.decision_allow = await decide(subject, capability: capability, resource: resource)
        response.decision_ttl_seconds = Int(settings.cacheTTL)
        return response
    }

    func authoriseMany(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        guard let json = request.authorise_checks, !json.isEmpty else { throw IAMError.invalid("missing field authorise_checks") }
        guard json.utf8.count <= 256 * 1024, let checks = try? StrictJSON.decode([Check].self, from: Data(json.utf8)) else {
            throw IAMError.invalid("invalid field authorise_checks: a JSON array of {capability, resource, parameters} expected")
        }
        guard checks.count <= 256 else { throw IAMError.invalid("invalid field authorise_checks: at most 256 checks") }
        let subject = try await subject(request, identity)
        var decisions: [Decision] = []
        for check in checks {
            decisions.append(Decision(allow: await decide(subject, capability: check.capability, resource: check.resource), ttl: Int(settings.cacheTTL)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var response = IAMResponse()
        response.decisions_json = String(decoding: try encoder.encode(decisions), as: UTF8.self)
        return response
    }
}
