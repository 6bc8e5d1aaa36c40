import Foundation
import NIOCore
import TesseraCore

/// Everything `tessera serve` is configured with.
///
/// Resolution order, per setting: command-line flag > `TESSERA_*` environment variable > config
/// file (JSON) > default. ``resolve(flags:environment:file:)`` is pure so the precedence is tested
/// without a process.
///
/// Each setting's names (flag, variable, file key), parsing, validation, start-up line and help
/// come from one entry of ``ServerSettings/all``: a property added here without an entry there
/// fails `ConfigurationTableTests`.
public struct ServerConfiguration: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8787
    public var stateDirectory: String = ServerConfiguration.defaultStateDirectory
    public var logLevel: String = "info"
    /// How long a retired signing key keeps verifying: the longest token lifetime (24 h, the badge
    /// cap) plus the 60 s leeway.
    public var keyGraceSeconds: Int = 24 * 3600 + 60
    /// How often a server re-reads signing keys, so a rotation by another process is seen.
    public var keyRefreshSeconds: Int = 5
    /// Whether SQLite fsyncs every commit (`FULL`) or only at checkpoints (`NORMAL`).
    public var durableCommits: Bool = true
    /// PostgreSQL URL for a fleet (`postgres://user:password@host:port/db`); nil = embedded SQLite.
    /// A secret (it may hold a password): printed without its password.
    public var databaseURL: String?
    /// `bootstrap` or `token`; required while the store has no users (no permissive default).
    public var bootstrapMode: String?
    /// The initial admin API key in `token` mode. A secret: never printed.
    public var bootstrapToken: String?
    /// `iss` of every token this server signs; must be the same on every process of a deployment.
    public var issuer: String = "tessera"
    /// How long a process may reuse an API-key resolution or a user/workspace record (≤ 30 s):
    /// the bound on how late a disable or a revocation takes effect.
    public var authCacheSeconds: Int = 10
    /// Login JWT lifetime.
    public var loginTTLSeconds: Int = 3600
    /// Shortest badge lifetime the registry issues (RFC-002 §7.2: 60 s). Lowered only to test the
    /// keeper with second-scale lifetimes.
    public var badgeMinimumLifetimeSeconds: Int = 60
    /// PBKDF2 iterations for new password hashes. Not a setting of ``ServerSettings/all`` (no
    /// flag, variable or file key): lowering it weakens every stored password, so only code (the
    /// tests) may.
    public var passwordIterations: Int = 600_000
    /// MCP servers fronted over streamable HTTP at `/mcp/NAME` (name → upstream URL).
    public var mcpUpstreams: [String: String] = [:]
    /// The externally visible base URL (for RFC 8707 audiences and RFC 9728 metadata); default:
    /// the request's own origin.
    public var publicURL: String?
    /// Seconds a verifier may cache a status list (the bound on how late a revocation reaches
    /// verifiers that refresh on time).
    public var statusListTTLSeconds: Int = 60
    /// Per-connection time limits (`header_timeout_seconds`, `idle_timeout_seconds`,
    /// `request_timeout_seconds`, `websocket_idle_timeout_seconds`) and the connection cap
    /// (`max_connections`).
    public var connectionLimits = ConnectionLimits()
    /// AAT roots Tessera accepts: issuer (the root's `iss`) → a public JWK or JWKS file.
    public var aatTrustAnchors: [String: String] = [:]
    /// Mission-declaration issuers: issuer (the declaration's `iss`) → a public JWK or JWKS file.
    public var mdIssuers: [String: String] = [:]
    /// Origins mission declarations and their status lists may be fetched from (`https://host[:port]`,
    /// or `http://` for a loopback address only).
    public var mdOrigins: [String] = []
    /// Origins the OAuth server may fetch Client ID Metadata Documents from although they are not
    /// public addresses (loopback or private networks: tests, an intranet). Public https origins
    /// need no entry.
    public var oauthCIMDAllowOrigins: [String] = []
    /// Whether a client may start a session from a key-bound AAT without proof of possession
    /// (`require_pop:false`, Ardur's bearer mode). Off by default: the token is then a bearer
    /// credential, which is what `cnf` exists to prevent.
    public var aatPopOptOut: Bool = false
    /// Where audit events go (docs/audit.md): `--audit-sink`, `TESSERA_AUDIT_SINKS`, `audit_sinks`.
    public var auditSinks: [AuditSinkSpec] = []
    /// The config file's `otel_*` keys (the standard `OTEL_*` variables in lower case); the
    /// environment's own variables win over them (see ``Telemetry``). Not in
    /// ``ServerSettings/all``: those variables are read by the OpenTelemetry set-up itself.
    public var otel: [String: String] = [:]
    /// Bounds of every connection deadline, in seconds: at least 1 (0 would close every
    /// connection at once), at most an hour (a longer one is no deadline against slow clients).
    public static let connectionTimeoutRange: ClosedRange<Int> = 1...3600

    public init() {}

    /// The registry origin badges name as `iss`: `public_url`, or this server's own
    /// `http://host:port` (updated with the bound port when started with port 0).
    public var registryOrigin: String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let visibleHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        return "http://\(visibleHost.contains(":") ? "[\(visibleHost)]" : visibleHost):\(port)"
    }

    public static var defaultStateDirectory: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return (home as NSString).appendingPathComponent(".tessera")
    }

    /// Applies the file, then the environment, then the flags (each only where set), then
    /// validates the result.
    public static func resolve(flags: Layer, environment: Layer, file: Layer) throws(ConfigurationError) -> ServerConfiguration {
        var config = ServerConfiguration()
        for layer in [file, environment, flags] {
            for setting in ServerSettings.all {
                try setting.apply(layer, &config)
            }
            if let v = layer.otel { config.otel = v }
        }
        try config.validate()
        return config
    }

    /// Every setting's own rule (ranges, formats), in table order: the first failure is thrown,
    /// naming the setting. Also holds a configuration built in code to the same rules.
    public func validate() throws(ConfigurationError) {
        for setting in ServerSettings.all {
            try setting.check(self)
        }
    }

    /// The effective settings as `key=value` lines, for the start-up banner and the
    /// `configuration.loaded` audit event: one line per setting of ``ServerSettings/all``, named
    /// by its file key. Holds no secrets (`database_url` without its password, `bootstrap_token`
    /// only as `(set)`, MCP upstream URLs without passwords).
    public var summary: [(String, String)] {
        ServerSettings.all.map { ($0.summaryKey, $0.show(self)) }
    }

    /// A connection deadline of `seconds`, refused outside ``connectionTimeoutRange`` with an error
    /// naming the setting.
    static func timeout(_ seconds: Int, _ name: String) throws(ConfigurationError) -> TimeAmount {
        guard connectionTimeoutRange.contains(seconds) else { throw timeoutError(name, String(seconds)) }
        return .seconds(Int64(seconds))
    }

    static func timeoutError(_ name: String, _ value: String) -> ConfigurationError {
        .invalid(name: name, value: "\(value) (expected \(connectionTimeoutRange.lowerBound)-\(connectionTimeoutRange.upperBound) seconds)")
    }

    /// Whole seconds of a deadline, for the banner and for validation.
    static func seconds(_ amount: TimeAmount) -> Int64 { amount.nanoseconds / 1_000_000_000 }

    /// `NAME=URL` entries (flags and the environment variable).
    public static func parseUpstreams(_ entries: [String], name: String) throws(ConfigurationError) -> [String: String] {
        var out: [String: String] = [:]
        for entry in entries where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw .invalid(name: name, value: "\(entry) (expected NAME=URL)") }
            out[parts[0]] = parts[1]
        }
        return out
    }

    /// `ISSUER=PATH` entries, split at the first `=` (an issuer URI has none in practice; a JWKS
    /// URL may have one in its query).
    public static func parseIssuerKeys(_ entries: [String], name: String) throws(ConfigurationError) -> [String: String] {
        var out: [String: String] = [:]
        for entry in entries where !entry.isEmpty {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex, entry.index(after: equals) != entry.endIndex else {
                throw .invalid(name: name, value: "\(entry) (expected ISSUER=PATH)")
            }
            out[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return out
    }

    /// A database URL without its password.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(unparseable URL)" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "(unparseable URL)"
    }
}
