import Hummingbird
import TesseraCore

/// `GET /metrics`: Prometheus text format, for holders of `metrics:read`.
struct MetricsController {
    func register(on routes: SecuredRouter) throws {
        try routes.on("/metrics", method: .get, access: .capability(Capability.metricsRead), use: exposition)
    }

    @Sendable func exposition(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: TesseraMetrics.exposition())))
    }
}
