import Foundation
import Logging
import Metrics
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// OpenTelemetry for `tessera serve` and `tessera gateway`: traces, and on request logs and
/// metrics, exported over OTLP/HTTP by swift-otel (docs/operations.md).
///
/// Off unless an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the traces
/// endpoint, or the config file's `otel_exporter_otlp_endpoint`) and `OTEL_SDK_DISABLED` is not
/// true. Off costs nothing on a request: no tracing middleware is installed and every
/// ``span(_:kind:_:)`` is one load of a flag and a direct call.
///
/// Configuration is the standard `OTEL_*` environment variables, read by swift-otel itself; the
/// config file's `otel_*` keys are the same variables in lower case and apply where the
/// environment does not set them (so the environment wins, as with every other setting).
public enum Telemetry {
    @usableFromInline static let tracing = Atomic<Bool>(false)
    private static let metadataProvider = OTel.makeLoggingMetadataProvider()

    /// Whether spans are being recorded (checked before any span work).
    @inline(__always) public static var isTracing: Bool { tracing.load(ordering: .relaxed) }

    /// The config-file keys (the standard variables in lower case).
    public static let fileKeys: [String] = [
        "otel_exporter_otlp_endpoint", "otel_exporter_otlp_traces_endpoint", "otel_exporter_otlp_logs_endpoint",
        "otel_exporter_otlp_metrics_endpoint", "otel_exporter_otlp_protocol", "otel_exporter_otlp_headers",
        "otel_exporter_otlp_timeout", "otel_service_name", "otel_traces_sampler", "otel_traces_sampler_arg",
        "otel_resource_attributes", "otel_sdk_disabled", "otel_traces_exporter", "otel_logs_exporter",
        "otel_metrics_exporter", "otel_bsp_schedule_delay", "otel_metric_export_interval", "otel_propagators",
    ]

    /// What was decided at start-up: whether telemetry is on, and what runs it.
    public struct Setup: Sendable {
        public var enabled: Bool
        /// One line for the start-up summary (no secrets: headers are never printed).
        public var summary: String
        /// The OTLP log handler (audit `otlp` sink, and app logs with `OTEL_LOGS_EXPORTER=otlp`).
        public var logHandler: (@Sendable (String) -> any LogHandler)?
        /// Whether application logs go to OTLP too.
        public var exportLogs: Bool
        /// The OTLP metrics factory, to run beside Prometheus (`OTEL_METRICS_EXPORTER=otlp`).
        public var metricsFactory: (any MetricsFactory)?
        /// The exporters' background services, run with the server.
        public var services: [any Service]

        public static let off = Setup(enabled: false, summary: "off", logHandler: nil, exportLogs: false, metricsFactory: nil, services: [])
    }

    /// Applies the file keys the environment leaves unset, then decides. Call once, before any
    /// logger, metric or span exists.
    public static func bootstrap(fileSettings: [String: String], wantsLogHandler: Bool, logger: Logger) throws -> Setup {
        for (key, value) in fileSettings where Telemetry.fileKeys.contains(key) {
            let name = key.uppercased()
            if ProcessInfo.processInfo.environment[name] == nil { setenv(name, value, 0) }
        }
        let environment = ProcessInfo.processInfo.environment
        let endpoint = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" {
            return Setup(enabled: false, summary: "off (OTEL_SDK_DISABLED=true)", logHandler: nil, exportLogs: false, metricsFactory: nil, services: [])
        }
        guard let endpoint, !endpoint.isEmpty else { return .off }
        for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] {
            if let value = environment[name], !["http/protobuf", "http/json"].contains(value) {
                throw ConfigurationError.invalid(name: name, value: "\(value) (this build exports http/protobuf or http/json; grpc is not built in)")
            }
        }
        var configuration = OTel.Configuration.default
        configuration.diagnosticLogger = .custom(Logger(label: "tessera.otel"))
        // Errors only: swift-otel's warnings may quote what it failed to parse.
        configuration.diagnosticLogLevel = .error
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.logs.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.otlpExporter.protocol = .httpProtobuf
        var setup = Setup(enabled: true, summary: "", logHandler: nil, exportLogs: false, metricsFactory: nil, services: [])
        var signals: [String] = []
        // Logs and metrics first: their exporters' HTTP clients take the global tracer when they
        // are made, and made before it exists they never trace their own uploads (which would
        // be noise, and a loop).
        setup.exportLogs = environment["OTEL_LOGS_EXPORTER"]?.lowercased() == "otlp"
        if setup.exportLogs || wantsLogHandler {
            var logs = configuration
            logs.logs.enabled = true
            logs.logs.exporter = .otlp
            let backend = try OTel.makeLoggingBackend(configuration: logs)
            setup.logHandler = backend.factory
            setup.services.append(backend.service)
            signals.append(setup.exportLogs ? "logs" : "audit logs")
        }
        if environment["OTEL_METRICS_EXPORTER"]?.lowercased() == "otlp" {
            let metrics = try OTel.makeMetricsBackend(configuration: configuration)
            setup.metricsFactory = metrics.factory
            setup.services.append(metrics.service)
            signals.append("metrics")
        }
        if environment["OTEL_TRACES_EXPORTER"]?.lowercased() != "none" {
            let tracing = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(tracing.factory)
            setup.services.append(tracing.service)
            Self.tracing.store(true, ordering: .relaxed)
            signals.insert("traces", at: 0)
        }
        let service = environment["OTEL_SERVICE_NAME"] ?? "unknown_service"
        setup.summary = "on (\(signals.joined(separator: ", ")) to \(Self.redacted(endpoint)), service \(service))"
        return setup
    }

    /// Reads W3C trace context (`traceparent`, `tracestate`) from a dictionary: the only carrier
    /// Tessera hands the propagator, holding those two bounded values and nothing else.
    struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key.lowercased()] }
    }

    /// An endpoint without user information or query.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(unparseable URL)" }
        components.user = nil
        components.password = nil
        components.query = nil
        return components.string ?? "(unparseable URL)"
    }

    /// The current span's trace and span ids (hex), when tracing.
    public static func currentTraceIDs() -> (trace: String, span: String)? {
        guard isTracing else { return nil }
        let metadata = metadataProvider.get()
        guard let trace = metadata["trace_id"], let span = metadata["span_id"] else { return nil }
        return ("\(trace)", "\(span)")
    }

    /// The metadata provider that puts the current trace and span ids on every log line.
    public static var loggingMetadataProvider: Logger.MetadataProvider? { isTracing ? metadataProvider : nil }

    /// Runs `body` in a child span named `name` when tracing, else just runs it.
    @inlinable
    public static func span<T>(
        _ name: String, kind: SpanKind = .internal, isolation: isolated (any Actor)? = #isolation, _ body: (any Span) async throws -> T
    ) async rethrows -> T {
        guard isTracing else { return try await body(NoOpTracer.NoOpSpan(context: .topLevel)) }
        let span = startSpan(name, ofKind: kind)
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context, operation: { try await body(span) }, isolation: isolation)
        } catch {
            record(error, on: span)
            throw error
        }
    }

    /// An error on a span: its type only. A description may quote what failed to parse or
    /// verify (a token, an argument), which no span may hold.
    @usableFromInline
    static func record(_ error: any Error, on span: any Span) {
        span.attributes["error.type"] = String(describing: type(of: error))
        span.setStatus(SpanStatus(code: .error))
    }

    /// The synchronous form of ``span(_:kind:isolation:_:)``.
    @inlinable
    public static func span<T>(_ name: String, kind: SpanKind = .internal, _ body: (any Span) throws -> T) rethrows -> T {
        guard isTracing else { return try body(NoOpTracer.NoOpSpan(context: .topLevel)) }
        let span = startSpan(name, ofKind: kind)
        defer { span.end() }
        do {
            return try ServiceContext.$current.withValue(span.context) { try body(span) }
        } catch {
            record(error, on: span)
            throw error
        }
    }
}
