import Foundation
import Hummingbird
import TesseraCore

/// `POST /api/v1/iam` (every IAM operation, capability per operation) and the public auth
/// endpoints under `/api/v1/auth/`.
struct IAMController {
    let iam: IAMService

    func register(on routes: SecuredRouter) throws {
        try routes.on("/api/v1/iam", method: .post, access: .authenticated, use: operation)
        try routes.on("/api/v1/auth/bootstrap", method: .post, access: .anonymous, use: bootstrap)
        try routes.on("/api/v1/auth/bootstrap-status", method: .post, access: .anonymous, use: bootstrapStatus)
        try routes.on("/api/v1/auth/login", method: .post, access: .anonymous, use: login)
        try routes.on("/api/v1/auth/change-password", method: .post, access: .authenticated, use: changePassword)
    }

    /// `/api/v1/iam`: one IAM operation, authorised per operation by the service.
    @Sendable func operation(_ request: Request, context: TesseraRequestContext) async throws -> IAMResponse {
        var request = request
        let body = try await request.decodeJSON(as: IAMRequest.self, context: context)
        return try await iam.handle(body, identity: try context.authenticatedIdentity())
    }

    @Sendable func bootstrap(_ request: Request, context: TesseraRequestContext) async throws -> IAMResponse {
        var request = request
        _ = try await request.decodeJSON(as: Empty.self, context: context)
        return try await iam.bootstrap()
    }

    @Sendable func bootstrapStatus(_ request: Request, context: TesseraRequestContext) async throws -> IAMResponse {
        var request = request
        _ = try await request.decodeJSON(as: Empty.self, context: context)
        var response = IAMResponse()
        response.bootstrap_available = try await iam.bootstrapAvailable()
        return response
    }

    @Sendable func login(_ request: Request, context: TesseraRequestContext) async throws -> IAMResponse {
        var request = request
        let body = try await request.decodeJSON(as: LoginBody.self, context: context)
        guard body.username.utf8.count <= 256, body.password.utf8.count <= PasswordPolicy.maximumLength else {
            throw APIError.authFailed
        }
        let result = try await iam.login(
            username: body.username, password: body.password, workspace: body.workspace, clientAddress: context.remoteAddress)
        var response = IAMResponse()
        response.jwt = result.jwt
        response.jwt_expires = WireTime.format(result.expires)
        return response
    }

    @Sendable func changePassword(_ request: Request, context: TesseraRequestContext) async throws -> IAMResponse {
        var request = request
        let body = try await request.decodeJSON(as: ChangePasswordBody.self, context: context)
        let identity = try context.authenticatedIdentity()
        do {
            return try await iam.changePassword(
                current: body.current_password, new: body.new_password, identity, clientAddress: context.remoteAddress)
        } catch let error as IAMError {
            throw error
        } catch {
            throw IAMError.unavailable
        }
    }

    /// An empty JSON object. Decoded through a keyed container: the synthesized init of a struct
    /// without members asks for none, so `[null]` or `7` were accepted (schemathesis ST201).
    struct Empty: Decodable {
        init(from decoder: any Decoder) throws {
            _ = try decoder.container(keyedBy: AnyKey.self)
        }
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    typealias LoginBody = AuthWire.LoginRequest
    typealias ChangePasswordBody = AuthWire.ChangePasswordRequest
}
