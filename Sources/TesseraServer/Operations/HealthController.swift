import Foundation
import Hummingbird
import TesseraCore
import TesseraStore
import Synchronization

/// `GET /health`: `{"status":"ok","version":…}` while the store answers; `degraded` with 503
/// when it does not, so a load balancer takes the node out instead of sending it traffic it
/// would refuse.
struct HealthController {
    let store: any TesseraStore
    /// The store is probed at most once a second: a load balancer polling /health (or a load
    /// test) must not turn into a database query per request.
    let probe = HealthProbe()

    struct Body: ResponseEncodable {
        var status: String
        var version: String
    }

    func register(on routes: SecuredRouter) throws {
        try routes.on("/health", method: .get, access: .anonymous) { _, _ in
            if await probe.healthy(store) {
                return EditedResponse(status: .ok, response: Body(status: "ok", version: TesseraVersion.current))
            }
            return EditedResponse(status: .serviceUnavailable, response: Body(status: "degraded", version: TesseraVersion.current))
        }
    }
}

/// The last store probe, reused for one second.
final class HealthProbe: Sendable {
    private let last = Mutex<(at: ContinuousClock.Instant, healthy: Bool)?>(nil)

    func healthy(_ store: any TesseraStore) async -> Bool {
        let now = ContinuousClock.now
        if let last = last.withLock({ $0 }), now - last.at < .seconds(1) { return last.healthy }
        let healthy = (try? await store.ping()) != nil
        last.withLock { $0 = (now, healthy) }
        return healthy
    }
}

/// `GET /metrics`: Prometheus text format, for holders of `metrics:read`.
struct MetricsController {
    func register(on routes: SecuredRouter) throws {
        try routes.on("/metrics", method: .get, access: .capability(Capability.metricsRead)) { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: TesseraMetrics.exposition())))
        }
    }
}

/// `GET /.well-known/jwks.json`: the active key and retired keys still inside their grace period.
struct JWKSController {
    let keys: SigningKeyService

    func register(on routes: SecuredRouter) throws {
        try routes.on("/.well-known/jwks.json", method: .get, access: .anonymous) { _, _ in
            // Short enough that a rotation reaches verifiers quickly.
            JSONResponse(keys.jwks(), headers: [.cacheControl: "public, max-age=60"])
        }
    }
}
