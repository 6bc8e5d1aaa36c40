import Foundation
import NIOCore
import TesseraCore

/// Everything `tessera serve` is configured with.
///
/// Resolution order, per setting: command-line flag > `TESSERA_*` environment variable > config
/// file (JSON) > default. ``resolve(flags:environment:file:)`` is pure so the precedence is tested
/// without a process.
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
    /// PBKDF2 iterations for new password hashes. Not configurable from outside: tests lower it.
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
    /// environment's own variables win over them (see ``Telemetry``).
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

    /// One layer of settings, every member optional; later layers override earlier ones.
    public struct Layer: Sendable, Equatable, Codable {
        public var host: String?
        public var port: Int?
        public var stateDirectory: String?
        public var logLevel: String?
        public var keyGraceSeconds: Int?
        public var keyRefreshSeconds: Int?
        public var durableCommits: Bool?
        public var bootstrapMode: String?
        public var databaseURL: String?
        public var bootstrapToken: String?
        public var issuer: String?
        public var authCacheSeconds: Int?
        public var loginTTLSeconds: Int?
        public var badgeMinimumLifetimeSeconds: Int?
        public var maxConnections: Int?
        public var headerTimeoutSeconds: Int?
        public var idleTimeoutSeconds: Int?
        public var requestTimeoutSeconds: Int?
        public var webSocketIdleTimeoutSeconds: Int?
        public var mcpUpstreams: [String: String]?
        public var publicURL: String?
        public var statusListTTLSeconds: Int?
        public var aatTrustAnchors: [String: String]?
        public var mdIssuers: [String: String]?
        public var mdOrigins: [String]?
        public var oauthCIMDAllowOrigins: [String]?
        public var aatPopOptOut: Bool?
        public var auditSinks: [String]?
        /// Not a JSON member of its own: the file's `otel_*` keys, collected by ``file(_:path:)``.
        public var otel: [String: String]?

        public init(
            host: String? = nil, port: Int? = nil, stateDirectory: String? = nil, logLevel: String? = nil,
            keyGraceSeconds: Int? = nil, keyRefreshSeconds: Int? = nil, durableCommits: Bool? = nil,
            bootstrapMode: String? = nil, bootstrapToken: String? = nil, issuer: String? = nil, databaseURL: String? = nil
        ) {
            self.databaseURL = databaseURL
            self.bootstrapMode = bootstrapMode
            self.bootstrapToken = bootstrapToken
            self.issuer = issuer
            self.host = host
            self.port = port
            self.stateDirectory = stateDirectory
            self.logLevel = logLevel
            self.keyGraceSeconds = keyGraceSeconds
            self.keyRefreshSeconds = keyRefreshSeconds
            self.durableCommits = durableCommits
        }

        enum CodingKeys: String, CodingKey {
            case host, port
            case stateDirectory = "state_dir"
            case logLevel = "log_level"
            case keyGraceSeconds = "key_grace_seconds"
            case keyRefreshSeconds = "key_refresh_seconds"
            case durableCommits = "durable_commits"
            case bootstrapMode = "bootstrap_mode"
            case databaseURL = "database_url"
            case issuer
            case authCacheSeconds = "auth_cache_seconds"
            case loginTTLSeconds = "login_ttl_seconds"
            case badgeMinimumLifetimeSeconds = "badge_min_ttl_seconds"
            case maxConnections = "max_connections"
            case headerTimeoutSeconds = "header_timeout_seconds"
            case idleTimeoutSeconds = "idle_timeout_seconds"
            case requestTimeoutSeconds = "request_timeout_seconds"
            case webSocketIdleTimeoutSeconds = "websocket_idle_timeout_seconds"
            case mcpUpstreams = "mcp_upstreams"
            case publicURL = "public_url"
            case statusListTTLSeconds = "status_list_ttl_seconds"
            case aatTrustAnchors = "aat_trust_anchors"
            case mdIssuers = "md_issuers"
            case mdOrigins = "md_origins"
            case oauthCIMDAllowOrigins = "oauth_cimd_allow_origins"
            case aatPopOptOut = "aat_pop_opt_out"
            case auditSinks = "audit_sinks"
        }

        /// The `TESSERA_*` variables; a value that does not parse is an error naming the variable.
        public static func environment(_ env: [String: String]) throws(ConfigurationError) -> Layer {
            var layer = Layer()
            layer.host = env["TESSERA_HOST"]
            layer.stateDirectory = env["TESSERA_STATE_DIR"]
            layer.logLevel = env["TESSERA_LOG_LEVEL"]
            layer.port = try int(env, "TESSERA_PORT")
            layer.keyGraceSeconds = try int(env, "TESSERA_KEY_GRACE_SECONDS")
            layer.keyRefreshSeconds = try int(env, "TESSERA_KEY_REFRESH_SECONDS")
            layer.bootstrapMode = env["TESSERA_BOOTSTRAP_MODE"]
            layer.databaseURL = env["TESSERA_DATABASE_URL"]
            layer.bootstrapToken = env["TESSERA_BOOTSTRAP_TOKEN"]
            layer.issuer = env["TESSERA_ISSUER"]
            layer.authCacheSeconds = try int(env, "TESSERA_AUTH_CACHE_SECONDS")
            layer.loginTTLSeconds = try int(env, "TESSERA_LOGIN_TTL_SECONDS")
            layer.badgeMinimumLifetimeSeconds = try int(env, "TESSERA_BADGE_MIN_TTL_SECONDS")
            layer.maxConnections = try int(env, "TESSERA_MAX_CONNECTIONS")
            layer.headerTimeoutSeconds = try int(env, "TESSERA_HEADER_TIMEOUT_SECONDS")
            layer.idleTimeoutSeconds = try int(env, "TESSERA_IDLE_TIMEOUT_SECONDS")
            layer.requestTimeoutSeconds = try int(env, "TESSERA_REQUEST_TIMEOUT_SECONDS")
            layer.webSocketIdleTimeoutSeconds = try int(env, "TESSERA_WEBSOCKET_IDLE_TIMEOUT_SECONDS")
            layer.publicURL = env["TESSERA_PUBLIC_URL"]
            layer.statusListTTLSeconds = try int(env, "TESSERA_STATUS_LIST_TTL_SECONDS")
            if let list = env["TESSERA_MCP_UPSTREAMS"] {
                layer.mcpUpstreams = try ServerConfiguration.parseUpstreams(list.split(separator: ",").map(String.init), name: "TESSERA_MCP_UPSTREAMS")
            }
            if let list = env["TESSERA_AAT_TRUST_ANCHORS"] {
                layer.aatTrustAnchors = try ServerConfiguration.parseIssuerKeys(list.split(separator: ",").map(String.init), name: "TESSERA_AAT_TRUST_ANCHORS")
            }
            if let list = env["TESSERA_MD_ISSUERS"] {
                layer.mdIssuers = try ServerConfiguration.parseIssuerKeys(list.split(separator: ",").map(String.init), name: "TESSERA_MD_ISSUERS")
            }
            if let list = env["TESSERA_AUDIT_SINKS"] { layer.auditSinks = list.split(separator: ",").map(String.init) }
            if let list = env["TESSERA_MD_ORIGINS"] { layer.mdOrigins = list.split(separator: ",").map(String.init) }
            if let list = env["TESSERA_OAUTH_CIMD_ALLOW_ORIGINS"] { layer.oauthCIMDAllowOrigins = list.split(separator: ",").map(String.init) }
            if let value = env["TESSERA_AAT_POP_OPT_OUT"] {
                switch value.lowercased() {
                case "1", "true", "yes": layer.aatPopOptOut = true
                case "0", "false", "no": layer.aatPopOptOut = false
                default: throw .invalid(name: "TESSERA_AAT_POP_OPT_OUT", value: value)
                }
            }
            if let value = env["TESSERA_DURABLE_COMMITS"] {
                switch value.lowercased() {
                case "1", "true", "yes": layer.durableCommits = true
                case "0", "false", "no": layer.durableCommits = false
                default: throw .invalid(name: "TESSERA_DURABLE_COMMITS", value: value)
                }
            }
            return layer
        }

        static func int(_ env: [String: String], _ name: String) throws(ConfigurationError) -> Int? {
            guard let value = env[name] else { return nil }
            guard let number = Int(value) else { throw .invalid(name: name, value: value) }
            return number
        }

        /// A JSON config file with snake_case keys; unknown keys are an error, not ignored.
        public static func file(_ data: Data, path: String) throws(ConfigurationError) -> Layer {
            do {
                if let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    let known = Set([
                        "host", "port", "state_dir", "log_level", "key_grace_seconds", "key_refresh_seconds",
                        "durable_commits", "bootstrap_mode", "database_url", "issuer", "auth_cache_seconds", "login_ttl_seconds",
                        "badge_min_ttl_seconds", "max_connections", "mcp_upstreams", "public_url", "status_list_ttl_seconds",
                        "header_timeout_seconds", "idle_timeout_seconds", "request_timeout_seconds", "websocket_idle_timeout_seconds",
                        "aat_trust_anchors", "md_issuers", "md_origins", "aat_pop_opt_out", "oauth_cimd_allow_origins",
                        "audit_sinks",
                    ]).union(Telemetry.fileKeys)
                    if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
                        throw ConfigurationError.unknownKey(path: path, key: unknown)
                    }
                }
                // The otel_* keys are strings, passed on as the standard variables.
                var otel: [String: String] = [:]
                var rest: [String: JSONValue] = [:]
                guard case .object(let members) = try StrictJSON.parse(Array(data)) else {
                    throw ConfigurationError.invalid(name: path, value: "expected a JSON object")
                }
                for (key, value) in members {
                    if Telemetry.fileKeys.contains(key) {
                        guard case .string(let text) = value else { throw ConfigurationError.invalid(name: key, value: "expected a string") }
                        otel[key] = text
                    } else {
                        rest[key] = value
                    }
                }
                var layer = try StrictJSON.decode(Layer.self, from: Array(CanonicalJSON.serialize(.object(rest)).utf8))
                layer.otel = otel.isEmpty ? nil : otel
                return layer
            } catch let error as ConfigurationError {
                throw error
            } catch let error as StrictJSON.Failure {
                throw ConfigurationError.invalid(name: path, value: error.description)
            } catch {
                throw .unreadable(path: path, reason: String(describing: error))
            }
        }
    }

    public static func resolve(flags: Layer, environment: Layer, file: Layer) throws(ConfigurationError) -> ServerConfiguration {
        var config = ServerConfiguration()
        for layer in [file, environment, flags] {
            if let v = layer.host { config.host = v }
            if let v = layer.port { config.port = v }
            if let v = layer.stateDirectory { config.stateDirectory = v }
            if let v = layer.logLevel { config.logLevel = v }
            if let v = layer.keyGraceSeconds { config.keyGraceSeconds = v }
            if let v = layer.keyRefreshSeconds { config.keyRefreshSeconds = v }
            if let v = layer.durableCommits { config.durableCommits = v }
            if let v = layer.bootstrapMode { config.bootstrapMode = v }
            if let v = layer.databaseURL { config.databaseURL = v }
            if let v = layer.bootstrapToken { config.bootstrapToken = v }
            if let v = layer.issuer { config.issuer = v }
            if let v = layer.authCacheSeconds { config.authCacheSeconds = v }
            if let v = layer.loginTTLSeconds { config.loginTTLSeconds = v }
            if let v = layer.badgeMinimumLifetimeSeconds { config.badgeMinimumLifetimeSeconds = v }
            if let v = layer.maxConnections { config.connectionLimits.maximumConnections = v }
            // Checked before they become TimeAmounts: `.seconds` of a huge value would overflow.
            if let v = layer.headerTimeoutSeconds { config.connectionLimits.headerTimeout = try timeout(v, "header_timeout_seconds") }
            if let v = layer.idleTimeoutSeconds { config.connectionLimits.idleTimeout = try timeout(v, "idle_timeout_seconds") }
            if let v = layer.requestTimeoutSeconds { config.connectionLimits.requestTimeout = try timeout(v, "request_timeout_seconds") }
            if let v = layer.webSocketIdleTimeoutSeconds {
                config.connectionLimits.webSocketIdleTimeout = try timeout(v, "websocket_idle_timeout_seconds")
            }
            if let v = layer.mcpUpstreams { config.mcpUpstreams = v }
            if let v = layer.publicURL { config.publicURL = v }
            if let v = layer.statusListTTLSeconds { config.statusListTTLSeconds = v }
            if let v = layer.aatTrustAnchors { config.aatTrustAnchors = v }
            if let v = layer.mdIssuers { config.mdIssuers = v }
            if let v = layer.mdOrigins { config.mdOrigins = v }
            if let v = layer.oauthCIMDAllowOrigins { config.oauthCIMDAllowOrigins = v }
            if let v = layer.aatPopOptOut { config.aatPopOptOut = v }
            if let v = layer.auditSinks {
                var specs: [AuditSinkSpec] = []
                for text in v { specs.append(try AuditSinkSpec.parse(text, setting: "audit_sinks")) }
                config.auditSinks = specs
            }
            if let v = layer.otel { config.otel = v }
        }
        try config.validate()
        return config
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

    public func validate() throws(ConfigurationError) {
        guard (0...65535).contains(port) else { throw .invalid(name: "port", value: String(port)) }
        guard !host.isEmpty else { throw .invalid(name: "host", value: host) }
        guard !stateDirectory.isEmpty else { throw .invalid(name: "state_dir", value: stateDirectory) }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw .invalid(name: "log_level", value: logLevel)
        }
        guard keyGraceSeconds >= 60 else { throw .invalid(name: "key_grace_seconds", value: String(keyGraceSeconds)) }
        guard keyRefreshSeconds >= 1 else { throw .invalid(name: "key_refresh_seconds", value: String(keyRefreshSeconds)) }
        if let mode = bootstrapMode, !["bootstrap", "token"].contains(mode) {
            throw .invalid(name: "bootstrap_mode", value: mode)
        }
        if bootstrapMode == "token" {
            // The token becomes the admin's API key, and only API-key-shaped credentials are ever
            // looked up as keys: a token of another shape could never be used, so refuse it now.
            guard let token = bootstrapToken, APIKeyCodec.isWellFormed(token) else {
                throw .invalid(
                    name: "bootstrap_token",
                    value: "(token mode needs an API-key-shaped token: \"\(APIKeyCodec.marker)\" followed by 22-128 base64url characters; make one with: echo \(APIKeyCodec.marker)$(head -c 32 /dev/urandom | basenc --base64url | tr -d =))")
            }
        }
        guard !issuer.isEmpty, issuer.count <= 512 else { throw .invalid(name: "issuer", value: issuer) }
        guard (0...30).contains(authCacheSeconds) else { throw .invalid(name: "auth_cache_seconds", value: String(authCacheSeconds)) }
        guard (60...86400).contains(loginTTLSeconds) else { throw .invalid(name: "login_ttl_seconds", value: String(loginTTLSeconds)) }
        guard (1...86400).contains(badgeMinimumLifetimeSeconds) else {
            throw .invalid(name: "badge_min_ttl_seconds", value: String(badgeMinimumLifetimeSeconds))
        }
        for (name, url) in mcpUpstreams {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), name.count <= 64 else {
                throw .invalid(name: "mcp_upstreams", value: "\(name): names are 1-64 of letters, digits, - and _")
            }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw .invalid(name: "mcp_upstreams", value: "\(name)=\(url): an http(s) URL is required")
            }
        }
        guard (1...3600).contains(statusListTTLSeconds) else {
            throw .invalid(name: "status_list_ttl_seconds", value: String(statusListTTLSeconds))
        }
        if let publicURL, URL(string: publicURL)?.host == nil || !(publicURL.hasPrefix("http://") || publicURL.hasPrefix("https://")) {
            throw .invalid(name: "public_url", value: publicURL)
        }
        for origin in mdOrigins where MissionFetcher.Origin(origin) == nil {
            throw .invalid(name: "md_origins", value: "\(origin) (expected https://host[:port], or http:// with a loopback address)")
        }
        for origin in oauthCIMDAllowOrigins where MissionFetcher.Origin(origin, allowingAnyHTTP: true) == nil {
            throw .invalid(name: "oauth_cimd_allow_origins", value: "\(origin) (expected http(s)://host[:port])")
        }
        guard (16...1_000_000).contains(connectionLimits.maximumConnections) else {
            throw .invalid(name: "max_connections", value: String(connectionLimits.maximumConnections))
        }
        // Whole seconds within the range (also for a configuration built in code, not resolved).
        let range = Int64(Self.connectionTimeoutRange.lowerBound)...Int64(Self.connectionTimeoutRange.upperBound)
        for (name, amount) in [
            ("header_timeout_seconds", connectionLimits.headerTimeout), ("idle_timeout_seconds", connectionLimits.idleTimeout),
            ("request_timeout_seconds", connectionLimits.requestTimeout),
            ("websocket_idle_timeout_seconds", connectionLimits.webSocketIdleTimeout),
        ] where amount.nanoseconds % 1_000_000_000 != 0 || !range.contains(Self.seconds(amount)) {
            throw Self.timeoutError(name, "\(Double(amount.nanoseconds) / 1e9)")
        }
    }

    /// A database URL without its password.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(unparseable URL)" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "(unparseable URL)"
    }

    /// The effective settings as `key=value` lines, for the start-up banner. Holds no secrets.
    public var summary: [(String, String)] {
        [
            ("host", host), ("port", String(port)), ("state_dir", stateDirectory), ("log_level", logLevel),
            ("key_grace_seconds", String(keyGraceSeconds)), ("key_refresh_seconds", String(keyRefreshSeconds)),
            ("durable_commits", String(durableCommits)), ("bootstrap_mode", bootstrapMode ?? "(none)"),
            ("store", databaseURL.map(Self.redacted) ?? "sqlite (state_dir)"),
            ("bootstrap_token", bootstrapToken == nil ? "(none)" : "(set)"), ("issuer", issuer),
            ("auth_cache_seconds", String(authCacheSeconds)), ("login_ttl_seconds", String(loginTTLSeconds)),
            ("badge_min_ttl_seconds", String(badgeMinimumLifetimeSeconds)),
            ("max_connections", String(connectionLimits.maximumConnections)),
            ("header_timeout_seconds", String(Self.seconds(connectionLimits.headerTimeout))),
            ("idle_timeout_seconds", String(Self.seconds(connectionLimits.idleTimeout))),
            ("request_timeout_seconds", String(Self.seconds(connectionLimits.requestTimeout))),
            ("websocket_idle_timeout_seconds", String(Self.seconds(connectionLimits.webSocketIdleTimeout))),
            ("aat_trust_anchors", aatTrustAnchors.isEmpty ? "(none)" : aatTrustAnchors.keys.sorted().map { "\($0)=\(aatTrustAnchors[$0]!)" }.joined(separator: ",")),
            ("md_issuers", mdIssuers.isEmpty ? "(none)" : mdIssuers.keys.sorted().map { "\($0)=\(mdIssuers[$0]!)" }.joined(separator: ",")),
            ("md_origins", mdOrigins.isEmpty ? "(none)" : mdOrigins.joined(separator: ",")),
            ("oauth_cimd_allow_origins", oauthCIMDAllowOrigins.isEmpty ? "(none)" : oauthCIMDAllowOrigins.joined(separator: ",")),
            ("aat_pop_opt_out", String(aatPopOptOut)),
            ("audit_sinks", auditSinks.isEmpty ? "(none)" : auditSinks.map(\.description).joined(separator: "; ")),
            ("mcp_upstreams", mcpUpstreams.isEmpty ? "(none)" : mcpUpstreams.keys.sorted().map { "\($0)=\(Self.redacted(mcpUpstreams[$0]!))" }.joined(separator: ",")),
        ]
    }
}

public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case invalid(name: String, value: String)
    case unknownKey(path: String, key: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let name, let value): "invalid value for \(name): \(value)"
        case .unknownKey(let path, let key): "\(path): unknown key \(key)"
        case .unreadable(let path, let reason): "\(path): \(reason)"
        }
    }
}
