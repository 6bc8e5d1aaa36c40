import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import TesseraCore
import TesseraStore

/// The MCP gateway over streamable HTTP: `tessera serve --mcp-upstream NAME=URL` serves the
/// upstream at `/mcp/NAME` with Tessera as the OAuth-style resource server in front.
///
/// - Authorization (MCP 2026-07-28 § Authorization, RFC 9728, RFC 8707): no bearer → 401 with
///   `WWW-Authenticate: Bearer resource_metadata="…/.well-known/oauth-protected-resource/mcp/NAME"`;
///   the bearer is a Tessera passport whose `aud` must name this endpoint's canonical URI; it is
///   never passed upstream.
/// - One governance session per passport (found again by its `jti` on any node), so an MCP
///   session (`Mcp-Session-Id`) maps to one governance session.
/// - `tools/call` is evaluated in-process (no extra hop) before the upstream sees it; a refusal is
///   a JSON-RPC error answered here (-32001 DENY, -32002 APPROVAL_REQUIRED).
/// - `tools/list` answers (JSON or SSE) are filtered to what the passport can ever permit;
///   everything else is relayed as it streams.
struct MCPGatewayController {
    let upstreams: [String: String]
    let publicURL: String?
    let governance: GovernanceService
    let store: any TesseraStore
    let logger: Logger
    /// Passport `jti` → its governance session: fixed once started, so a request after the first
    /// needs no store read to find it.
    let sessions = TTLCache<String, String>(ttl: TimeInterval(GovernanceService.maxTTL))

    static let maximumBody = 4 << 20
    /// Headers passed upstream (never `Authorization`, never hop-by-hop ones).
    static let forwardedRequestHeaders = ["content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"]
    static let forwardedResponseHeaders = ["content-type", "mcp-session-id", "cache-control"]

    /// Declared anonymous: the passport is checked here, as the MCP resource server (a 401 must
    /// carry the resource metadata, which the IAM authorizer does not know about).
    func register(on routes: SecuredRouter) throws {
        guard !upstreams.isEmpty else { return }
        try routes.on("/.well-known/oauth-protected-resource/mcp/:name", method: .get, access: .anonymous, use: metadata)
        for method in [HTTPRequest.Method.post, .get, .delete] {
            try routes.on("/mcp/:name", method: method, access: .anonymous, use: relay)
        }
    }

    /// The canonical URI of an endpoint (RFC 8707): the configured public URL, else the request's
    /// own origin.
    func resource(_ name: String, _ request: Request) -> String {
        let base = publicURL ?? "http://" + (request.head.authority ?? "127.0.0.1")
        return (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/mcp/" + name
    }

    func metadataURL(_ name: String, _ request: Request) -> String {
        let resource = resource(name, request)
        let origin = resource.range(of: "/mcp/").map { String(resource[..<$0.lowerBound]) } ?? resource
        return origin + "/.well-known/oauth-protected-resource/mcp/" + name
    }

    struct ResourceMetadata: Encodable {
        var resource: String
        var authorization_servers: [String]
        var bearer_methods_supported = ["header"]
        var resource_name: String
        var resource_documentation = "https://github.com/tessera/tessera/blob/main/docs/mcp.md"
    }

    @Sendable func metadata(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        guard let name = context.parameters.get("name"), upstreams[name] != nil else { throw APIError.notFound() }
        let resource = resource(name, request)
        let origin = resource.range(of: "/mcp/").map { String(resource[..<$0.lowerBound]) } ?? resource
        return try JSONResponse(ResourceMetadata(
            resource: resource, authorization_servers: [origin], resource_name: "Tessera MCP gateway: \(name)"))
            .response(from: request, context: context)
    }

    func unauthorized(_ name: String, _ request: Request, error: String?) -> Response {
        var headers = HTTPFields()
        var challenge = "Bearer resource_metadata=\"\(metadataURL(name, request))\""
        if let error { challenge += ", error=\"\(error)\"" }
        headers[.wwwAuthenticate] = challenge
        headers[.contentType] = "application/json"
        let body = #"{"error":"\#(error ?? "unauthorized")"}"#
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    @Sendable func relay(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        guard let name = context.parameters.get("name"), let upstream = upstreams[name] else { throw APIError.notFound() }
        guard let bearer = Authenticator.bearer(request.headers[.authorization]) else {
            return unauthorized(name, request, error: nil)
        }
        let claims: PassportClaims
        do {
            claims = try await governance.verify(bearer)
        } catch {
            return unauthorized(name, request, error: "invalid_token")
        }
        guard claims.aud?.contains(resource(name, request)) == true else {
            return unauthorized(name, request, error: "invalid_token")
        }
        var body = ByteBuffer()
        var message: [String: JSONValue]?
        if request.method == .post {
            do {
                body = try await request.body.collect(upTo: Self.maximumBody)
            } catch {
                throw APIError.payloadTooLarge
            }
            guard case .object(let object)? = try? StrictJSON.parse(body.readableBytesView) else {
                return jsonRPC(error: -32700, "parse error: one JSON-RPC message per request (no duplicate members)", id: .null)
            }
            message = object
        }
        let method: String? = if case .string(let m)? = message?["method"] { m } else { nil }
        let session = try await governanceSession(for: claims, token: bearer)
        if method == "tools/call", let message {
            let id = message["id"] ?? .null
            guard case .object(let params)? = message["params"], case .string(let tool)? = params["name"] else {
                return jsonRPC(error: -32602, "tools/call needs params.name", id: id)
            }
            var arguments: [String: JSONValue] = [:]
            if case .object(let object)? = params["arguments"] { arguments = object }
            let result = try await governance.evaluate(sessionID: session, tool: tool, arguments: arguments)
            if let refusal = MCPGovernance.refusal(result, id: id) { return jsonRPC(refusal) }
        }
        if request.method == .delete { _ = try? await governance.end(sessionID: session) }
        return try await forward(request, body: body, to: upstream, filterTools: method == "tools/list" ? claims : nil)
    }

    /// The governance session of this passport: the one it started (on any node), or a new one.
    func governanceSession(for claims: PassportClaims, token: String) async throws -> String {
        let now = Date()
        if let known = sessions.value(for: claims.jti, now: now) { return known }
        let id: String
        if let existing = try await store.session(jti: claims.jti) {
            id = existing.id
        } else {
            do {
                id = try await governance.start(token: token, proof: nil).id
            } catch GovernanceError.passportAlreadyUsed {
                // Another request of the same client started it a moment ago.
                guard let existing = try await store.session(jti: claims.jti) else { throw GovernanceError.passportAlreadyUsed }
                id = existing.id
            }
        }
        sessions.set(id, for: claims.jti, now: now)
        return id
    }

    func jsonRPC(error code: Int, _ message: String, id: JSONValue) -> Response {
        jsonRPC(MCPGovernance.errorResponse(code: code, message: message, id: id))
    }

    /// A JSON-RPC message answered here, in a 200 JSON body.
    func jsonRPC(_ message: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: CanonicalJSON.serialize(message))))
    }

    func forward(_ request: Request, body: ByteBuffer, to upstream: String, filterTools claims: PassportClaims?) async throws -> Response {
        var outbound = HTTPClientRequest(url: upstream)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        for name in Self.forwardedRequestHeaders {
            if let field = HTTPField.Name(name), let value = request.headers[field] { outbound.headers.add(name: name, value: value) }
        }
        if request.method == .post { outbound.body = .bytes(body) }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(outbound, timeout: .seconds(300))
        } catch {
            logger.warning("MCP upstream unreachable", metadata: ["upstream": "\(upstream)", "error": "\(error)"])
            throw APIError(.badGateway, type: "upstream-unavailable", message: "the MCP upstream did not answer")
        }
        var headers = HTTPFields()
        for name in Self.forwardedResponseHeaders {
            if let value = response.headers.first(name: name), let field = HTTPField.Name(name) { headers[field] = value }
        }
        let status = HTTPResponse.Status(code: Int(response.status.code))
        guard let claims else {
            // Relayed as it streams (SSE included).
            return Response(status: status, headers: headers, body: ResponseBody(asyncSequence: response.body))
        }
        // tools/list: read the (bounded) answer and keep only what the passport can ever permit.
        let whole = try await response.body.collect(upTo: Self.maximumBody)
        let permitted = MCPGovernance.visibleTools(claims)
        let text = String(buffer: whole)
        let filtered: String
        if (headers[.contentType] ?? "").hasPrefix("text/event-stream") {
            // (A "\r\n" is one Character in Swift: split on any newline, answer with LF, which SSE allows.)
            filtered = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { line -> String in
                guard line.hasPrefix("data:") else { return String(line) }
                let json = line.dropFirst(5).drop(while: { $0 == " " })
                return "data: " + Self.filterTools(String(json), permitted)
            }.joined(separator: "\n")
        } else {
            filtered = Self.filterTools(text, permitted)
        }
        headers[.contentLength] = nil
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: filtered)))
    }

    static func filterTools(_ json: String, _ permitted: Set<String>) -> String {
        guard case .object(let message)? = try? StrictJSON.parse(Array(json.utf8)),
            let filtered = MCPGovernance.filteringToolsList(message, visible: permitted)
        else { return json }
        return CanonicalJSON.serialize(.object(filtered))
    }
}
