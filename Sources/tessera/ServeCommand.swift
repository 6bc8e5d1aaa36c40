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

    /// The discussion is the settings table rendered (``ServerSettings/helpText``): every flag,
    /// variable and file key, with its default, so help cannot drift from what is read.
    static let configuration = CommandConfiguration(
        abstract: "Run the Tessera server (embedded SQLite, or PostgreSQL with --database-url).",
        discussion: ServerSettings.helpText
    )

    @Option(help: "JSON config file with snake_case keys (or TESSERA_CONFIG).") var config: String?
    /// Every setting's flag, read against the table by ``ServerConfiguration/Layer/flags(_:)``
    /// rather than declared one by one here: `.allUnrecognized` hands over whatever ArgumentParser
    /// does not know (it still answers --help and --version itself), and ``validate()`` refuses
    /// an unknown flag or a missing value as a usage error.
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("Settings: --flag VALUE or --flag=VALUE, each flag listed above.", valueName: "setting"))
    var settings: [String] = []

    func validate() throws {
        do {
            _ = try ServerConfiguration.Layer.flags(settings)
        } catch {
            throw ValidationError(String(describing: error))
        }
    }

    func run() async throws {
        let configuration = try resolveConfiguration()
        let telemetry = try Self.bootstrapObservability(configuration)
        let logger = Logger(label: "tessera")
        Self.printSettings(configuration, telemetry: telemetry, logger: logger)
        let store = try await Self.openStore(configuration)
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
        let app = try buildApplication(serverEnvironment) { port in Self.printNextStep(host: host, port: port, bootstrapPending: bootstrapPending) }
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

    /// Flags > `TESSERA_*` variables > the config file (`--config` or `TESSERA_CONFIG`) > defaults;
    /// any error is a usage error naming the setting.
    func resolveConfiguration() throws -> ServerConfiguration {
        let environment = ProcessInfo.processInfo.environment
        do {
            var fileLayer = ServerConfiguration.Layer()
            if let path = config ?? environment["TESSERA_CONFIG"] {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigurationError.unreadable(path: path, reason: "cannot read file")
                }
                fileLayer = try ServerConfiguration.Layer.file(data, path: path)
            }
            return try ServerConfiguration.resolve(
                flags: try .flags(settings),
                environment: try .environment(environment),
                file: fileLayer)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    /// OpenTelemetry first (it decides whether log lines are also exported), then logging and the
    /// metrics exporters; before anything logs.
    static func bootstrapObservability(_ configuration: ServerConfiguration) throws -> Telemetry.Setup {
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
        return telemetry
    }

    /// The effective settings on stderr (no secrets), and the open-files limit raised and checked.
    static func printSettings(_ configuration: ServerConfiguration, telemetry: Telemetry.Setup, logger: Logger) {
        Output.context("tessera \(TesseraVersion.current) starting with:")
        for (key, value) in configuration.summary { Output.context("  \(key)=\(value)") }
        Output.context("  otel=\(telemetry.summary)")
        let descriptors = raiseDescriptorLimit()
        Output.context("  open_files_limit=\(descriptors)")
        if descriptors < configuration.connectionLimits.maximumConnections + 64 {
            logger.warning(
                "the open-files limit is below max_connections: connections will be refused by the OS before the cap",
                metadata: ["open_files_limit": "\(descriptors)", "max_connections": "\(configuration.connectionLimits.maximumConnections)"])
        }
    }

    /// PostgreSQL when a database URL is set, else the embedded SQLite store in the state directory.
    static func openStore(_ configuration: ServerConfiguration) async throws -> any TesseraStore {
        do {
            if let url = configuration.databaseURL {
                return try await PostgresStore(url: url, logger: Logger(label: "tessera.store"))
            }
            return try SQLiteStore(
                stateDirectory: configuration.stateDirectory, synchronousFull: configuration.durableCommits,
                logger: Logger(label: "tessera.store"))
        } catch {
            throw CLIFailure("cannot open the store: \(error)")
        }
    }

    /// The newcomer's next step, once the port is bound.
    static func printNextStep(host: String, port: Int, bootstrapPending: Bool) {
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
