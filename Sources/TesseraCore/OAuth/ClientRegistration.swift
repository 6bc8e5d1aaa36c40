import Foundation

/// RFC 7591 client metadata as Tessera accepts it, from a registration request or from a Client
/// ID Metadata Document. Bounded in every field; unknown members are ignored (RFC 7591 §2 asks
/// servers to ignore what they do not understand), but what is read is read strictly.
public struct ClientRegistration: Sendable, Equatable {
    public var redirect_uris: [String]
    public var client_name: String?
    public var client_uri: String?
    public var grant_types: [String]
    public var response_types: [String]
    public var token_endpoint_auth_method: String
    public var scope: String?

    public init(
        redirect_uris: [String], client_name: String?, client_uri: String?, grant_types: [String], response_types: [String],
        token_endpoint_auth_method: String, scope: String?
    ) {
        self.redirect_uris = redirect_uris
        self.client_name = client_name
        self.client_uri = client_uri
        self.grant_types = grant_types
        self.response_types = response_types
        self.token_endpoint_auth_method = token_endpoint_auth_method
        self.scope = scope
    }

    public static let authMethods: Set<String> = ["none", "client_secret_post", "client_secret_basic"]
    public static let grantTypes: Set<String> = ["authorization_code", "refresh_token"]
    public static let maximumNameBytes = 256

    public static func parse(_ object: [String: JSONValue], forMetadataDocument: Bool = false) throws(OAuthFailure) -> ClientRegistration {
        func string(_ name: String, max: Int) throws(OAuthFailure) -> String? {
            guard let value = object[name], value != .null else { return nil }
            guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= max,
                !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else { throw .invalidClientMetadata("\(name) must be a string of 1-\(max) bytes without control characters") }
            return text
        }
        func strings(_ name: String, max: Int) throws(OAuthFailure) -> [String]? {
            guard let value = object[name], value != .null else { return nil }
            guard case .array(let items) = value, items.count <= max else { throw .invalidClientMetadata("\(name) must be an array of at most \(max) strings") }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty, s.utf8.count <= RedirectURI.maximumBytes else {
                    throw .invalidClientMetadata("\(name) must hold non-empty strings")
                }
                if !out.contains(s) { out.append(s) }
            }
            return out
        }
        guard let uris = try strings("redirect_uris", max: RedirectURI.maximumPerClient) else {
            throw .invalidRedirectURI("redirect_uris is required (1-\(RedirectURI.maximumPerClient) URIs)")
        }
        guard !uris.isEmpty else { throw .invalidRedirectURI("redirect_uris needs at least one URI") }
        for uri in uris {
            do { try RedirectURI.check(uri) } catch { if case .invalid(let why) = error { throw .invalidRedirectURI(why) } }
        }
        let method = try string("token_endpoint_auth_method", max: 64) ?? (forMetadataDocument ? "none" : "client_secret_basic")
        guard authMethods.contains(method) else {
            throw .invalidClientMetadata("token_endpoint_auth_method must be one of \(authMethods.sorted().joined(separator: ", "))")
        }
        if forMetadataDocument, method != "none" {
            throw .invalidClientMetadata("a client metadata document client has no secret: token_endpoint_auth_method must be none")
        }
        let grants = try strings("grant_types", max: 4) ?? ["authorization_code", "refresh_token"]
        if let unknown = grants.first(where: { !grantTypes.contains($0) }) {
            throw .invalidClientMetadata("grant_types: \(unknown) is not available to registered clients (authorization_code, refresh_token)")
        }
        guard grants.contains("authorization_code") else { throw .invalidClientMetadata("grant_types must include authorization_code") }
        let responses = try strings("response_types", max: 4) ?? ["code"]
        guard responses == ["code"] else { throw .invalidClientMetadata("response_types must be [\"code\"]") }
        let clientURI = try string("client_uri", max: RedirectURI.maximumBytes)
        if let clientURI, !(clientURI.lowercased().hasPrefix("https://") || clientURI.lowercased().hasPrefix("http://")) {
            throw .invalidClientMetadata("client_uri must be an http(s) URL")
        }
        let scope = try string("scope", max: 1024)
        return ClientRegistration(
            redirect_uris: uris, client_name: try string("client_name", max: maximumNameBytes), client_uri: clientURI,
            grant_types: grants, response_types: responses, token_endpoint_auth_method: method, scope: scope)
    }
}

/// A client as the server stores it: the registration, and a hash of its secret (never the
/// secret itself).
public struct StoredClient: Codable, Sendable, Equatable {
    public var client_id: String
    public var secret_hash: String?
    public var issued_at: Int64
    public var client_name: String?
    public var client_uri: String?
    public var redirect_uris: [String]
    public var grant_types: [String]
    public var response_types: [String]
    public var token_endpoint_auth_method: String
    public var scope: String?
    /// "dcr" (registered here), "cimd" (a metadata document URL, cached), "agent" (a Tessera agent).
    public var kind: String
    public var registered_from: String?

    public init(clientID: String, secretHash: String?, issuedAt: Int64, registration r: ClientRegistration, kind: String, registeredFrom: String?) {
        client_id = clientID
        secret_hash = secretHash
        issued_at = issuedAt
        client_name = r.client_name
        client_uri = r.client_uri
        redirect_uris = r.redirect_uris
        grant_types = r.grant_types
        response_types = r.response_types
        token_endpoint_auth_method = r.token_endpoint_auth_method
        scope = r.scope
        self.kind = kind
        registered_from = registeredFrom
    }

    public func wire(secret: String? = nil) -> OAuthWire.Client {
        OAuthWire.Client(
            client_id: client_id, client_secret: secret, client_id_issued_at: issued_at, client_name: client_name, client_uri: client_uri,
            redirect_uris: redirect_uris, grant_types: grant_types, response_types: response_types,
            token_endpoint_auth_method: token_endpoint_auth_method, scope: scope)
    }
}
