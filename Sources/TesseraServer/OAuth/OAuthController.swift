import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore
import TesseraStore

/// The OAuth 2.1 authorization server's HTTP surface (see ``OAuthService`` and docs/oauth.md).
/// The OAuth endpoints answer in the RFCs' shapes (form-encoded requests, `{"error",
/// "error_description"}` via ``ErrorMapping/oauth(_:basicAuthentication:)``); the management
/// API (templates, clients, grants) in the server's usual error shape.
struct OAuthController {
    let oauth: OAuthService
    let secureCookies: Bool

    static let maximumFormBytes = FormBody.maximumBytes

    func register(on routes: SecuredRouter) throws {
        // The OAuth endpoints authenticate their clients themselves (RFC 6749 §2.3), so they
        // are anonymous to the IAM authorizer; introspection is for IAM principals.
        try routes.on("/.well-known/oauth-authorization-server", method: .get, access: .anonymous, use: metadata)
        try routes.on("/oauth/authorize", method: .get, access: .anonymous, use: authorize)
        try routes.on("/oauth/authorize", method: .post, access: .anonymous, use: authorizeForm)
        try routes.on("/oauth/token", method: .post, access: .anonymous, use: token)
        try routes.on("/oauth/register", method: .post, access: .anonymous, use: registerClient)
        try routes.on("/oauth/revoke", method: .post, access: .anonymous, use: revoke)
        try routes.on("/oauth/introspect", method: .post, access: .capability(Capability.tokensIntrospect), use: introspect)
        try routes.on("/oauth/clients", method: .get, access: .capability(Capability.oauthRead), use: listClients)
        try routes.on("/oauth/clients/:client_id", method: .delete, access: .capability(Capability.oauthWrite), use: deleteClient)
        try routes.on("/oauth/grants", method: .get, access: .authenticated, use: listGrants)
        try routes.on("/oauth/grants/:id", method: .delete, access: .authenticated, use: deleteGrant)
        try routes.on("/mission-templates", method: .post, access: .capability(Capability.oauthWrite), use: createTemplate)
        try routes.on("/mission-templates", method: .get, access: .capability(Capability.oauthRead), use: listTemplates)
        try routes.on("/mission-templates/:name", method: .get, access: .capability(Capability.oauthRead), use: showTemplate)
        try routes.on("/mission-templates/:name", method: .delete, access: .capability(Capability.oauthWrite), use: deleteTemplate)
    }

    @Sendable func metadata(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        var response = try JSONResponse(try await oauth.metadata()).response(from: request, context: context)
        response.headers[.cacheControl] = "max-age=60"
        return response
    }

    // MARK: authorization endpoint

    @Sendable func authorize(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let query: FormBody
        do {
            query = try FormBody(parsing: request.uri.query ?? "")
        } catch {
            return OAuthPages.error(.init(status: 400, message: "The authorization request is malformed: \(error.description)."))
        }
        return try await answer { try await oauth.beginAuthorization(query, address: context.remoteAddress) }
    }

    @Sendable func authorizeForm(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let form: FormBody
        do {
            form = try await Self.form(request)
        } catch {
            return OAuthPages.error(.init(status: 400, message: error.description))
        }
        let cookie = form.value("request").flatMap { Self.cookie(OAuthService.cookieName(for: $0), in: request.headers[values: .cookie]) }
        return try await answer { try await oauth.continueAuthorization(form, cookie: cookie, address: context.remoteAddress) }
    }

    func answer(_ step: () async throws -> OAuthService.AuthorizeOutcome) async throws -> Response {
        do {
            switch try await step() {
            case .page(let step):
                switch step.kind {
                case .signIn: return OAuthPages.signIn(step, secureCookie: secureCookies)
                case .consent: return OAuthPages.consent(step)
                }
            case .redirect(let redirect):
                var headers = HTTPFields()
                headers[.location] = redirect.location
                headers[.cacheControl] = "no-store"
                headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
                return Response(status: .seeOther, headers: headers)
            }
        } catch let failure as OAuthService.PageFailure {
            return OAuthPages.error(failure)
        } catch is StoreError {
            // The person is on a page: an outage is a page too, not an API error body.
            return OAuthPages.error(.init(status: 503, message: "The server cannot complete this sign-in now. Try again shortly."))
        }
    }

    // MARK: token, registration, revocation, introspection

    @Sendable func token(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let authorization = request.headers[.authorization]
        do {
            let form = try await Self.form(request)
            let tokenContext = OAuthService.TokenRequestContext(
                authorization: authorization, dpop: request.headers[values: HTTPField.Name("DPoP")!], address: context.remoteAddress)
            let answer = try await Telemetry.span("tessera.oauth.token") { span in
                // The grant type and client only: never a code, verifier, assertion or token.
                if Telemetry.isTracing {
                    span.attributes["oauth.grant_type"] = (form.value("grant_type") ?? "").prefix(utf8Bytes: 64)
                    if let client = form.value("client_id"), client.utf8.count <= 256 { span.attributes["oauth.client_id"] = client }
                }
                return try await oauth.token(form, tokenContext)
            }
            return Self.noStore(try JSONResponse(answer).response(from: request, context: context))
        } catch let failure as OAuthFailure {
            return ErrorMapping.oauth(failure, basicAuthentication: authorization?.lowercased().hasPrefix("basic ") == true)
        }
    }

    @Sendable func registerClient(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        do {
            var request = request
            let object: [String: JSONValue]
            do {
                object = try await request.decodeJSONObject(context: context)
            } catch let error as APIError {
                throw OAuthFailure.invalidClientMetadata(error.message)
            }
            let client = try await oauth.register(object, address: context.remoteAddress)
            var response = try JSONResponse(client).response(from: request, context: context)
            response.status = .created
            return Self.noStore(response)
        } catch let failure as OAuthFailure {
            return ErrorMapping.oauth(failure)
        }
    }

    @Sendable func revoke(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let authorization = request.headers[.authorization]
        do {
            try await oauth.revoke(try await Self.form(request), authorization: authorization)
            return Self.noStore(Response(status: .ok))
        } catch {
            return ErrorMapping.oauth(error, basicAuthentication: authorization?.lowercased().hasPrefix("basic ") == true)
        }
    }

    @Sendable func introspect(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        do {
            let answer = try await oauth.introspect(try await Self.form(request), by: try context.authenticatedIdentity())
            return Self.noStore(try JSONResponse(answer).response(from: request, context: context))
        } catch let failure as OAuthFailure {
            return ErrorMapping.oauth(failure)
        }
    }

    // MARK: management

    @Sendable func listClients(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<OAuthWire.ClientList> {
        JSONResponse(OAuthWire.ClientList(clients: try await oauth.clients(by: try context.authenticatedIdentity())))
    }

    @Sendable func deleteClient(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        try await oauth.deleteClient(context.parameters.get("client_id") ?? "", by: try context.authenticatedIdentity())
        return Response(status: .noContent)
    }

    @Sendable func listGrants(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<OAuthWire.GrantList> {
        JSONResponse(OAuthWire.GrantList(grants: try await oauth.grants(by: try context.authenticatedIdentity())))
    }

    @Sendable func deleteGrant(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        try await oauth.revokeGrant(context.parameters.get("id") ?? "", by: try context.authenticatedIdentity())
        return Response(status: .noContent)
    }

    @Sendable func createTemplate(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeJSONObject(context: context)
        let template = try await oauth.createTemplate(body, by: try context.authenticatedIdentity())
        var response = try JSONResponse(template).response(from: request, context: context)
        response.status = .created
        return response
    }

    @Sendable func listTemplates(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<OAuthWire.TemplateList> {
        JSONResponse(OAuthWire.TemplateList(templates: try await oauth.templates(by: try context.authenticatedIdentity())))
    }

    @Sendable func showTemplate(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<MissionTemplate> {
        JSONResponse(try await oauth.template(context.parameters.get("name") ?? "", by: try context.authenticatedIdentity()))
    }

    @Sendable func deleteTemplate(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        try await oauth.deleteTemplate(context.parameters.get("name") ?? "", by: try context.authenticatedIdentity())
        return Response(status: .noContent)
    }

    // MARK: helpers

    /// A form-encoded body (RFC 6749 §3.2: `application/x-www-form-urlencoded`), strictly parsed.
    static func form(_ request: Request) async throws(OAuthFailure) -> FormBody {
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == "application/x-www-form-urlencoded" else {
            throw .invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumFormBytes)
        } catch {
            throw .invalidRequest("the body is larger than \(maximumFormBytes) bytes")
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else { throw .invalidRequest("the body is not UTF-8") }
        do {
            return try FormBody(parsing: text)
        } catch {
            throw .invalidRequest(error.description)
        }
    }

    static func cookie(_ name: String, in headers: [String]) -> String? {
        for header in headers {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0] == name { return String(pair[1]) }
            }
        }
        return nil
    }

    static func noStore(_ response: Response) -> Response {
        var response = response
        response.headers[.cacheControl] = "no-store"
        response.headers[HTTPField.Name("Pragma")!] = "no-cache"
        return response
    }
}
