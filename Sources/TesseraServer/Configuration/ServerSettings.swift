import Foundation
import TesseraCore

/// The settings of `tessera serve`: one entry per setting, from which everything else is
/// derived — the flags (``ServerConfiguration/Layer/flags(_:)``), the `TESSERA_*` variables
/// (``ServerConfiguration/Layer/environment(_:)``), the config file's keys
/// (``ServerConfiguration/Layer/file(_:path:)``), validation
/// (``ServerConfiguration/validate()``), the start-up summary (``ServerConfiguration/summary``)
/// and `tessera serve --help` (``helpText``). Adding a setting is a property on
/// ``ServerConfiguration`` and on its ``ServerConfiguration/Layer``, and one entry here.
///
/// Names: the file key is the entry's name, the variable is `TESSERA_` and the name in upper
/// case, the flag is `--` and the name with `-` for `_`. Deliberate exceptions, each in its entry:
/// - the list and map flags are singular and repeatable (`--md-origin` for `md_origins`,
///   `--aat-trust-anchor` for `aat_trust_anchors`, …), as they always were;
/// - `bootstrap_token` has no file key: a secret does not belong in a config file (the variable
///   is the way; the flag stays for scripts, although it shows in `ps`).
///
/// Not in the table:
/// - `passwordIterations`: not configurable from outside (a lower count weakens every stored
///   password; only code, the tests, lowers it);
/// - the `otel_*` file keys: the standard `OTEL_*` variables in lower case, read by the
///   OpenTelemetry set-up (``Telemetry``), where the environment wins; they have no flag.
///   ``helpText`` lists them.
public enum ServerSettings {
    /// Summary keys kept from before the table: `database_url` was printed (and audited) as `store`.
    static let summaryKeys = ["database_url": "store"]

    public static let all: [ServerSetting] = [
        .string(
            "host", valueName: "<address>", help: "Address to bind.", example: "0.0.0.0",
            layer: .init({ $0.host }, { $0.host = $1 }), value: .init({ $0.host }, { $0.host = $1 }),
            check: { host throws(ConfigurationError) in
                guard !host.isEmpty else { throw .invalid(name: "host", value: host) }
            }),
        .integer(
            "port", range: 0...65535, valueName: "<port>", help: "Port to bind; 0 picks a free one.", example: "9000",
            layer: .init({ $0.port }, { $0.port = $1 }), value: .init({ $0.port }, { $0.port = $1 })),
        .string(
            "state_dir", valueName: "<directory>",
            help: "State directory (created 0700): the SQLite store and its signing keys.", example: "/var/lib/tessera",
            defaultText: "~/.tessera",
            layer: .init({ $0.stateDirectory }, { $0.stateDirectory = $1 }), value: .init({ $0.stateDirectory }, { $0.stateDirectory = $1 }),
            check: { directory throws(ConfigurationError) in
                guard !directory.isEmpty else { throw .invalid(name: "state_dir", value: directory) }
            }),
        .string(
            "log_level", valueName: "<level>", choices: ["trace", "debug", "info", "notice", "warning", "error", "critical"],
            help: "Log level.", example: "debug",
            layer: .init({ $0.logLevel }, { $0.logLevel = $1 }), value: .init({ $0.logLevel }, { $0.logLevel = $1 })),
        .integer(
            "key_grace_seconds", range: 60...Int.max,
            help: "Seconds a retired signing key keeps verifying: the longest token lifetime (24 h) plus the 60 s leeway.",
            example: "90000",
            layer: .init({ $0.keyGraceSeconds }, { $0.keyGraceSeconds = $1 }),
            value: .init({ $0.keyGraceSeconds }, { $0.keyGraceSeconds = $1 })),
        .integer(
            "key_refresh_seconds", range: 1...Int.max,
            help: "Seconds between re-reads of the signing keys, so a rotation by another process is seen.", example: "30",
            layer: .init({ $0.keyRefreshSeconds }, { $0.keyRefreshSeconds = $1 }),
            value: .init({ $0.keyRefreshSeconds }, { $0.keyRefreshSeconds = $1 })),
        .boolean(
            "durable_commits",
            help: "SQLite fsyncs every commit (FULL); false: only at checkpoints (NORMAL), faster, and a power loss may lose the last commits.",
            example: "false",
            layer: .init({ $0.durableCommits }, { $0.durableCommits = $1 }),
            value: .init({ $0.durableCommits }, { $0.durableCommits = $1 })),
        .optionalString(
            "database_url", secret: true, valueName: "<url>",
            help: "PostgreSQL URL for several nodes (postgres://user:password@host:port/db). A secret: prefer the variable (flags show in ps); printed without its password.",
            example: "postgres://tessera@db.example:5432/tessera", defaultText: "none: embedded SQLite in state_dir",
            layer: .init({ $0.databaseURL }, { $0.databaseURL = $1 }), value: .init({ $0.databaseURL }, { $0.databaseURL = $1 }),
            show: { url in url.map { ServerConfiguration.redacted($0) } ?? "sqlite (state_dir)" }),
        .optionalString(
            "bootstrap_mode", valueName: "<mode>", choices: ["bootstrap", "token"],
            help: "How a store with no users gets its admin: bootstrap (POST /api/v1/auth/bootstrap once) or token (bootstrap_token becomes the admin's API key).",
            example: "bootstrap", defaultText: "none: required while the store has no users",
            layer: .init({ $0.bootstrapMode }, { $0.bootstrapMode = $1 }), value: .init({ $0.bootstrapMode }, { $0.bootstrapMode = $1 })),
        .optionalString(
            "bootstrap_token", secret: true, fileKey: false, valueName: "<token>",
            help: "token mode: the initial admin API key (tsk_ and 22-128 base64url characters). A secret: never printed, no file key; prefer the variable (flags show in ps).",
            example: "tsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            layer: .init({ $0.bootstrapToken }, { $0.bootstrapToken = $1 }), value: .init({ $0.bootstrapToken }, { $0.bootstrapToken = $1 }),
            check: { configuration throws(ConfigurationError) in
                // The token becomes the admin's API key, and only API-key-shaped credentials are
                // ever looked up as keys: a token of another shape could never be used, so
                // refuse it now.
                guard configuration.bootstrapMode == "token" else { return }
                guard let token = configuration.bootstrapToken, APIKeyCodec.isWellFormed(token) else {
                    throw .invalid(
                        name: "bootstrap_token",
                        value: "(token mode needs an API-key-shaped token: \"\(APIKeyCodec.marker)\" followed by 22-128 base64url characters; make one with: echo \(APIKeyCodec.marker)$(head -c 32 /dev/urandom | basenc --base64url | tr -d =))")
                }
            },
            show: { token in token == nil ? "(none)" : "(set)" }),
        .string(
            "issuer", valueName: "<iss>", help: "iss of every token this server signs (the same on every node; 1-512 characters).",
            example: "https://tessera.example",
            layer: .init({ $0.issuer }, { $0.issuer = $1 }), value: .init({ $0.issuer }, { $0.issuer = $1 }),
            check: { issuer throws(ConfigurationError) in
                guard !issuer.isEmpty, issuer.count <= 512 else { throw .invalid(name: "issuer", value: issuer) }
            }),
        .integer(
            "auth_cache_seconds", range: 0...30,
            help: "Seconds a process may reuse an API-key resolution or a user/workspace record: how late a disable or revocation takes effect.",
            example: "5",
            layer: .init({ $0.authCacheSeconds }, { $0.authCacheSeconds = $1 }),
            value: .init({ $0.authCacheSeconds }, { $0.authCacheSeconds = $1 })),
        .integer(
            "login_ttl_seconds", range: 60...86400, help: "Lifetime of a login JWT.", example: "600",
            layer: .init({ $0.loginTTLSeconds }, { $0.loginTTLSeconds = $1 }),
            value: .init({ $0.loginTTLSeconds }, { $0.loginTTLSeconds = $1 })),
        .integer(
            "badge_min_ttl_seconds", range: 1...86400,
            help: "Shortest badge lifetime the registry issues (RFC-002: 60); lower only to test keepers.", example: "5",
            layer: .init({ $0.badgeMinimumLifetimeSeconds }, { $0.badgeMinimumLifetimeSeconds = $1 }),
            value: .init({ $0.badgeMinimumLifetimeSeconds }, { $0.badgeMinimumLifetimeSeconds = $1 })),
        .integer(
            "status_list_ttl_seconds", range: 1...3600,
            help: "Seconds a verifier may cache a status list (also mission declarations' status entries): how late a revocation reaches verifiers.",
            example: "120",
            layer: .init({ $0.statusListTTLSeconds }, { $0.statusListTTLSeconds = $1 }),
            value: .init({ $0.statusListTTLSeconds }, { $0.statusListTTLSeconds = $1 })),
        .optionalString(
            "public_url", valueName: "<url>",
            help: "Externally visible base URL: badges' iss, status-list and MCP resource URIs, the aat_aud AAT proofs must name.",
            example: "https://tessera.example", defaultText: "http://host:port, the listen address (never a request's Host)",
            layer: .init({ $0.publicURL }, { $0.publicURL = $1 }), value: .init({ $0.publicURL }, { $0.publicURL = $1 }),
            check: { configuration throws(ConfigurationError) in
                guard let url = configuration.publicURL else { return }
                if URL(string: url)?.host == nil || !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                    throw .invalid(name: "public_url", value: url)
                }
            },
            // Printed and audited without a password, should the URL carry one.
            show: { url in url.map { ServerConfiguration.redacted($0) } ?? "(none)" }),
        .integer(
            "max_connections", range: 16...1_000_000, valueName: "<count>",
            help: "Open connections at most; past it new ones wait in the backlog.", example: "1024",
            layer: .init({ $0.maxConnections }, { $0.maxConnections = $1 }),
            value: .init({ $0.connectionLimits.maximumConnections }, { $0.connectionLimits.maximumConnections = $1 })),
        .timeout(
            "header_timeout_seconds", help: "Seconds a client has to send a request's head (line and headers).", example: "20",
            layer: .init({ $0.headerTimeoutSeconds }, { $0.headerTimeoutSeconds = $1 }),
            value: .init({ $0.connectionLimits.headerTimeout }, { $0.connectionLimits.headerTimeout = $1 })),
        .timeout(
            "idle_timeout_seconds", help: "Seconds an idle keep-alive connection stays open.", example: "60",
            layer: .init({ $0.idleTimeoutSeconds }, { $0.idleTimeoutSeconds = $1 }),
            value: .init({ $0.connectionLimits.idleTimeout }, { $0.connectionLimits.idleTimeout = $1 })),
        .timeout(
            "request_timeout_seconds", help: "Seconds of silence allowed while a request body is read or answered.", example: "60",
            layer: .init({ $0.requestTimeoutSeconds }, { $0.requestTimeoutSeconds = $1 }),
            value: .init({ $0.connectionLimits.requestTimeout }, { $0.connectionLimits.requestTimeout = $1 })),
        .timeout(
            "websocket_idle_timeout_seconds", help: "Seconds an idle WebSocket stays open.", example: "600",
            layer: .init({ $0.webSocketIdleTimeoutSeconds }, { $0.webSocketIdleTimeoutSeconds = $1 }),
            value: .init({ $0.connectionLimits.webSocketIdleTimeout }, { $0.connectionLimits.webSocketIdleTimeout = $1 })),
        .map(
            "aat_trust_anchors", flag: "--aat-trust-anchor", valueName: "ISSUER=PATH",
            help: "Accept AATs whose root is issued by ISSUER and signed by a key in PATH (a public JWK or JWKS file, or an https JWKS URL read at start).",
            example: "https://issuer.example=/etc/tessera/aat-issuer.jwks",
            parse: { entries, source throws(ConfigurationError) in try ServerConfiguration.parseIssuerKeys(entries, name: source) },
            layer: .init({ $0.aatTrustAnchors }, { $0.aatTrustAnchors = $1 }),
            value: .init({ $0.aatTrustAnchors }, { $0.aatTrustAnchors = $1 })),
        .map(
            "md_issuers", flag: "--md-issuer", valueName: "ISSUER=PATH",
            help: "Accept mission declarations issued by ISSUER and signed by a key in PATH (JWK or JWKS file, or an https JWKS URL read at start).",
            example: "https://md.example=/etc/tessera/md-issuer.jwks",
            parse: { entries, source throws(ConfigurationError) in try ServerConfiguration.parseIssuerKeys(entries, name: source) },
            layer: .init({ $0.mdIssuers }, { $0.mdIssuers = $1 }), value: .init({ $0.mdIssuers }, { $0.mdIssuers = $1 })),
        .list(
            "md_origins", flag: "--md-origin", valueName: "<origin>",
            help: "An origin mission declarations and their status lists may be fetched from (https://host[:port], or http:// on loopback).",
            example: "https://md.example",
            layer: .init({ $0.mdOrigins }, { $0.mdOrigins = $1 }),
            apply: { origins, configuration in configuration.mdOrigins = origins },
            check: { configuration throws(ConfigurationError) in
                for origin in configuration.mdOrigins where MissionFetcher.Origin(origin) == nil {
                    throw .invalid(name: "md_origins", value: "\(origin) (expected https://host[:port], or http:// with a loopback address)")
                }
            },
            show: { ServerSetting.joined($0.mdOrigins) }),
        .list(
            "oauth_cimd_allow_origins", flag: "--oauth-cimd-allow-origin", valueName: "<origin>",
            help: "An origin OAuth client metadata documents may be fetched from although it is not a public address (loopback, private network).",
            example: "http://127.0.0.1:9000",
            layer: .init({ $0.oauthCIMDAllowOrigins }, { $0.oauthCIMDAllowOrigins = $1 }),
            apply: { origins, configuration in configuration.oauthCIMDAllowOrigins = origins },
            check: { configuration throws(ConfigurationError) in
                for origin in configuration.oauthCIMDAllowOrigins where MissionFetcher.Origin(origin, allowingAnyHTTP: true) == nil {
                    throw .invalid(name: "oauth_cimd_allow_origins", value: "\(origin) (expected http(s)://host[:port])")
                }
            },
            show: { ServerSetting.joined($0.oauthCIMDAllowOrigins) }),
        .boolean(
            "aat_pop_opt_out",
            help: "Let clients start sessions from key-bound AATs without proof of possession (require_pop:false, a bearer token).",
            example: "true",
            layer: .init({ $0.aatPopOptOut }, { $0.aatPopOptOut = $1 }), value: .init({ $0.aatPopOptOut }, { $0.aatPopOptOut = $1 })),
        .list(
            "audit_sinks", flag: "--audit-sink", valueName: "<spec>",
            help: "Send audit events to SPEC (file:///PATH, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, syslog+unix:///PATH, webhook+https://URL, otlp; options ?on_failure=drop|fail_closed&workspace=W; docs/audit.md). A SPEC with a comma goes in the flag or the file.",
            example: "syslog+tcp://127.0.0.1:10514",
            layer: .init({ $0.auditSinks }, { $0.auditSinks = $1 }),
            apply: { specs, configuration throws(ConfigurationError) in
                var parsed: [AuditSinkSpec] = []
                for text in specs { parsed.append(try AuditSinkSpec.parse(text, setting: "audit_sinks")) }
                configuration.auditSinks = parsed
            },
            show: { $0.auditSinks.isEmpty ? "(none)" : $0.auditSinks.map { spec in spec.description }.joined(separator: "; ") }),
        .map(
            "mcp_upstreams", flag: "--mcp-upstream", valueName: "NAME=URL",
            help: "Front an MCP server (streamable HTTP) at /mcp/NAME (1-64 letters, digits, - and _; an http(s) URL). Printed without passwords.",
            example: "git=http://127.0.0.1:9000/mcp",
            parse: { entries, source throws(ConfigurationError) in try ServerConfiguration.parseUpstreams(entries, name: source) },
            layer: .init({ $0.mcpUpstreams }, { $0.mcpUpstreams = $1 }), value: .init({ $0.mcpUpstreams }, { $0.mcpUpstreams = $1 }),
            check: { configuration throws(ConfigurationError) in
                for (name, url) in configuration.mcpUpstreams.sorted(by: { $0.key < $1.key }) {
                    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), name.count <= 64 else {
                        throw .invalid(name: "mcp_upstreams", value: "\(name): names are 1-64 of letters, digits, - and _")
                    }
                    guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                        throw .invalid(name: "mcp_upstreams", value: "\(name)=\(url): an http(s) URL is required")
                    }
                }
            },
            show: { url in ServerConfiguration.redacted(url) }),
    ]

    /// The entries by flag, by config-file key and by name (a duplicate stops the process at
    /// start: a programming error the table tests also catch).
    static let byFlag = Dictionary(uniqueKeysWithValues: all.map { ($0.flag, $0) })
    static let byFileKey = Dictionary(uniqueKeysWithValues: all.compactMap { setting in setting.fileKey.map { ($0, setting) } })
    static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The width help lines are wrapped to (ArgumentParser wraps at the terminal's, 80 when
    /// it is not a terminal).
    static let helpWidth = 78

    /// `tessera serve --help`'s discussion: the sources, then every setting with its flag,
    /// variable, file key, accepted values and default, then the OpenTelemetry keys.
    public static var helpText: String {
        var lines = wrap(
            """
            Settings come from flags, then TESSERA_* environment variables, then the JSON config file (--config FILE or \
            TESSERA_CONFIG; snake_case keys, an unknown key stops the start), then defaults; the effective settings are \
            printed at start, secrets redacted. A boolean flag alone means true (--flag=false for false). A list or \
            NAME=VALUE setting repeats its flag, separates entries with commas in its variable (nothing trimmed), and is \
            an array or an object in the file. SIGTERM or SIGINT drains and stops.
            """,
            indent: "")
        lines.append("")
        lines.append("SETTINGS (flag, then environment variable and file key):")
        for setting in all {
            let fileKey = setting.fileKey.map { "file key \($0)" } ?? "no file key"
            lines.append("  \(setting.flagUsage)")
            lines += wrap("\(setting.environmentVariable), \(fileKey)", indent: "      ")
            lines += wrap(setting.fullHelp, indent: "      ")
        }
        lines.append("")
        let otel = Telemetry.fileKeys.joined(separator: ", ")
        lines += wrap(
            """
            OpenTelemetry (docs/operations.md): the standard OTEL_* variables, or the same names in lower case in the \
            file (the variables win); no flags. File keys: \(otel).
            """,
            indent: "")
        return lines.joined(separator: "\n")
    }

    /// Greedy word wrap at ``helpWidth``, each line starting with `indent`.
    static func wrap(_ text: String, indent: String) -> [String] {
        var lines: [String] = []
        var line = indent
        for word in text.split(separator: " ") {
            if line.count > indent.count, line.count + 1 + word.count > helpWidth {
                lines.append(line)
                line = indent
            }
            if line.count > indent.count { line += " " }
            line += word
        }
        if line.count > indent.count { lines.append(line) }
        return lines
    }
}
