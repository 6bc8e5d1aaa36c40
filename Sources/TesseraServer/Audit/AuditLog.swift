import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TesseraCore

/// Where one sink writes: its task drains the sink's ``AuditQueue``.
protocol AuditSink: Sendable {
    var spec: AuditSinkSpec { get }
    var queue: AuditQueue { get }
    /// False while the sink cannot write (its receiver down, its disk full): with
    /// `on_failure=fail_closed`, permits stop until it is true again.
    var isWriting: Bool { get }
    /// Drains the queue until `shutdown` says stop (then one last bounded attempt).
    func run(until shutdown: AuditShutdown) async
}

/// Set when the server stops: sinks finish what they hold, within ``AuditLog/drainLimit``.
final class AuditShutdown: Sendable {
    private let flag = Atomic<Bool>(false)
    var requested: Bool { flag.load(ordering: .relaxed) }
    func request() { flag.store(true, ordering: .relaxed) }
}

/// The audit stream: every security-relevant event, to every configured sink (docs/audit.md).
///
/// Recording is one short lock per sink and never waits for a sink: an event goes into each
/// matching sink's bounded queue, and the sink's own task writes it. A sink that cannot keep up
/// or cannot write fills its queue; after that its new events are dropped and counted — unless
/// it fails closed, when ``permitsAllowed`` turns false and `/evaluate` stops deciding until the
/// sink writes again. With no sink configured, recording is one branch.
public final class AuditLog: Sendable, Service {
    /// No sinks: what tests and a server without `--audit-sink` use.
    public static let disabled = AuditLog(sinks: [], node: nil, clock: SystemClock(), logger: Logger(label: "tessera.audit"))

    /// Events one sink may hold in memory before it drops (or fails closed).
    public static let queueCapacity = 10_000
    /// The shortest time between two flushes (fsync) of a file or spool: the bound on how long an
    /// event waits in memory under load, and what keeps the audit's fsyncs from competing with
    /// the store's durable commits (measured in scripts/load-telemetry).
    static let flushInterval: Duration = .milliseconds(100)

    let sinks: [any AuditSink]
    let node: String?
    let clock: any TesseraClock
    let logger: Logger
    let shutdown = AuditShutdown()
    /// Whether any sink fails closed (else ``permitsAllowed`` is constant true).
    let anyFailClosed: Bool

    init(sinks: [any AuditSink], node: String?, clock: any TesseraClock, logger: Logger) {
        self.sinks = sinks
        self.node = node
        self.clock = clock
        self.logger = logger
        self.anyFailClosed = sinks.contains { $0.spec.onFailure == .failClosed }
    }

    /// Builds the configured sinks (nothing is opened or connected until ``run()``).
    public static func make(
        _ specs: [AuditSinkSpec], stateDirectory: String, clock: any TesseraClock, logger: Logger,
        otlpLogHandler: (@Sendable (String) -> any LogHandler)? = nil
    ) throws -> AuditLog {
        guard !specs.isEmpty else { return .disabled }
        var sinks: [any AuditSink] = []
        for spec in specs {
            switch spec.kind {
            case .file(let path, _, _):
                let state = URL(fileURLWithPath: stateDirectory).standardizedFileURL.resolvingSymlinksInPath().path
                let target = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().resolvingSymlinksInPath().path
                guard target != state, !target.hasPrefix(state + "/") else {
                    throw ConfigurationError.invalid(
                        name: "audit_sinks", value: "file:\(path) (inside the state directory, beside the database and keys: choose another folder)")
                }
                sinks.append(FileAuditSink(spec: spec, logger: logger))
            case .syslog: sinks.append(SyslogAuditSink(spec: spec, logger: logger))
            case .webhook: sinks.append(try WebhookAuditSink(spec: spec, stateDirectory: stateDirectory, logger: logger))
            case .otlp:
                guard let otlpLogHandler else {
                    throw ConfigurationError.invalid(
                        name: "audit_sinks", value: "otlp (OpenTelemetry is off: set OTEL_EXPORTER_OTLP_ENDPOINT, see docs/operations.md)")
                }
                sinks.append(OTLPAuditSink(spec: spec, handler: otlpLogHandler))
            }
        }
        return AuditLog(sinks: sinks, node: ProcessInfo.processInfo.hostName, clock: clock, logger: logger)
    }

    public var isEnabled: Bool { !sinks.isEmpty }

    /// False while a fail-closed sink cannot take events: `/evaluate` then answers 503
    /// `audit_unavailable` rather than decide without a trail.
    public var permitsAllowed: Bool {
        guard anyFailClosed else { return true }
        return sinks.allSatisfy { $0.spec.onFailure != .failClosed || ($0.isWriting && $0.queue.hasHeadroom) }
    }

    /// Records an event: `fill` sets the fields of its kind. Returns at once.
    public func record(
        _ type: AuditStreamEvent.EventType, outcome: String, actor: AuditStreamEvent.Actor, workspace: String? = nil,
        target: AuditStreamEvent.Target? = nil, _ fill: (inout AuditStreamEvent) -> Void = { _ in }
    ) {
        guard !sinks.isEmpty else { return }
        var event = AuditStreamEvent(
            id: "evt_" + Base64URL.random(byteCount: 16), time: Self.timestamp(clock.now()), type: type, outcome: outcome,
            actor: actor, workspace: workspace, target: target)
        event.node = node
        fill(&event)
        Self.bound(&event)
        if let ids = Telemetry.currentTraceIDs() {
            event.trace_id = ids.trace
            event.span_id = ids.span
        }
        let json: [UInt8]
        do {
            json = Array(try CompactJWS.encoder.encode(event))
        } catch {
            logger.error("audit event not encodable", metadata: ["type": "\(type.rawValue)"])
            return
        }
        let record = AuditRecord(event: event, json: json)
        for sink in sinks where sink.spec.workspaces.isEmpty || event.workspace.map(sink.spec.workspaces.contains) == true {
            if !sink.queue.offer(record) { warnDropped(sink) }
        }
    }

    /// A warning on the first drop of a sink and on every 1,000th after it (the metric counts all).
    private func warnDropped(_ sink: any AuditSink) {
        let total = sink.queue.droppedSoFar
        if total == 1 || total % 1_000 == 0 {
            logger.warning(
                "audit events dropped: the sink cannot keep up or cannot write",
                metadata: ["sink": "\(sink.spec)", "dropped_total": "\(total)"])
        }
    }

    /// Runs every sink until the server stops, then gives them ``drainLimit`` to finish.
    public func run() async throws {
        guard !sinks.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        for sink in sinks {
            logger.notice("audit sink", metadata: ["sink": "\(sink.spec)"])
            if sink.spec.onFailure == .drop, case .webhook = sink.spec.kind {} else if sink.spec.onFailure == .drop {
                logger.notice("this sink drops (and counts) events it cannot write: see tessera_audit_events_total", metadata: ["sink": "\(sink.spec.name)"])
            }
        }
        let shutdown = self.shutdown
        await withTaskGroup(of: Void.self) { group in
            for sink in sinks {
                group.addTask { await sink.run(until: shutdown) }
            }
            group.addTask {
                try? await gracefulShutdown()
                shutdown.request()
            }
            await group.waitForAll()
        }
    }
}

extension AuditLog {
    /// The actor of a request's identity.
    public static func actor(_ identity: Identity) -> AuditStreamEvent.Actor {
        if case .apiKey(let key) = identity.source { return AuditStreamEvent.Actor(type: "api_key", id: key, name: identity.username) }
        return AuditStreamEvent.Actor(type: "user", id: identity.userID, name: identity.username)
    }

    /// Caps what a caller controls, so one event stays small enough for every receiver (a
    /// webhook's body limit, a syslog frame, a datagram): tool names at 256 bytes, at most 64
    /// argument names of at most 128 bytes, each `details` value at 1 KiB. A cut is marked in
    /// `details.truncated`.
    static func bound(_ event: inout AuditStreamEvent) {
        var cut = false
        if let tool = event.tool, tool.utf8.count > Evaluator.maxToolNameBytes {
            event.tool = tool.prefix(utf8Bytes: Evaluator.maxToolNameBytes)
            cut = true
        }
        if let names = event.argument_names, names.count > 64 || names.contains(where: { $0.utf8.count > 128 }) {
            event.argument_names = names.prefix(64).map { $0.prefix(utf8Bytes: 128) }
            cut = true
        }
        if let target = event.target, target.id.utf8.count > 512 {
            event.target?.id = target.id.prefix(utf8Bytes: 512)
            cut = true
        }
        if let details = event.details, details.values.contains(where: { $0.utf8.count > 1024 }) {
            event.details = details.mapValues { $0.prefix(utf8Bytes: 1024) }
            cut = true
        }
        if cut { event.details = (event.details ?? [:]).merging(["truncated": "true"]) { _, new in new } }
    }

    /// A session's public reference (its id is a secret: a bearer capability for `/evaluate`).
    public static func sessionRef(_ sessionID: String) -> String {
        "sesref_" + Base64URL.encode(Array(SHA256.hash(data: Array(sessionID.utf8)).prefix(16)))
    }

    /// RFC 3339 UTC with milliseconds (`2026-12-03T13:00:00.123Z`), the `time` of every event.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds % 1000))
    }
}
