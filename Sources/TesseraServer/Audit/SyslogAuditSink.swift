import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// RFC 5424 messages to a syslog collector: over TCP or TLS framed by octet counting (RFC 6587
/// §3.4.1, RFC 5425 §4.3), or as datagrams to a local Unix socket (as to `/dev/log`).
///
/// Syslog has no acknowledgement: an event is written once the kernel takes it. A connection that
/// fails is reopened (backing off to 5 s) and the events queued meanwhile are sent in order; the
/// few written into a connection the collector had already dropped are lost, as with any plain
/// syslog transport (the webhook sink is the one with at-least-once delivery).
final class SyslogAuditSink: AuditSink {
    let spec: AuditSinkSpec
    let queue: AuditQueue
    let transport: AuditSinkSpec.Transport
    let logger: Logger
    let hostname: String
    private let writing = Atomic<Bool>(true)
    var isWriting: Bool { writing.load(ordering: .relaxed) }

    /// `log audit` (RFC 5424 §6.2.1).
    static let facility = 13
    /// The structured-data id (RFC 5424 §6.3.2 name@enterprise; 32473 is the number RFC 5612
    /// reserves for documentation, used until Tessera registers its own).
    static let structuredDataID = "tessera@32473"

    init(spec: AuditSinkSpec, logger: Logger) {
        guard case .syslog(let transport) = spec.kind else { preconditionFailure("not a syslog sink") }
        self.spec = spec
        self.transport = transport
        self.logger = logger
        self.queue = AuditQueue(sink: "syslog", capacity: AuditLog.queueCapacity)
        self.hostname = Self.headerToken(ProcessInfo.processInfo.hostName, limit: 255)
    }

    /// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME tessera PROCID MSGID [SD] JSON`.
    static func message(_ record: AuditRecord, hostname: String, pid: Int32 = getpid()) -> [UInt8] {
        let event = record.event
        let severity = event.isFailure ? 4 : 6
        var sd = "[\(structuredDataID) id=\"\(escape(event.id))\" type=\"\(escape(event.type))\" outcome=\"\(escape(event.outcome))\""
        if let workspace = event.workspace { sd += " workspace=\"\(escape(workspace))\"" }
        sd += "]"
        let header = "<\(facility * 8 + severity)>1 \(event.time) \(hostname) tessera \(pid) \(headerToken(event.type, limit: 32)) \(sd) "
        return Array(header.utf8) + record.json
    }

    /// SD-PARAM values escape `"`, `\` and `]` (RFC 5424 §6.3.3).
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            if character == "\"" || character == "\\" || character == "]" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Header fields are printable US-ASCII without spaces, bounded; else `-` (the nil value).
    static func headerToken(_ value: String, limit: Int) -> String {
        let printable = value.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }
        let token = String(String.UnicodeScalarView(printable.prefix(limit)))
        return token.isEmpty ? "-" : token
    }

    func run(until shutdown: AuditShutdown) async {
        var connection: Connection?
        var failures = 0
        defer { connection?.close() }
        while true {
            guard let batch = await queue.nextBatch(256, until: shutdown) else { return }
            do {
                if connection == nil || connection?.isOpen == false { connection = try await connect() }
                try await connection!.send(batch.map { Self.message($0, hostname: hostname) })
                queue.remove(batch.count, .written)
                if failures > 0 { logger.notice("syslog collector reachable again", metadata: ["sink": "\(spec)"]) }
                failures = 0
                writing.store(true, ordering: .relaxed)
            } catch {
                connection?.close()
                connection = nil
                failures += 1
                writing.store(false, ordering: .relaxed)
                if failures == 1 { logger.error("cannot write to the syslog collector", metadata: ["sink": "\(spec)", "error": "\(error)"]) }
                if shutdown.requested { return }
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A stream (TCP, TLS) or a connected datagram socket.
    enum Connection {
        case stream(any Channel)
        case datagram(Int32)

        var isOpen: Bool {
            if case .stream(let channel) = self { return channel.isActive }
            return true
        }

        func send(_ messages: [[UInt8]]) async throws {
            switch self {
            case .stream(let channel):
                var buffer = channel.allocator.buffer(capacity: messages.reduce(0) { $0 + $1.count + 8 })
                for message in messages {
                    buffer.writeString("\(message.count) ")
                    buffer.writeBytes(message)
                }
                try await channel.writeAndFlush(buffer)
            case .datagram(let descriptor):
                for message in messages {
                    let sent = message.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard sent == message.count else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
                }
            }
        }

        func close() {
            switch self {
            case .stream(let channel): channel.close(promise: nil)
            case .datagram(let descriptor): Glibc.close(descriptor)
            }
        }
    }

    /// Closes the channel when the collector closes its side, so the next batch reconnects
    /// instead of writing into a dead connection.
    final class CloseOnEOF: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event { context.close(promise: nil) }
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func connect() async throws -> Connection {
        switch transport {
        case .tcp(let host, let port):
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CloseOnEOF()) } }
                .connect(host: host, port: port).get()
            return .stream(channel)
        case .tls(let host, let port, let caFile):
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile { configuration.trustRoots = .file(caFile) }
            let context = try NIOSSLContext(configuration: configuration)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // SNI carries names only (RFC 6066 §3); an IP literal is verified without it.
                        let name = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
                        try channel.pipeline.syncOperations.addHandler(CloseOnEOF())
                    }
                }
                .connect(host: host, port: port).get()
            return .stream(channel)
        case .unix(let path):
            let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                Glibc.close(descriptor)
                throw Failure(description: "socket path too long")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(descriptor)
                throw Failure(description: "connect \(path): \(reason)")
            }
            return .datagram(descriptor)
        }
    }
}
