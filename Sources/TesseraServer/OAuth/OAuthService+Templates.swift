import Foundation
import TesseraCore
import TesseraStore

/// Mission templates: the scopes an operator offers.
extension OAuthService {
    public func createTemplate(_ object: [String: JSONValue], by identity: Identity) async throws -> MissionTemplate {
        guard identity.may(Capability.oauthWrite, in: identity.workspace) else { throw GovernanceError.forbidden("access_denied") }
        let parsed = Result { () throws(MissionError) -> MissionTemplate in try MissionTemplate.parse(object, workspace: identity.workspace) }
        guard case .success(var template) = parsed else {
            if case .failure(let error) = parsed { throw GovernanceError.invalid(error.description) }
            throw GovernanceError.invalid("template")
        }
        if let unknown = template.resources?.first(where: { !upstreams.contains($0) }) {
            throw GovernanceError.invalid("resources: \(unknown) is not a gateway upstream of this server (--mcp-upstream)")
        }
        template.created_at = WireTime.format(clock.now())
        let record = OAuthRecord(
            kind: .template, id: template.name, workspace: identity.workspace, body: Self.encode(template), createdAt: clock.now(), expiresAt: nil)
        switch await insert(record) {
        case nil: break
        case .conflict?: throw GovernanceError.conflict("a mission template named \(template.name) exists")
        case let other?: throw other
        }
        logger.notice("mission template created", metadata: ["name": "\(template.name)", "by": "\(identity.userID)"])
        return template
    }

    /// Inserts a record; the store's failure as a value (a typed `catch` pattern in an untyped
    /// throwing function crashes this compiler's SIL verifier).
    func insert(_ record: OAuthRecord) async -> StoreError? {
        do throws(StoreError) {
            try await store.putOAuth(record, replace: false)
            return nil
        } catch {
            return error
        }
    }

    public func templates(by identity: Identity) async throws -> [MissionTemplate] {
        guard identity.may(Capability.oauthRead, in: identity.workspace) else { throw GovernanceError.forbidden("access_denied") }
        return try await templates(workspace: identity.workspace)
    }

    public func template(_ name: String, by identity: Identity) async throws -> MissionTemplate {
        guard let template = try await template(named: name), identity.may(Capability.oauthRead, in: template.workspace) else {
            throw GovernanceError.notFound("no mission template named \(name)")
        }
        return template
    }

    public func deleteTemplate(_ name: String, by identity: Identity) async throws {
        guard let template = try await template(named: name), identity.may(Capability.oauthWrite, in: template.workspace) else {
            throw GovernanceError.notFound("no mission template named \(name)")
        }
        try await store.deleteOAuth(.template, id: name)
        logger.notice("mission template deleted", metadata: ["name": "\(name)", "by": "\(identity.userID)"])
    }

    func template(named name: String) async throws -> MissionTemplate? {
        guard MissionTemplate.isValidName(name), let record = try await store.oauthRecord(.template, id: name, now: clock.now()) else { return nil }
        return try Self.decode(MissionTemplate.self, record.body)
    }

    func templates(workspace: String?) async throws -> [MissionTemplate] {
        try await store.oauthRecords(.template, workspace: workspace, subject: nil, family: nil, now: clock.now(), limit: 10_000)
            .compactMap { try? Self.decode(MissionTemplate.self, $0.body) }
            .sorted { $0.name < $1.name }
    }

    func allTemplates() async throws -> [MissionTemplate] { try await templates(workspace: nil) }

    /// Template names offered on a gateway upstream (the resource metadata's `scopes_supported`).
    public func scopes(offeredOn upstream: String) async throws -> [String] {
        try await allTemplates().filter { $0.isOffered(on: upstream) }.map(\.name)
    }

    /// Step-up: the scopes that, added to `granted`, would let this call through on `upstream`
    /// (templates of the passport's workspace, offered there, whose mission alone permits it).
    /// Nil when no template would.
    public func stepUpScopes(for claims: PassportClaims, upstream: String, tool: String, arguments: [String: JSONValue]) async -> [String]? {
        guard let granted = claims.scope?.split(separator: " ").map(String.init),
            let candidates = try? await templates(workspace: claims.workspace)
        else { return nil }
        var needed: [String] = []
        for template in candidates where !granted.contains(template.name) && template.isOffered(on: upstream) {
            let passport = PassportClaims(mission: template.mission, issuer: "", workspace: claims.workspace, issuedAt: 0, ttl: 1)
            if Evaluator(passport: passport).decide(tool: tool, arguments: arguments).verdict != .deny { needed.append(template.name) }
        }
        guard !needed.isEmpty else { return nil }
        return granted + needed
    }

    /// The templates named by a scope string for a workspace and upstream. Unknown names,
    /// templates of another workspace or not offered there are `invalid_scope`; no scope at all
    /// means every template offered (which the person then sees on the consent page).
    func resolveScopes(_ scope: String?, workspace: String, upstream: String, agent: String? = nil) async throws(OAuthFailure) -> (templates: [MissionTemplate], offline: Bool) {
        let offered: [MissionTemplate]
        do {
            offered = try await templates(workspace: workspace).filter { $0.isOffered(on: upstream) && (agent.map($0.grantable(toAgent:)) ?? true) }
        } catch {
            throw storeFailure(error)
        }
        let names = (scope ?? "").split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let offline = names.contains(OAuthWire.offlineAccess)
        let wanted = names.filter { $0 != OAuthWire.offlineAccess }
        guard wanted.count <= 64 else { throw .invalidScope("at most 64 scopes per request") }
        if wanted.isEmpty {
            guard !offered.isEmpty else { throw .invalidScope("no mission template is offered to this client on \(upstream)") }
            return (offered, offline)
        }
        var out: [MissionTemplate] = []
        for name in wanted {
            guard let template = offered.first(where: { $0.name == name }) else {
                // A person's request may name scopes of other workspaces (clients ask for every
                // `scopes_supported`): the grant is narrower than asked (RFC 6749 §3.3) and the
                // consent page shows exactly what is granted. An agent asks precisely.
                if agent == nil { continue }
                throw .invalidScope("scope \(name) is not a mission template offered to this agent on \(upstream)")
            }
            if !out.contains(template) { out.append(template) }
        }
        guard !out.isEmpty else { throw .invalidScope("none of the requested scopes is offered in your workspace on \(upstream)") }
        return (out, offline)
    }
}
