import Foundation

/// Claims of a login JWT. Identity only: no roles, because authorisation is asked, never read
/// from a token.
public struct LoginClaims: JWSClaims, Equatable {
    public static let type = "tessera-login+jwt"

    public var iss: String?
    public var sub: String
    public var workspace: String
    public var iat: Int64?
    public var exp: Int64?
    public var jti: String
    /// The user's token epoch when issued; absent = 0. A password change or a disable moves the
    /// user's epoch on, which refuses every login token issued before.
    public var ep: Int?

    public init(iss: String, sub: String, workspace: String, iat: Int64, exp: Int64, jti: String = UUID().uuidString.lowercased(), epoch: Int = 0) {
        self.ep = epoch
        self.iss = iss
        self.sub = sub
        self.workspace = workspace
        self.iat = iat
        self.exp = exp
        self.jti = jti
    }
}
