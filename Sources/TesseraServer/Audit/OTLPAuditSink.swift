import Foundation
import Logging
import Synchronization
import TesseraCore

/// Events as OpenTelemetry log records, through the OTLP logs exporter `tessera serve` sets up
/// (docs/operations.md): body `audit TYPE`, every event field an attribute (`audit.*`), and the
/// trace context of the request that caused it.
///
/// The exporter batches and drops on its own schedule, out of sight, so this sink cannot fail
/// closed (refused at start-up) and counts as written what it hands to the exporter.
final class OTLPAuditSink: AuditSink {
    let spec: AuditSinkSpec
    let queue: AuditQueue
    let logger: Logger
    var isWriting: Bool { true }

    init(spec: AuditSinkSpec, handler: @escaping @Sendable (String) -> any LogHandler) {
        self.spec = spec
        self.queue = AuditQueue(sink: "otlp", capacity: AuditLog.queueCapacity)
        var logger = Logger(label: "tessera.audit", factory: handler)
        logger.logLevel = .info
        self.logger = logger
    }

    func run(until shutdown: AuditShutdown) async {
        while true {
            guard let batch = await queue.nextBatch(256, until: shutdown) else { return }
            for record in batch {
                logger.log(level: record.event.isFailure ? .warning : .info, "audit \(record.event.type)", metadata: Self.metadata(record.event))
            }
            queue.remove(batch.count, .written)
        }
    }

    /// The event's fields as flat `audit.*` attributes, plus the trace context the OTLP log
    /// record carries in its own fields.
    static func metadata(_ event: AuditStreamEvent) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "audit.schema": "\(event.schema)", "audit.id": "\(event.id)", "audit.time": "\(event.time)", "audit.type": "\(event.type)",
            "audit.outcome": "\(event.outcome)", "audit.actor.type": "\(event.actor.type)", "audit.actor.id": "\(event.actor.id)",
            "audit.ocsf.class_uid": "\(event.ocsf.class_uid)", "audit.ocsf.type_uid": "\(event.ocsf.type_uid)",
        ]
        func put(_ key: String, _ value: String?) { if let value { metadata[key] = "\(value)" } }
        put("audit.actor.name", event.actor.name)
        put("audit.workspace", event.workspace)
        put("audit.target.type", event.target?.type)
        put("audit.target.id", event.target?.id)
        put("audit.session_ref", event.session_ref)
        put("audit.passport_jti", event.passport_jti)
        put("audit.agent_id", event.agent_id)
        put("audit.tool", event.tool)
        put("audit.reason", event.reason)
        put("audit.receipt_id", event.receipt_id)
        put("audit.approval_id", event.approval_id)
        put("audit.client_address", event.client_address)
        put("audit.node", event.node)
        put("trace_id", event.trace_id)
        put("span_id", event.span_id)
        if let names = event.argument_names { metadata["audit.argument_names"] = "\(names.joined(separator: ","))" }
        return metadata
    }
}
