import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 document of every route (``OpenAPIDocument``).
struct OpenAPIController {
    func register(on routes: SecuredRouter) throws {
        try routes.on("/openapi.json", method: .get, access: .anonymous, use: document)
    }

    @Sendable func document(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: OpenAPIDocument.buffer))
    }
}
