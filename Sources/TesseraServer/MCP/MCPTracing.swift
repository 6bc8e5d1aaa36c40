import AsyncHTTPClient
import Foundation
import NIOHTTP1
import TesseraCore
import Tracing

/// Spans of the MCP gateway's `tools/call`s (see ``MCPSpanAttributes``), and the trace context it
/// passes on to the upstream. Nothing here runs unless ``Telemetry/isTracing``.
enum MCPTracing {
    /// Starts the `tools/call TOOL` span: a child of the current (HTTP) span, or of the trace
    /// context in `params._meta` when the request carried none in its headers.
    static func start(tool: String, id: JSONValue, params: [String: JSONValue], protocolVersion: String?, headerHadContext: Bool) -> any Span {
        var context = ServiceContext.current ?? .topLevel
        let meta = MCPSpanAttributes.metaTraceContext(params)
        if !headerHadContext, !meta.isEmpty {
            var fresh = ServiceContext.topLevel
            InstrumentationSystem.instrument.extract(meta, into: &fresh, using: Telemetry.DictionaryExtractor())
            context = fresh
        }
        let span = startSpan(MCPSpanAttributes.name(tool: tool), context: context, ofKind: .internal)
        for (key, value) in MCPSpanAttributes.call(tool: tool, id: id, protocolVersion: protocolVersion, transport: "tcp") {
            span.attributes[key] = value
        }
        return span
    }

    static func record(_ result: GovernanceWire.EvaluationResult, on span: (any Span)?) {
        guard let span else { return }
        for (key, value) in MCPSpanAttributes.decision(result) { span.attributes[key] = value }
    }

    /// Runs `body` with `span` as the current span (or as is, without one).
    static func within<T>(_ span: (any Span)?, _ body: () async throws -> T) async rethrows -> T {
        guard let span else { return try await body() }
        return try await ServiceContext.$current.withValue(span.context) { try await body() }
    }

    /// The upstream call as a CLIENT span named by its method, with the upstream's host and port
    /// but not its URL (a configured upstream URL may carry a credential in its query), and the
    /// span's `traceparent` sent upstream.
    static func upstreamCall(
        _ request: HTTPClientRequest, upstream: String, _ execute: (HTTPClientRequest) async throws -> HTTPClientResponse
    ) async throws -> HTTPClientResponse {
        var request = request
        let span = startSpan(request.method.rawValue, ofKind: .client)
        defer { span.end() }
        span.attributes["http.request.method"] = request.method.rawValue
        if let url = URL(string: upstream) {
            span.attributes["server.address"] = url.host ?? ""
            if let port = url.port { span.attributes["server.port"] = port }
        }
        InstrumentationSystem.instrument.inject(span.context, into: &request.headers, using: HeadersInjector())
        do {
            let response = try await execute(request)
            span.attributes["http.response.status_code"] = Int(response.status.code)
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        } catch {
            Telemetry.record(error, on: span)
            throw error
        }
    }

    struct HeadersInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) { carrier.replaceOrAdd(name: key, value: value) }
    }
}
