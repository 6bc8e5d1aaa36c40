import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TesseraCore

/// How the streamable-HTTP gateway answers with what its upstream said: never the upstream's
/// bytes, always Tessera's own serialisation of the messages it read (round-three finding 1).
///
/// - `application/json`: the one JSON-RPC message is parsed strictly, any tool list in it is
///   filtered, and it is written again. An answer that does not parse is a 502, not a relay.
/// - `text/event-stream` (media types compared case-insensitively, parameters ignored): each
///   event is parsed as an SSE client parses it (``EventStreamParser``), its message judged and
///   written again as one event; an event that does not parse ends the stream with a JSON-RPC
///   error event. This applies to every stream — a POST's answer and the GET stream alike — so
///   a tool list cannot pass unfiltered by arriving where the gateway did not expect it.
/// - anything else: a 2xx with a body Tessera cannot read is a 502; an error status keeps its
///   status without the body; an empty answer (202 to a notification, 200 to DELETE) passes.
struct MCPResponseRelay {
    let visible: Set<String>
    /// The passport's remaining life: the longest a filtered tool list may be cached.
    var ttlMs: Int?
    /// The evaluated `tools/call` this answers (its id) and the receipt of its decision, named
    /// in the answer's `_meta` (`io.tessera/receipt`).
    var receipt: (id: JSONValue, receiptID: String)?
    /// Told of every tool list relayed: the tools' `x-mcp-header` declarations, from which the
    /// gateway derives `Mcp-Param-*` headers (``MCPParamHeaders``).
    var learn: (@Sendable ([String: [MCPParamHeaders.Declaration]]) -> Void)?
    let logger: Logger

    static let maximumMessageBytes = 4 << 20

    enum Kind {
        case json, eventStream, other
    }

    static func kind(_ contentType: String?) -> Kind {
        guard let contentType else { return .other }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch media {
        case "application/json": return .json
        case "text/event-stream": return .eventStream
        default: return .other
        }
    }

    /// A message as the client will see it: filtered, one line of Tessera's JSON.
    func judged(_ message: [String: JSONValue]) -> [UInt8] {
        var out = MCPGovernance.filteringAnyToolList(message, visible: visible, ttlMs: ttlMs)
        if let learn {
            let declarations = MCPParamHeaders.declarations(in: out)
            if !declarations.isEmpty { learn(declarations) }
        }
        if let receipt { out = MCPGovernance.annotatingReceipt(out, id: receipt.id, receipt: receipt.receiptID) }
        return MCPGovernance.wire(.object(out))
    }

    func response(from upstream: HTTPClientResponse, headers upstreamHeaders: HTTPFields) async throws -> Response {
        let status = HTTPResponse.Status(code: Int(upstream.status.code))
        var headers = upstreamHeaders
        headers[.contentLength] = nil
        headers[.contentType] = nil
        let success = (200..<300).contains(status.code)
        switch Self.kind(upstream.headers.first(name: "content-type")) {
        case .json:
            let whole = try await upstream.body.collect(upTo: Self.maximumMessageBytes)
            // An empty body labelled JSON (the official SDK's 202 to a notification, its 200 to
            // DELETE) is no message: it passes with its status, like an unlabelled empty one.
            if whole.readableBytes == 0 { return Response(status: status, headers: headers) }
            guard case .object(let message)? = try? StrictJSON.parse(whole.readableBytesView) else {
                logger.warning("the MCP upstream answered JSON Tessera could not read; refused", metadata: ["status": "\(status.code)"])
                return success ? Self.unreadable() : Response(status: status, headers: headers)
            }
            headers[.contentType] = "application/json"
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: judged(message))))
        case .eventStream:
            headers[.contentType] = "text/event-stream"
            let body = upstream.body
            let relay = self
            return Response(
                status: status, headers: headers,
                body: ResponseBody { writer in
                    try await relay.stream(body, into: &writer)
                    try await writer.finish(nil)
                })
        case .other:
            // No body (a 202 to a notification, a 200 to DELETE) passes with its status; an error
            // status keeps its status without the body; a success with a body Tessera cannot
            // read is refused.
            let whole = try await upstream.body.collect(upTo: Self.maximumMessageBytes)
            if whole.readableBytes == 0 || !success {
                return Response(status: status, headers: headers)
            }
            logger.warning("the MCP upstream answered with a content type Tessera cannot read; refused")
            return Self.unreadable()
        }
    }

    /// Reads events as they arrive and writes each, judged, as soon as it is complete.
    func stream(_ body: HTTPClientResponse.Body, into writer: inout any ResponseBodyWriter) async throws {
        var parser = EventStreamParser(maximumEventBytes: Self.maximumMessageBytes)
        do {
            for try await chunk in body {
                for event in try parser.feed(chunk.readableBytesView) {
                    guard let bytes = render(event) else { return try await end(&writer) }
                    try await writer.write(ByteBuffer(bytes: bytes))
                }
            }
            for event in try parser.finish() {
                guard let bytes = render(event) else { return try await end(&writer) }
                try await writer.write(ByteBuffer(bytes: bytes))
            }
        } catch is EventStreamParser.Failure {
            try await end(&writer)
        }
    }

    /// An event written again, or nil when its data is not one JSON-RPC message.
    func render(_ event: EventStreamParser.Event) -> [UInt8]? {
        guard let data = event.data else { return EventStreamParser.render(event, data: nil) }
        // An empty `data` (a resumption priming event) carries no message.
        if data.isEmpty { return EventStreamParser.render(event, data: []) }
        guard case .object(let message)? = try? StrictJSON.parse(Array(data.utf8)) else {
            logger.warning("the MCP upstream sent an event Tessera could not read; stream ended")
            return nil
        }
        return EventStreamParser.render(event, data: judged(message))
    }

    func end(_ writer: inout any ResponseBodyWriter) async throws {
        let error = MCPGovernance.wire(
            MCPGovernance.errorResponse(code: -32603, message: "the MCP upstream sent an event Tessera could not read; stream ended", id: .null))
        try await writer.write(ByteBuffer(bytes: EventStreamParser.render(.init(), data: error)))
    }

    static func unreadable() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let body = MCPGovernance.wire(
            MCPGovernance.errorResponse(code: -32603, message: "the MCP upstream's answer could not be read by Tessera; refused", id: .null))
        return Response(status: .badGateway, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
