import HTTPTypes
import Hummingbird
import Tracing

/// The SERVER span of every request, as OpenTelemetry's HTTP semantic conventions name it:
/// `{method} {route}` (`POST /evaluate`, `POST /mcp/{name}`), continuing the caller's W3C trace
/// context (`traceparent`, `tracestate`).
///
/// Hummingbird's own `TracingMiddleware` names the span by the route alone and records the query
/// string; this one records neither the query (it may carry an OAuth `code` or `state`) nor any
/// header but `User-Agent`. Installed only while ``Telemetry/isTracing``.
struct HTTPTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var parent = ServiceContext.current ?? .topLevel
        // Only the two W3C fields, each bounded, are handed to the propagator: given the whole
        // header block, a malformed `traceparent` made swift-otel log every header — credentials
        // included — as the "carrier" of its warning.
        var carrier: [String: String] = [:]
        for name in [HTTPField.Name("traceparent")!, HTTPField.Name("tracestate")!] {
            if let value = request.headers[name], value.utf8.count <= 512 { carrier[name.canonicalName] = value }
        }
        if !carrier.isEmpty { InstrumentationSystem.instrument.extract(carrier, into: &parent, using: Telemetry.DictionaryExtractor()) }
        let method = request.method.rawValue
        let span = startSpan(method, context: parent, ofKind: .server)
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = request.uri.path.prefix(utf8Bytes: 1024)
        span.attributes["url.scheme"] = "http"
        if let agent = request.headers[.userAgent] { span.attributes["user_agent.original"] = String(agent.prefix(256)) }
        if let address = (context as? TesseraRequestContext)?.remoteAddress {
            span.attributes["client.address"] = address
            span.attributes["network.peer.address"] = address
        }
        defer { span.end() }
        do {
            let response = try await ServiceContext.$current.withValue(span.context) { try await next(request, context) }
            finish(span, route: context.endpointPath, method: method, status: Int(response.status.code))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(span, route: context.endpointPath, method: method, status: Int(status))
            throw error
        }
    }

    private func finish(_ span: any Span, route: String?, method: String, status: Int) {
        if let route {
            span.operationName = "\(method) \(route)"
            span.attributes["http.route"] = route
        }
        span.attributes["http.response.status_code"] = status
        if status >= 500 {
            span.attributes["error.type"] = String(status)
            span.setStatus(SpanStatus(code: .error))
        }
    }

}
