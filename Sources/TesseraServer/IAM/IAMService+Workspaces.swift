import Foundation
import TesseraCore
import TesseraStore

/// Workspace management: system-level, `workspaces:admin`.
extension IAMService {
    func createWorkspace(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        try require(identity, Capability.workspacesAdmin, in: nil)
        guard let input = request.workspace_record else { throw IAMError.invalid("missing field workspace_record") }
        guard let id = input.id, Self.validWorkspaceID(id) else {
            throw IAMError.invalid("invalid field workspace_record.id: 1-64 of a-z 0-9 . _ -, not starting with _")
        }
        let workspace = WorkspaceRecord(id: id, name: input.name ?? id, enabled: input.enabled ?? true, created: clock.now())
        do {
            try await store.createWorkspace(workspace)
        } catch {
            if case .conflict = error { throw IAMError.conflict("workspace \(id) already exists") }
            throw error
        }
        await audit(identity, "create-workspace", target: id)
        var response = IAMResponse()
        response.workspace = .init(workspace)
        return response
    }

    func listWorkspaces(_ identity: Identity) async throws -> IAMResponse {
        try require(identity, Capability.workspacesAdmin, in: nil)
        var response = IAMResponse()
        response.workspaces = try await store.listWorkspaces().map(IAMResponse.Workspace.init)
        return response
    }

    /// The workspaces where the caller holds some role: any authenticated caller may ask.
    func listMyWorkspaces(_ identity: Identity) async throws -> IAMResponse {
        let granted = identity.grantedWorkspaces
        let all = try await store.listWorkspaces()
        var response = IAMResponse()
        response.workspaces = all.filter { granted.contains("*") || granted.contains($0.id) || $0.id == identity.defaultWorkspace }
            .map(IAMResponse.Workspace.init)
        return response
    }

    func workspaceID(_ request: IAMRequest) throws -> String {
        if let id = request.workspace_record?.id, !id.isEmpty { return id }
        if let id = request.workspace, !id.isEmpty { return id }
        throw IAMError.invalid("missing field workspace_record.id")
    }

    func getWorkspace(_ request: IAMRequest, _ identity: Identity) async throws -> IAMResponse {
        let id = try workspaceID(request)
        let member = identity.grantedWorkspaces.contains(id) || identity.defaultWorkspace == id
        guard member || identity.may(Capability.workspacesAdmin, in: nil) else { throw IAMError.accessDenied }
        guard let workspace = try await store.workspace(id: id) else { throw IAMError.notFound("workspace not found") }
        var response = IAMResponse()
        response.workspace = .init(workspace)
        return response
    }

    func updateWorkspace(_ request: IAMRequest, _ identity: Identity, enabled forced: Bool?) async throws -> IAMResponse {
        try require(identity, Capability.workspacesAdmin, in: nil)
        let id = try workspaceID(request)
        guard var workspace = try await store.workspace(id: id) else { throw IAMError.notFound("workspace not found") }
        if let name = request.workspace_record?.name { workspace.name = name }
        if let enabled = forced ?? request.workspace_record?.enabled { workspace.enabled = enabled }
        if !workspace.enabled, id == identity.defaultWorkspace, identity.may(Capability.workspacesAdmin, in: nil) {
            // An admin disabling their own home workspace would lock every admin key out.
            let admins = try await store.listUsers(workspace: nil).filter {
                $0.enabled && $0.roles.contains("admin") && $0.defaultWorkspace != id
            }
            guard !admins.isEmpty else {
                throw IAMError.notPermitted("disabling this workspace would lock out every admin")
            }
        }
        try await store.updateWorkspace(workspace)
        authenticator.invalidate(workspaceID: id)
        await audit(identity, forced == false ? "disable-workspace" : "update-workspace", target: id)
        var response = IAMResponse()
        response.workspace = .init(workspace)
        return response
    }
}
