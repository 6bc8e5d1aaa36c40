import Hummingbird
import TesseraCore

/// `GET /.well-known/jwks.json`: the active key and retired keys still inside their grace period.
struct JWKSController {
    let keys: SigningKeyService

    func register(on routes: SecuredRouter) throws {
        try routes.on("/.well-known/jwks.json", method: .get, access: .anonymous, use: jwks)
    }

    @Sendable func jwks(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<JWKSet> {
        // Short enough that a rotation reaches verifiers quickly.
        JSONResponse(keys.jwks(), headers: [.cacheControl: "public, max-age=60"])
    }
}
