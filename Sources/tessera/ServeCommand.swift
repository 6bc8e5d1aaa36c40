import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TesseraCore
import TesseraServer
import TesseraStore

struct Serve: AsyncParsableCommand {
    /// How long SIGTERM waits for in-flight requests before closing what is left.
    static let drainLimit: Duration = .seconds(5)

    static let configuration = CommandConfiguration(
        abstract: "Run the Tessera server on the embedded SQLite store.",
        discussion: """
            Settings come from flags, then TESSERA_* environment variables (TESSERA_HOST, \
            TESSERA_PORT, TESSERA_STATE_DIR, TESSERA_LOG_LEVEL, TESSERA_KEY_GRACE_SECONDS, \
            TESSERA_KEY_REFRESH_SECONDS, TESSERA_DURABLE_COMMITS, TESSERA_MAX_CONNECTIONS, \
            TESSERA_HEADER_TIMEOUT_SECONDS, TESSERA_IDLE_TIMEOUT_SECONDS, TESSERA_REQUEST_TIMEOUT_SECONDS, \
            TESSERA_WEBSOCKET_IDLE_TIMEOUT_SECONDS, …), then the JSON config file (--config or \
            TESSERA_CONFIG; snake_case keys such as header_timeout_seconds), then defaults. Connection \
            deadlines are whole seconds from 1 to 3600. SIGTERM or SIGINT drains and stops.
            """
    )

    @Option(help: "State directory (created 0700). Default ~/.tessera.") var stateDir: String?
    @Option(help: "Address to bind. Default 127.0.0.1.") var host: String?
    @Option(help: "Port to bind; 0 picks a free one. Default 8787.") var port: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Option(help: "JSON config file with snake_case keys.") var config: String?
    @Option(help: "bootstrap or token. Required while the store has no users.") var bootstrapMode: String?
    @Option(help: "PostgreSQL URL for several nodes (prefer TESSERA_DATABASE_URL). Default: embedded SQLite.")
    var databaseURL: String?
    @Option(help: "token mode: the initial admin API key (prefer TESSERA_BOOTSTRAP_TOKEN: flags show in ps).")
    var bootstrapToken: String?
    @Option(help: "iss of every token this server signs (same on every node). Default tessera.") var issuer: String?
    @Option(name: .customLong("aat-trust-anchor"), help: "Accept AATs whose root is issued by ISSUER and signed by a key in PATH (a public JWK or JWKS file, or an https JWKS URL read at start): ISSUER=PATH; repeatable.")
    var aatTrustAnchor: [String] = []
    @Option(name: .customLong("md-issuer"), help: "Accept mission declarations issued by ISSUER and signed by a key in PATH (JWK or JWKS file, or an https JWKS URL read at start): ISSUER=PATH; repeatable.")
    var mdIssuer: [String] = []
    @Option(name: .customLong("md-origin"), help: "An origin mission declarations and their status lists may be fetched from (https://host[:port], or http:// on loopback); repeatable.")
    var mdOrigin: [String] = []
    @Option(name: .customLong("oauth-cimd-allow-origin"), help: "An origin OAuth client metadata documents may be fetched from although it is not a public address (loopback, private network); repeatable.")
    var oauthCIMDAllowOrigin: [String] = []
    @Flag(name: .customLong("aat-pop-opt-out"), help: "Let clients start sessions from key-bound AATs without proof of possession (require_pop:false). Off by default.")
    var aatPopOptOut = false
    @Option(name: .customLong("mcp-upstream"), help: "Front an MCP server (streamable HTTP) at /mcp/NAME: NAME=URL; repeatable.")
    var mcpUpstream: [String] = []
    @Option(help: "Externally visible base URL (MCP resource URIs). Default: the address the server listens on (never a request's Host).") var publicURL: String?
    @Option(help: "Seconds a client has to send a request's head (line and headers), 1-3600. Default 10.")
    var headerTimeoutSeconds: Int?
    @Option(help: "Seconds an idle keep-alive connection stays open, 1-3600. Default 30.") var idleTimeoutSeconds: Int?
    @Option(help: "Seconds of silence allowed while a request body is read or answered, 1-3600. Default 30.")
    var requestTimeoutSeconds: Int?
    @Option(name: .customLong("audit-sink"), help: "Send audit events to SPEC (file:///PATH, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, syslog+unix:///PATH, webhook+https://URL, otlp; options ?on_failure=drop|fail_closed&workspace=W; docs/audit.md); repeatable.")
    var auditSink: [String] = []
    @Option(name: .customLong("websocket-idle-timeout-seconds"), help: "Seconds an idle WebSocket stays open, 1-3600. Default 300.")
    var webSocketIdleTimeoutSeconds: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: ServerConfiguration
        do {
            var fileLayer = ServerConfiguration.Layer()
            if let path = config ?? environment["TESSERA_CONFIG"] {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigurationError.unreadable(path: path, reason: "cannot read file")
                }
                fileLayer = try ServerConfiguration.Layer.file(data, path: path)
            }
            var flagLayer = ServerConfiguration.Layer(
                host: host, port: port, stateDirectory: stateDir, logLevel: logLevel, bootstrapMode: bootstrapMode,
                bootstrapToken: bootstrapToken, issuer: issuer, databaseURL: databaseURL)
            if !aatTrustAnchor.isEmpty { flagLayer.aatTrustAnchors = try ServerConfiguration.parseIssuerKeys(aatTrustAnchor, name: "--aat-trust-anchor") }
            if !mdIssuer.isEmpty { flagLayer.mdIssuers = try ServerConfiguration.parseIssuerKeys(mdIssuer, name: "--md-issuer") }
            if !mdOrigin.isEmpty { flagLayer.mdOrigins = mdOrigin }
            if !oauthCIMDAllowOrigin.isEmpty { flagLayer.oauthCIMDAllowOrigins = oauthCIMDAllowOrigin }
            if aatPopOptOut { flagLayer.aatPopOptOut = true }
            if !auditSink.isEmpty { flagLayer.auditSinks = auditSink }
            if !mcpUpstream.isEmpty { flagLayer.mcpUpstreams = try ServerConfiguration.parseUpstreams(mcpUpstream, name: "--mcp-upstream") }
            flagLayer.publicURL = publicURL
            flagLayer.headerTimeoutSeconds = headerTimeoutSeconds
            flagLayer.idleTimeoutSeconds = idleTimeoutSeconds
            flagLayer.requestTimeoutSeconds = requestTimeoutSeconds
            flagLayer.webSocketIdleTimeoutSeconds = webSocketIdleTimeoutSeconds
            configuration = try ServerConfiguration.resolve(
                flags: flagLayer,
                environment: try .environment(environment),
                file: fileLayer)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }

        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let wantsOTLPAudit = configuration.auditSinks.contains { $0.kind == .otlp }
        let telemetry: Telemetry.Setup
        do {
            telemetry = try Telemetry.bootstrap(
                fileSettings: configuration.otel, wantsLogHandler: wantsOTLPAudit, logger: Logger(label: "tessera.otel"))
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let otlpLogs = telemetry.exportLogs ? telemetry.logHandler : nil
        LoggingSystem.bootstrap({ label, provider in
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
            handler.logLevel = level
            guard let otlpLogs else { return handler }
            var exported = otlpLogs(label)
            exported.logLevel = level
            return MultiplexLogHandler([handler, exported])
        }, metadataProvider: Telemetry.loggingMetadataProvider)
        TesseraMetrics.alsoExport(to: telemetry.metricsFactory)
        let logger = Logger(label: "tessera")

        Output.context("tessera \(TesseraVersion.current) starting with:")
        for (key, value) in configuration.summary { Output.context("  \(key)=\(value)") }
        Output.context("  otel=\(telemetry.summary)")
        let descriptors = Self.raiseDescriptorLimit()
        Output.context("  open_files_limit=\(descriptors)")
        if descriptors < configuration.connectionLimits.maximumConnections + 64 {
            logger.warning(
                "the open-files limit is below max_connections: connections will be refused by the OS before the cap",
                metadata: ["open_files_limit": "\(descriptors)", "max_connections": "\(configuration.connectionLimits.maximumConnections)"])
        }

        let store: any TesseraStore
        do {
            if let url = configuration.databaseURL {
                store = try await PostgresStore(url: url, logger: Logger(label: "tessera.store"))
            } else {
                store = try SQLiteStore(
                    stateDirectory: configuration.stateDirectory, synchronousFull: configuration.durableCommits,
                    logger: Logger(label: "tessera.store"))
            }
        } catch {
            throw CLIFailure("cannot open the store: \(error)")
        }
        let audit: AuditLog
        do {
            audit = try AuditLog.make(
                configuration.auditSinks, stateDirectory: configuration.stateDirectory, clock: SystemClock(),
                logger: Logger(label: "tessera.audit"), otlpLogHandler: telemetry.logHandler)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let serverEnvironment = try await ServerEnvironment(configuration: configuration, store: store, logger: logger, audit: audit)
        serverEnvironment.recordStart()
        do {
            try await serverEnvironment.prepareBootstrap()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let host = configuration.host
        let bootstrapPending = try await serverEnvironment.iam.bootstrapAvailable()
        let app = try buildApplication(serverEnvironment) { port in
            let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            Output.context("tessera: listening on \(base)")
            if bootstrapPending {
                // The binary as invoked (e.g. .build/release/tessera), so the line can be pasted.
                let me = CommandLine.arguments.first ?? "tessera"
                Output.context("next: \(me) iam bootstrap --server \(base)   (creates the admin; prints its API key once)")
                Output.context("then: open \(base)/console in a browser and sign in with that key (the operator console)")
            } else {
                Output.context("next: curl \(base)/health   (JWKS: \(base)/.well-known/jwks.json)")
                Output.context("console: open \(base)/console in a browser (sign in with a username and password, or an API key)")
            }
        }
        // SIGTERM/SIGINT drain in-flight requests, but not forever (see ShutdownDeadline).
        let lifecycle = ServiceGroupConfiguration(
            // Services stop in reverse order: the exporters last, after the app has drained, so
            // the spans, logs and audit records of the drain are still exported.
            services: telemetry.services.map { .init(service: $0) }
                + [.init(service: app), .init(service: ShutdownDeadline(limit: Self.drainLimit, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await ServiceGroup(configuration: lifecycle).run()
        Output.context("tessera: stopped")
    }

    /// Raises the soft open-files limit to the hard limit (a default soft limit of 1,024 is what
    /// let 1,100 idle connections starve `/health`), and returns the limit now in force.
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}
