/// The bodies of `/api/v1/auth/*` (TrustGraph's shapes), shared by the server and the SDK.
public enum AuthWire {
    /// `POST /api/v1/auth/login`.
    public struct LoginRequest: Codable, Sendable {
        public var username: String
        public var password: String
        public var workspace: String?
        public init(username: String, password: String, workspace: String? = nil) {
            self.username = username
            self.password = password
            self.workspace = workspace
        }
    }

    /// `POST /api/v1/auth/change-password`.
    public struct ChangePasswordRequest: Codable, Sendable {
        public var current_password: String?
        public var new_password: String?
        public init(current_password: String? = nil, new_password: String? = nil) {
            self.current_password = current_password
            self.new_password = new_password
        }
    }
}
