import Foundation
import TesseraCore

/// What this server trusts for AAT sessions, read once at start-up from the configuration:
/// AAT roots, mission-declaration issuers, the origins declarations may be fetched from, and
/// whether a client may opt out of proof of possession.
public struct AATPolicy: Sendable {
    public var anchors: [AATTrustAnchor] = []
    public var missionIssuers: [String: [ForeignPublicKey]] = [:]
    public var fetcher: MissionFetcher
    public var popOptOut = false
    /// `aat_aud` every proof must name: this server's public origin (never the request's `Host`;
    /// read per proof, since a server started on port 0 learns its port after start).
    public var origin: RegistryOrigin
    public var audience: String { origin.current }
    /// The workspace AAT sessions are governed in (approvals, console, revocation rights).
    public var workspace = IAMService.defaultWorkspace

    public init(anchors: [AATTrustAnchor] = [], missionIssuers: [String: [ForeignPublicKey]] = [:], fetcher: MissionFetcher = MissionFetcher(origins: []), popOptOut: Bool = false, origin: RegistryOrigin) {
        self.anchors = anchors
        self.missionIssuers = missionIssuers
        self.fetcher = fetcher
        self.popOptOut = popOptOut
        self.origin = origin
    }

    /// Reads every configured key: a file path, or an `https://` JWKS URL (or `http://` on
    /// loopback) fetched once at start-up under the declaration fetch rules (≤ 64 KiB, 2 s, no
    /// redirects). A key that cannot be read stops the start: a trust setting is never skipped.
    public static func load(configuration: ServerConfiguration, origin: RegistryOrigin) async throws -> AATPolicy {
        var policy = AATPolicy(origin: origin)
        for issuer in configuration.aatTrustAnchors.keys.sorted() {
            for key in try await keys(source: configuration.aatTrustAnchors[issuer]!, setting: "aat_trust_anchors") {
                policy.anchors.append(AATTrustAnchor(issuer: issuer, key: key))
            }
        }
        for issuer in configuration.mdIssuers.keys.sorted() {
            policy.missionIssuers[issuer] = try await keys(source: configuration.mdIssuers[issuer]!, setting: "md_issuers")
        }
        policy.fetcher = MissionFetcher(origins: configuration.mdOrigins.compactMap { MissionFetcher.Origin($0) })
        policy.popOptOut = configuration.aatPopOptOut
        return policy
    }

    static func keys(source: String, setting: String) async throws -> [ForeignPublicKey] {
        guard source.hasPrefix("https://") || source.hasPrefix("http://") else { return try keys(file: source, setting: setting) }
        guard let components = URLComponents(string: source), let scheme = components.scheme, let host = components.host,
            let origin = MissionFetcher.Origin("\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")")
        else { throw ConfigurationError.invalid(name: setting, value: "\(source) (an https URL, or http:// on loopback)") }
        let text: String
        do {
            text = try await MissionFetcher(origins: [origin]).fetch(source)
        } catch {
            throw ConfigurationError.unreadable(path: source, reason: "\(setting): \(error.detail)")
        }
        return try parse(Data(text.utf8), source: source, setting: setting)
    }

    public init(configuration: ServerConfiguration, origin: RegistryOrigin) throws {
        self.init(origin: origin)
        for issuer in configuration.aatTrustAnchors.keys.sorted() {
            for key in try Self.keys(file: configuration.aatTrustAnchors[issuer]!, setting: "aat_trust_anchors") {
                anchors.append(AATTrustAnchor(issuer: issuer, key: key))
            }
        }
        for issuer in configuration.mdIssuers.keys.sorted() {
            missionIssuers[issuer] = try Self.keys(file: configuration.mdIssuers[issuer]!, setting: "md_issuers")
        }
        fetcher = MissionFetcher(origins: configuration.mdOrigins.compactMap { MissionFetcher.Origin($0) })
        popOptOut = configuration.aatPopOptOut
    }

    /// The public keys in a JWK or JWKS file; an error names the setting and the file.
    public static func keys(file path: String, setting: String) throws -> [ForeignPublicKey] {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            throw ConfigurationError.unreadable(path: path, reason: "\(setting): cannot read the key file")
        }
        return try parse(data, source: path, setting: setting)
    }

    static func parse(_ data: Data, source path: String, setting: String) throws -> [ForeignPublicKey] {
        do {
            return try ForeignPublicKey.keys(jwkOrJWKS: data)
        } catch {
            throw ConfigurationError.unreadable(path: path, reason: "\(setting): not a public Ed25519 or P-256 JWK / JWKS (\(error))")
        }
    }
}
