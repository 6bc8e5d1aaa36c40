import Foundation
import NIOHTTP1
import TesseraCore

/// The IAM surface: the TrustGraph-compatible `/api/v1/iam` and `/api/v1/auth/*`.
extension TesseraHTTPClient {
    public func iam(_ request: IAMRequest) async throws(ClientError) -> IAMResponse {
        try await send(.POST, "/api/v1/iam", body: request, as: IAMResponse.self)
    }

    public func bootstrap() async throws(ClientError) -> IAMResponse {
        try await send(.POST, "/api/v1/auth/bootstrap", body: [String: String](), as: IAMResponse.self)
    }

    public func login(username: String, password: String, workspace: String? = nil) async throws(ClientError) -> IAMResponse {
        try await send(
            .POST, "/api/v1/auth/login", body: AuthWire.LoginRequest(username: username, password: password, workspace: workspace), as: IAMResponse.self)
    }

    public func changePassword(current: String, new: String) async throws(ClientError) {
        _ = try await send(
            .POST, "/api/v1/auth/change-password", body: AuthWire.ChangePasswordRequest(current_password: current, new_password: new),
            as: IAMResponse.self)
    }
}
