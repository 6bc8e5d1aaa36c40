import Foundation

/// The OAuth bodies of Tessera's authorization server, shared by the server, the SDK and the CLI.
public enum OAuthWire {
    public static let tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
    public static let jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    public static let jwtTokenType = "urn:ietf:params:oauth:token-type:jwt"
    public static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    public static let offlineAccess = "offline_access"

    /// RFC 8414 authorization server metadata: exactly what is supported.
    public struct ServerMetadata: Codable, Sendable, Equatable {
        public var issuer: String
        public var authorization_endpoint: String
        public var token_endpoint: String
        public var registration_endpoint: String
        public var revocation_endpoint: String
        public var introspection_endpoint: String
        public var scopes_supported: [String]
        public var response_types_supported = ["code"]
        public var response_modes_supported = ["query"]
        public var grant_types_supported = ["authorization_code", "refresh_token", "client_credentials", OAuthWire.tokenExchangeGrant]
        public var code_challenge_methods_supported = ["S256"]
        public var token_endpoint_auth_methods_supported = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
        /// Agents' registered keys are Ed25519.
        public var token_endpoint_auth_signing_alg_values_supported = ["EdDSA"]
        public var revocation_endpoint_auth_methods_supported = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
        public var revocation_endpoint_auth_signing_alg_values_supported = ["EdDSA"]
        public var introspection_endpoint_auth_methods_supported = ["bearer"]
        public var authorization_response_iss_parameter_supported = true
        public var client_id_metadata_document_supported = true
        public var dpop_signing_alg_values_supported = ["EdDSA"]
        public var service_documentation = "https://github.com/tessera/tessera/blob/main/docs/oauth.md"

        public init(issuer: String, scopes: [String]) {
            self.issuer = issuer
            authorization_endpoint = issuer + "/oauth/authorize"
            token_endpoint = issuer + "/oauth/token"
            registration_endpoint = issuer + "/oauth/register"
            revocation_endpoint = issuer + "/oauth/revoke"
            introspection_endpoint = issuer + "/oauth/introspect"
            scopes_supported = scopes + [OAuthWire.offlineAccess]
        }
    }

    /// RFC 6749 §5.1 (+ RFC 8693 §2.2.1 `issued_token_type`).
    public struct TokenResponse: Codable, Sendable, Equatable {
        public var access_token: String
        public var token_type: String
        public var expires_in: Int
        public var scope: String
        public var refresh_token: String?
        public var issued_token_type: String?
        public init(access_token: String, token_type: String, expires_in: Int, scope: String, refresh_token: String? = nil, issued_token_type: String? = nil) {
            self.access_token = access_token
            self.token_type = token_type
            self.expires_in = expires_in
            self.scope = scope
            self.refresh_token = refresh_token
            self.issued_token_type = issued_token_type
        }
    }

    /// RFC 6749 §5.2.
    public struct ErrorBody: Codable, Sendable, Equatable {
        public var error: String
        public var error_description: String?
        public init(error: String, error_description: String?) {
            self.error = error
            self.error_description = error_description
        }
    }

    /// A registered client (RFC 7591 §3.2.1's response; also the admin listing).
    public struct Client: Codable, Sendable, Equatable {
        public var client_id: String
        public var client_secret: String?
        public var client_id_issued_at: Int64
        public var client_secret_expires_at: Int64?
        public var client_name: String?
        public var client_uri: String?
        public var redirect_uris: [String]
        public var grant_types: [String]
        public var response_types: [String]
        public var token_endpoint_auth_method: String
        public var scope: String?
        public init(
            client_id: String, client_secret: String?, client_id_issued_at: Int64, client_name: String?, client_uri: String?,
            redirect_uris: [String], grant_types: [String], response_types: [String], token_endpoint_auth_method: String, scope: String?
        ) {
            self.client_id = client_id
            self.client_secret = client_secret
            self.client_id_issued_at = client_id_issued_at
            self.client_secret_expires_at = client_secret == nil ? nil : 0
            self.client_name = client_name
            self.client_uri = client_uri
            self.redirect_uris = redirect_uris
            self.grant_types = grant_types
            self.response_types = response_types
            self.token_endpoint_auth_method = token_endpoint_auth_method
            self.scope = scope
        }
    }

    public struct ClientList: Codable, Sendable, Equatable {
        public var clients: [Client]
        public init(clients: [Client]) { self.clients = clients }
    }

    /// RFC 7662 §2.2.
    public struct Introspection: Codable, Sendable, Equatable {
        public struct Confirmation: Codable, Sendable, Equatable {
            public var jkt: String
        }
        public var active: Bool
        public var scope: String?
        public var client_id: String?
        public var sub: String?
        public var exp: Int64?
        public var iat: Int64?
        public var nbf: Int64?
        public var aud: [String]?
        public var iss: String?
        public var jti: String?
        public var token_type: String?
        public var cnf: Confirmation?
        public var workspace: String?
        public static let inactive = Introspection(active: false)
        public init(active: Bool) { self.active = active }
        public init(claims: PassportClaims) {
            active = true
            scope = claims.scope
            client_id = claims.client_id
            sub = claims.sub
            exp = claims.exp
            iat = claims.iat
            nbf = claims.nbf
            aud = claims.aud?.values
            iss = claims.iss
            jti = claims.jti
            token_type = claims.cnf == nil ? "Bearer" : "DPoP"
            cnf = claims.cnf.map { Confirmation(jkt: $0.jkt) }
            workspace = claims.workspace
        }
    }

    /// One consent: a refresh-token family, what it grants, to whom.
    public struct Grant: Codable, Sendable, Equatable {
        public var id: String
        public var client_id: String
        public var client_name: String?
        public var subject: String
        public var workspace: String
        public var scope: String
        public var resource: String
        public var created_at: String
        public var expires_at: String
        public init(id: String, client_id: String, client_name: String?, subject: String, workspace: String, scope: String, resource: String, created_at: String, expires_at: String) {
            self.id = id
            self.client_id = client_id
            self.client_name = client_name
            self.subject = subject
            self.workspace = workspace
            self.scope = scope
            self.resource = resource
            self.created_at = created_at
            self.expires_at = expires_at
        }
    }

    public struct GrantList: Codable, Sendable, Equatable {
        public var grants: [Grant]
        public init(grants: [Grant]) { self.grants = grants }
    }

    public struct TemplateList: Codable, Sendable, Equatable {
        public var templates: [MissionTemplate]
        public init(templates: [MissionTemplate]) { self.templates = templates }
    }
}
