import Foundation
import Hummingbird
import TesseraCore
import TesseraStore

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
        try routes.on("/health", method: .get, access: .anonymous, use: health)
    }

    @Sendable func health(_ request: Request, context: TesseraRequestContext) async throws -> EditedResponse<Body> {
        if await probe.healthy(store) {
            return EditedResponse(status: .ok, response: Body(status: "ok", version: TesseraVersion.current))
        }
        return EditedResponse(status: .serviceUnavailable, response: Body(status: "degraded", version: TesseraVersion.current))
    }
}
