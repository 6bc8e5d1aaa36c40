import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import HummingbirdCore
import Logging
import NIOCore

/// Time limits for every connection, applied at the very front of the pipeline (before the HTTP
/// decoder and the WebSocket upgrade decision, where Hummingbird's own idle timeout is not
/// installed), so a client that connects and says nothing, trickles a request a byte at a time,
/// or keeps an idle keep-alive connection forever is closed.
public struct ConnectionLimits: Sendable, Equatable {
    /// A request's head (request line and headers) must be complete this long after its first
    /// byte — or after the connection opened, for the first request.
    public var headerTimeout: TimeAmount = .seconds(10)
    /// A keep-alive connection with nothing in either direction this long is closed.
    public var idleTimeout: TimeAmount = .seconds(30)
    /// While a request body is being read or answered, silence in both directions this long ends it.
    public var requestTimeout: TimeAmount = .seconds(30)
    /// An upgraded WebSocket with nothing in either direction this long is closed.
    public var webSocketIdleTimeout: TimeAmount = .seconds(300)
    /// Open connections at most; past it the server stops accepting (they wait in the backlog).
    public var maximumConnections: Int = 4096

    public init() {}
}

/// Counts open connections and stops accepting at the cap, saying so once in the log.
struct ConnectionCap: AvailableConnectionsDelegate {
    let maximum: Int
    let logger: Logger
    var count = 0
    var saturated = false

    mutating func connectionOpened() {
        count += 1
        if count >= maximum, !saturated {
            saturated = true
            logger.warning(
                "connection limit reached: not accepting new connections until some close",
                metadata: ["open": "\(count)", "limit": "\(maximum)", "hint": "raise max_connections or the descriptor limit (ulimit -n)"])
        }
    }

    mutating func connectionClosed() {
        count -= 1
        if saturated, count < maximum * 9 / 10 {
            saturated = false
            logger.notice("accepting connections again", metadata: ["open": "\(count)"])
        }
    }

    func isAcceptingNewConnections() -> Bool { count < maximum }
}

/// The front-of-pipeline handler enforcing ``ConnectionLimits``. It reads raw bytes only to find
/// where a request head ends (`CRLF CRLF`) and sees the `101` that starts a WebSocket.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        /// Waiting for a request: nothing read since the last response began.
        case idle(first: Bool)
        /// Part of a request head has arrived.
        case head
        /// The head is complete: a body is read or the request is being answered.
        case request
        case webSocket
    }

    let limits: ConnectionLimits
    var phase: Phase = .idle(first: true)
    /// The last four bytes seen, to find `\r\n\r\n` across reads.
    var tail: UInt32 = 0
    /// Bytes of the current request head so far, and whether its request line has ended.
    var headBytes = 0
    var requestLineEnded = false
    var requestLineTooLong = false
    /// A longer head is answered 414 (request line) or 431 (header fields) at once and the
    /// connection closed. Without this bound the HTTP parser's own limit (80 KiB) failed the
    /// request inside the upgrade handler, which answered nothing and held the connection until
    /// the idle deadline.
    static let maximumHeadBytes = 64 * 1024
    var answeredOversized = false
    /// Whether the bytes being scanned start like a request line (`METHOD SP`). After an early
    /// answer (a 413 before the body was read) the rest of that body arrives while this handler
    /// is waiting for the next head; those bytes are not a head and are not counted.
    var countingHead = true
    var deadline: NIODeadline = .now()
    var timer: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, limits.headerTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Refused for an oversized head and closing: nothing more reaches the HTTP parser.
        if answeredOversized { return }
        let buffer = unwrapInboundIn(data)
        switch phase {
        case .idle:
            phase = .head
            tail = 0
            headBytes = 0
            requestLineEnded = false
            requestLineTooLong = false
            countingHead = Self.startsLikeRequestLine(buffer)
            deadline = .now() + limits.headerTimeout
            scanForHeadEnd(buffer)
        case .head:
            scanForHeadEnd(buffer)
        case .request:
            deadline = .now() + limits.requestTimeout
        case .webSocket:
            deadline = .now() + limits.webSocketIdleTimeout
        }
        if countingHead, headBytes > Self.maximumHeadBytes {
            answeredOversized = true
            let status = requestLineEnded && !requestLineTooLong ? "431 Request Header Fields Too Large" : "414 URI Too Long"
            let answer = "HTTP/1.1 \(status)\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
            phase = .request
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer))).whenComplete { _ in
                bound.value.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
    }

    /// `METHOD SP` (1-16 upper-case letters, then a space), or a shorter read of letters only.
    static func startsLikeRequestLine(_ buffer: ByteBuffer) -> Bool {
        var letters = 0
        for byte in buffer.readableBytesView.prefix(17) {
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
                letters += 1
            } else {
                return byte == UInt8(ascii: " ") && letters > 0
            }
        }
        return letters == buffer.readableBytes && letters > 0
    }

    func scanForHeadEnd(_ buffer: ByteBuffer) {
        for byte in buffer.readableBytesView {
            tail = tail << 8 | UInt32(byte)
            headBytes += 1
            if tail & 0xFFFF == 0x0D0A, !requestLineEnded {
                requestLineEnded = true
                requestLineTooLong = headBytes > Self.maximumHeadBytes
            }
            if tail == 0x0D0A_0D0A {
                // A head that ended over the bound is refused too; one under it stops counting.
                if headBytes <= Self.maximumHeadBytes { headBytes = 0 }
                phase = .request
                deadline = .now() + limits.requestTimeout
                return
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch phase {
        case .webSocket:
            deadline = .now() + limits.webSocketIdleTimeout
        default:
            if buffer.readableBytesView.starts(with: Array("HTTP/1.1 101".utf8)) {
                phase = .webSocket
                deadline = .now() + limits.webSocketIdleTimeout
            } else if case .head = phase {
                // An answer before the head completed (an error): the connection is closing.
                deadline = .now() + limits.idleTimeout
            } else {
                // Answering: the connection is idle again once the client stops sending. Bytes
                // of a pipelined request that arrive meanwhile start a new head.
                phase = .idle(first: false)
                deadline = .now() + limits.idleTimeout
            }
        }
        context.write(data, promise: promise)
    }

    func arm(_ context: ChannelHandlerContext, _ after: TimeAmount) {
        deadline = .now() + after
        schedule(context)
    }

    func schedule(_ context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.fire(context)
        }
    }

    func fire(_ context: ChannelHandlerContext) {
        if NIODeadline.now() >= deadline {
            timer = nil
            context.close(promise: nil)
        } else {
            schedule(context)
        }
    }
}

/// Wraps a server child channel so every connection gets a ``ConnectionDeadlineHandler`` first.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let limits: ConnectionLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionDeadlineHandler(limits: limits), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the WebSocket upgrade, every connection under ``ConnectionLimits``.
    static func guardedWebSocketUpgrade(
        limits: ConnectionLimits,
        shouldUpgrade: @escaping @Sendable (HTTPRequest, any Channel, Logger) async throws -> ShouldUpgradeResult<
            WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
        >
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: .init(), shouldUpgrade: shouldUpgrade),
                limits: limits)
        }
    }
}
