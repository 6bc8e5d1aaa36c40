import Crypto
import Foundation
import Logging
import TesseraCore
import TesseraStore

/// Tessera as the OAuth 2.1 authorization server of its own MCP gateway: mission templates are
/// the scopes, every token is a governed passport (see docs/oauth.md). Independent of HTTP:
/// failures are ``OAuthFailure``s (or a ``OAuthService/PageFailure`` where no redirect is safe),
/// whose HTTP form ``OAuthController`` decides.
public struct OAuthService: Sendable {
    let store: any OAuthStore & AgentStore & ProofReplayStore & GovernanceStore & IdentityStore
    let governance: GovernanceService
    let iam: IAMService
    let badges: BadgeService
    let origin: RegistryOrigin
    /// The gateway's upstream names: the resources tokens may be issued for.
    let upstreams: Set<String>
    let clock: any TesseraClock
    let logger: Logger
    let metadataDocuments: ClientMetadataFetcher
    /// Dynamic registrations per client address per hour.
    let registrations = RequesterLimiter(limit: 20, window: 3600)
    /// Authorization requests (each stores a pending sign-in) per client address per minute.
    let authorizations = RequesterLimiter(limit: 120, window: 60)

    public static let codeLifetime: TimeInterval = 60
    public static let pendingLifetime: TimeInterval = 600
    public static let refreshLifetime: TimeInterval = 30 * 86_400
    public static let cookieName = "tessera_oauth"

    /// The browser-binding cookie of one authorization request: named after the request, so two
    /// authorizations in one browser at once (a host connecting to several upstreams) do not
    /// overwrite each other's binding.
    public static func cookieName(for requestID: String) -> String { cookieName + "_" + String(digest(requestID).prefix(12)) }

    public init(
        store: any OAuthStore & AgentStore & ProofReplayStore & GovernanceStore & IdentityStore, governance: GovernanceService, iam: IAMService, badges: BadgeService, origin: RegistryOrigin,
        upstreams: [String], clock: any TesseraClock, logger: Logger, cimdAllowOrigins: [String] = []
    ) {
        self.store = store
        self.governance = governance
        self.iam = iam
        self.badges = badges
        self.origin = origin
        self.upstreams = Set(upstreams)
        self.clock = clock
        self.logger = logger
        self.metadataDocuments = ClientMetadataFetcher(allowOrigins: cimdAllowOrigins.compactMap { MissionFetcher.Origin($0, allowingAnyHTTP: true) })
    }

    var issuer: String { origin.current }
    var tokenEndpoint: String { issuer + "/oauth/token" }

    /// The gateway upstream a resource URI names (`ISSUER/mcp/NAME`), nil for anything else.
    func upstream(of resource: String) -> String? {
        let prefix = issuer + "/mcp/"
        guard resource.hasPrefix(prefix) else { return nil }
        let name = String(resource.dropFirst(prefix.count))
        return upstreams.contains(name) ? name : nil
    }

    public func metadata() async throws -> OAuthWire.ServerMetadata {
        let names = try await allTemplates().map(\.name)
        return OAuthWire.ServerMetadata(issuer: issuer, scopes: Array(Set(names)).sorted())
    }

    // MARK: secrets

    static func random(_ prefix: String) -> String {
        prefix + Base64URL.random(byteCount: 32)
    }

    /// What is stored for a secret (code, refresh token, client secret, pending request id).
    static func digest(_ secret: String) -> String { Base64URL.encode(SHA256.hash(data: Array(secret.utf8))) }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: String) throws -> T {
        try StrictJSON.decode(type, from: Array(body.utf8))
    }

    func storeFailure(_ error: any Error) -> OAuthFailure {
        logger.error("OAuth store unavailable", metadata: ["error": "\(error)"])
        return .temporarilyUnavailable("the authorization server's store is unavailable; try again")
    }
}
