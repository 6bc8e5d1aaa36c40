import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import TesseraCore
import Tracing
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
/// - A key-bound passport (`cnf.jkt`) needs a DPoP proof by its key on every request.
/// - Every message either way is Tessera's own serialisation of what it parsed (the evaluated
///   request, and the upstream's answers through ``MCPResponseRelay``); any tool list in an
///   answer — JSON or SSE, POST or the GET stream — is filtered to what the passport can ever
///   permit.
struct MCPGatewayController {
    let upstreams: [String: String]
    /// The server's public origin: the configured `public_url`, else the address it listens on.
    /// Never the request's `Host`: a passport's audience and a DPoP proof's `htu` are compared
    /// with this, and a client chooses its `Host` (round-three finding 9).
    let origin: RegistryOrigin
    let governance: GovernanceService
    let store: any TesseraStore
    let clock: any TesseraClock
    let logger: Logger
    /// The authorization server: the scopes each resource offers, and step-up on a refusal.
    let oauth: OAuthService?
    /// Passport `jti` → its governance session: fixed once started, so a request after the first
    /// needs no store read to find it.
    let sessions = TTLCache<String, String>(ttl: TimeInterval(GovernanceService.maxTTL))

    static let maximumBody = 4 << 20
    /// Headers passed upstream (never `Authorization` or `DPoP`, never hop-by-hop ones). The body
    /// Tessera sends is its own JSON, so its content type is set, not copied.
    static let forwardedRequestHeaders = ["accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"]
    /// On 2026-07-28 the routing headers sent upstream are derived from the evaluated body
    /// (``MCPRoutingHeaders/derived(message:version:)``), and so are `Mcp-Param-*` headers: from
    /// the tools' `x-mcp-header` declarations learnt from relayed tool lists
    /// (``MCPParamHeaders``). A client's own `Mcp-Param-*` copies are never forwarded.
    static let modernForwardedRequestHeaders = ["accept", "last-event-id"]
    /// Upstream name → tool name → `x-mcp-header` declarations (bounded per upstream).
    let paramDeclarations = SharedMutex<[String: [String: [MCPParamHeaders.Declaration]]]>([:])
    static let maximumDeclaredTools = 4_096
    static let forwardedResponseHeaders = ["mcp-session-id", "cache-control"]

    /// The credential is checked here, as the MCP resource server (a 401 must carry the resource
    /// metadata, which the IAM authorizer does not know about): declared `.handler`.
    func register(on routes: SecuredRouter) throws {
        guard !upstreams.isEmpty else { return }
        try routes.on("/.well-known/oauth-protected-resource/mcp/:name", method: .get, access: .anonymous, use: metadata)
        for method in [HTTPRequest.Method.post, .get, .delete] {
            try routes.on("/mcp/:name", method: method, access: .handler("a passport or an OAuth access token, bound by DPoP when key-bound"), use: relay)
        }
    }

    /// The canonical URI of an endpoint (RFC 8707).
    func resource(_ name: String) -> String { origin.current + "/mcp/" + name }

    func metadataURL(_ name: String) -> String { origin.current + "/.well-known/oauth-protected-resource/mcp/" + name }

    struct ResourceMetadata: Encodable {
        var resource: String
        var authorization_servers: [String]
        var bearer_methods_supported = ["header"]
        var dpop_signing_alg_values_supported = ["EdDSA"]
        var resource_name: String
        var resource_documentation = "https://github.com/tessera/tessera/blob/main/docs/mcp.md"
        /// The mission templates offered on this resource (the OAuth scopes a client may ask for).
        var scopes_supported: [String]?
    }

    @Sendable func metadata(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        guard let name = context.parameters.get("name"), upstreams[name] != nil else { throw APIError.notFound() }
        let scopes = try await oauth?.scopes(offeredOn: name)
        return try JSONResponse(ResourceMetadata(
            resource: resource(name), authorization_servers: [origin.current], resource_name: "Tessera MCP gateway: \(name)",
            scopes_supported: scopes))
            .response(from: request, context: context)
    }

    /// An RFC 7235 quoted-string: `\` and `"` escaped, line breaks dropped, so no value can end
    /// the parameter early or add one (`Host: evil"; error="x` once could).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars where scalar != "\r" && scalar != "\n" {
            if scalar == "\\" || scalar == "\"" { out.append("\\") }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }

    func unauthorized(_ name: String, scheme: String = "Bearer", error: String?, description: String? = nil, scope: String? = nil) -> Response {
        var headers = HTTPFields()
        var challenge = "\(scheme) resource_metadata=\(Self.quoted(metadataURL(name)))"
        if let scope { challenge += ", scope=\(Self.quoted(scope))" }
        if scheme == "DPoP" { challenge += ", algs=\"EdDSA\"" }
        if let error { challenge += ", error=\(Self.quoted(error))" }
        if let description { challenge += ", error_description=\(Self.quoted(description))" }
        headers[.wwwAuthenticate] = challenge
        headers[.contentType] = "application/json"
        let body = CanonicalJSON.serialize(.object(["error": .string(error ?? "unauthorized")]))
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// 403 with `error="insufficient_scope"`, the scopes to ask for, and the resource metadata
    /// (RFC 6750 §3.1, RFC 9728 §5.1).
    func insufficientScope(_ name: String, scopes: [String], reason: String?) -> Response {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] =
            "Bearer error=\"insufficient_scope\", scope=\(Self.quoted(scopes.joined(separator: " "))), resource_metadata=\(Self.quoted(metadataURL(name))), error_description=\(Self.quoted("this call needs another mission template"))"
        headers[.contentType] = "application/json"
        var body: [String: JSONValue] = ["error": .string("insufficient_scope"), "scope": .string(scopes.joined(separator: " "))]
        if let reason { body["reason"] = .string(reason) }
        return Response(status: .forbidden, headers: headers, body: .init(byteBuffer: ByteBuffer(string: CanonicalJSON.serialize(.object(body)))))
    }

    /// The access token from `Authorization: Bearer …` or `Authorization: DPoP …` (RFC 9449 §7.1).
    static func accessToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, ["bearer", "dpop"].contains(parts[0].lowercased()) else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    @Sendable func relay(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        guard let name = context.parameters.get("name"), let upstream = upstreams[name] else { throw APIError.notFound() }
        guard let token = Self.accessToken(request.headers[.authorization]) else {
            // MCP 2026-07-28: the challenge names the scopes to ask for (every template offered here).
            let scopes = (try? await oauth?.scopes(offeredOn: name)) ?? []
            return unauthorized(name, error: nil, scope: scopes.isEmpty ? nil : scopes.joined(separator: " "))
        }
        let claims: PassportClaims
        do {
            claims = try await governance.verify(token)
        } catch {
            return unauthorized(name, error: "invalid_token")
        }
        guard claims.aud?.contains(resource(name)) == true else {
            return unauthorized(name, error: "invalid_token", description: "the passport's audience is not this resource")
        }
        // A key-bound passport is useless without its key: every request carries a DPoP proof by
        // it (round-three finding 7).
        if let jkt = claims.cnf?.jkt {
            if let refusal = await checkDPoP(request, token: token, jkt: jkt, name: name) { return refusal }
        }
        return try await relayAuthorized(request, name: name, upstream: upstream, token: token, claims: claims)
    }

    /// ``relay(_:context:)`` once the passport is accepted: reads the one JSON-RPC message of a
    /// POST and checks the 2026-07-28 routing headers against it before anything is evaluated.
    func relayAuthorized(_ request: Request, name: String, upstream: String, token: String, claims: PassportClaims) async throws -> Response {
        var message: [String: JSONValue]?
        if request.method == .post {
            let body: ByteBuffer
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
        // Revision 2026-07-28: the routing headers must say what the body says, checked before
        // anything is evaluated (-32020 HeaderMismatch, HTTP 400).
        var modern: String?
        if let message {
            modern = MCPRoutingHeaders.modernVersion(header: request.headers[Self.protocolVersionHeader], message: message)
            if modern != nil,
                let why = MCPRoutingHeaders.mismatch(
                    message: message, version: request.headers[values: Self.protocolVersionHeader],
                    method: request.headers[values: Self.methodHeader], name: request.headers[values: Self.nameHeader])
            {
                return headerMismatch(why, id: message["id"] ?? .null)
            }
        }
        return try await governAndForward(
            request, name: name, upstream: upstream, token: token, claims: claims, message: message, method: method, modern: modern)
    }

    /// The governed part of ``relay(_:context:)``: a `tools/call` is evaluated in the passport's
    /// session (a refusal answered here), a DELETE ends the session, and the message evaluated
    /// goes upstream.
    func governAndForward(
        _ request: Request, name: String, upstream: String, token: String, claims: PassportClaims,
        message: [String: JSONValue]?, method: String?, modern: String?
    ) async throws -> Response {
        let session = try await governanceSession(for: claims, token: token)
        var receipt: (id: JSONValue, receiptID: String)?
        var toolSpan: (any Span)?
        defer { toolSpan?.end() }
        if method == "tools/call", let message {
            let id = message["id"] ?? .null
            guard case .object(let params)? = message["params"], case .string(let tool)? = params["name"] else {
                return jsonRPC(error: -32602, "tools/call needs params.name", id: id)
            }
            var arguments: [String: JSONValue] = [:]
            switch params["arguments"] {
            case nil, .null?: break
            case .object(let object)?: arguments = object
            default: return jsonRPC(error: -32602, "tools/call params.arguments must be an object", id: id)
            }
            if Telemetry.isTracing {
                toolSpan = MCPTracing.start(
                    tool: tool, id: id, params: params, protocolVersion: request.headers[Self.protocolVersionHeader],
                    headerHadContext: request.headers[HTTPField.Name("traceparent")!] != nil)
            }
            let result = try await MCPTracing.within(toolSpan) {
                try await governance.evaluate(sessionID: session, tool: tool, arguments: arguments)
            }
            MCPTracing.record(result, on: toolSpan)
            // An OAuth-issued passport refused a call some other template offered here would
            // allow: step-up (MCP 2026-07-28 § Scope challenge), naming every scope needed at once.
            if result.decision == "DENY", claims.scope != nil, let oauth,
                let scopes = await oauth.stepUpScopes(for: claims, upstream: name, tool: tool, arguments: arguments)
            {
                return insufficientScope(name, scopes: scopes, reason: result.reason)
            }
            if let refusal = MCPGovernance.refusal(result, id: id) { return jsonRPC(refusal) }
            receipt = result.receipt_id.map { (id, $0) }
        }
        if request.method == .delete { _ = try? await governance.end(sessionID: session) }
        // What goes upstream is the message evaluated, serialised by Tessera.
        let outbound = message.map { MCPGovernance.wire(.object($0)) }
        let relay = responseRelay(claims: claims, name: name, receipt: receipt)
        let derived = derivedHeaders(message: message, method: method, modern: modern, name: name)
        return try await MCPTracing.within(toolSpan) {
            try await forward(request, body: outbound, to: upstream, derivedHeaders: derived, relay: relay)
        }
    }

    /// The relay of the upstream's answers to this passport: its tool lists filtered to what the
    /// passport can ever permit, the `x-mcp-header` declarations in them learnt for `name`, the
    /// call's receipt attached.
    func responseRelay(claims: PassportClaims, name: String, receipt: (id: JSONValue, receiptID: String)?) -> MCPResponseRelay {
        var relay = MCPResponseRelay(visible: MCPGovernance.visibleTools(claims), logger: logger)
        let declarations = paramDeclarations
        relay.learn = { (learnt: [String: [MCPParamHeaders.Declaration]]) -> Void in
            declarations.withLock { (all: inout [String: [String: [MCPParamHeaders.Declaration]]]) -> Void in
                var known = all[name] ?? [:]
                for (tool, list) in learnt where known.count < Self.maximumDeclaredTools || known[tool] != nil { known[tool] = list }
                all[name] = known
            }
        }
        relay.receipt = receipt
        if let exp = claims.exp { relay.ttlMs = Int(max(0, exp - clock.now().unixSeconds)) * 1000 }
        return relay
    }

    /// On 2026-07-28 (`modern` set), the headers sent upstream, derived from the message: the
    /// routing headers, and a `tools/call`'s `Mcp-Param-*` headers from the tool's learnt
    /// declarations. Nil on earlier revisions (the client's own headers are forwarded).
    func derivedHeaders(message: [String: JSONValue]?, method: String?, modern: String?, name: String) -> [(name: String, value: String)]? {
        var derived: [(name: String, value: String)]?
        if let modern, let message {
            derived = MCPRoutingHeaders.derived(message: message, version: modern)
            if method == "tools/call", case .object(let params)? = message["params"], case .string(let tool)? = params["name"],
                let declared = paramDeclarations.withLock({ (all: inout [String: [String: [MCPParamHeaders.Declaration]]]) -> [MCPParamHeaders.Declaration]? in all[name]?[tool] })
            {
                let arguments: [String: JSONValue] = if case .object(let a)? = params["arguments"] { a } else { [:] }
                derived?.append(contentsOf: MCPParamHeaders.headers(for: arguments, declared))
            }
        }
        return derived
    }

    /// The client for upstream calls. Its own tracing is off: with OpenTelemetry on, the gateway
    /// records the call itself (``MCPTracing/upstreamCall(_:upstream:_:)``), without the URL.
    ///
    /// Its pool allows 1,024 connections per upstream, not AsyncHTTPClient's default 8: every
    /// streamable-HTTP client holds a long-lived GET stream open upstream, so with 8, eight
    /// clients' streams took every connection and every further call waited until it timed out
    /// (found by `scripts/compare-peers`' 32-client run, issue 28). The server's own
    /// `max_connections` bounds how many clients can ask for one.
    static let upstreamClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1024)
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    static let protocolVersionHeader = HTTPField.Name("MCP-Protocol-Version")!
    static let methodHeader = HTTPField.Name("Mcp-Method")!
    static let nameHeader = HTTPField.Name("Mcp-Name")!

    /// -32020 `HeaderMismatch` in an HTTP 400, as MCP 2026-07-28 requires.
    func headerMismatch(_ why: String, id: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let body = MCPGovernance.wire(MCPGovernance.errorResponse(code: MCPRoutingHeaders.headerMismatchCode, message: "HeaderMismatch: \(why)", id: id))
        return Response(status: .badRequest, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Checks the request's DPoP proof (RFC 9449 §4.3, §7.1) for a passport bound to `jkt`: one
    /// `DPoP` header, a proof by the bound key, `htm` the method, `htu` this endpoint's public
    /// URI, `ath` the passport's hash, `iat` within 60 s, and a `jti` never seen before by any
    /// node (the store's replay cache). Nil when it holds; otherwise the 401 to answer.
    func checkDPoP(_ request: Request, token: String, jkt: String, name: String) async -> Response? {
        let proofs = request.headers[values: HTTPField.Name("DPoP")!]
        guard proofs.count == 1, let proof = proofs.first else {
            return unauthorized(name, scheme: "DPoP", error: "invalid_token", description: "a key-bound passport needs exactly one DPoP proof")
        }
        let now = clock.now()
        guard let presented = DPoPProofClaims.presentedKey(proof),
            ConstantTime.equals(Array(presented.thumbprint.utf8), Array(jkt.utf8)),
            let (jti, iat) = try? DPoPProofClaims.verify(
                proof, method: request.method.rawValue, url: resource(name), badge: token, key: presented.key, now: now.unixSeconds)
        else {
            return unauthorized(name, scheme: "DPoP", error: "invalid_dpop_proof", description: "the DPoP proof does not hold for this passport and request")
        }
        do {
            let first = try await store.recordProofUse(
                key: CompactJWS.digest("dpop:\(jkt):\(jti)"),
                expiresAt: Date(timeIntervalSince1970: TimeInterval(iat + DPoPProofClaims.window)), now: now)
            guard first else {
                return unauthorized(name, scheme: "DPoP", error: "invalid_dpop_proof", description: "the DPoP proof was already used")
            }
        } catch {
            logger.error("DPoP replay cache unavailable", metadata: ["error": "\(error)"])
            return unauthorized(name, scheme: "DPoP", error: "invalid_dpop_proof", description: "the proof cannot be checked for replay now")
        }
        return nil
    }

    /// The governance session of this passport: the one it started (on any node), or a new one.
    /// The request has proven possession of a bound passport's key already (``checkDPoP``).
    func governanceSession(for claims: PassportClaims, token: String) async throws -> String {
        let now = Date()
        if let known = sessions.value(for: claims.jti, now: now) { return known }
        let id: String
        if let existing = try await store.session(jti: claims.jti) {
            id = existing.id
        } else {
            do {
                id = try await governance.start(token: token, proof: nil, possessionProven: true).id
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
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: MCPGovernance.wire(message))))
    }

    func forward(
        _ request: Request, body: [UInt8]?, to upstream: String, derivedHeaders: [(name: String, value: String)]?, relay: MCPResponseRelay
    ) async throws -> Response {
        var outbound = HTTPClientRequest(url: upstream)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        if let derivedHeaders {
            for name in Self.modernForwardedRequestHeaders {
                if let field = HTTPField.Name(name), let value = request.headers[field] { outbound.headers.add(name: name, value: value) }
            }
            for (name, value) in derivedHeaders { outbound.headers.add(name: name, value: value) }
        } else {
            for name in Self.forwardedRequestHeaders {
                if let field = HTTPField.Name(name), let value = request.headers[field] { outbound.headers.add(name: name, value: value) }
            }
        }
        if let body {
            outbound.headers.add(name: "content-type", value: "application/json")
            outbound.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            if Telemetry.isTracing {
                response = try await MCPTracing.upstreamCall(outbound, upstream: upstream) { request in
                    try await Self.upstreamClient.execute(request, timeout: .seconds(300))
                }
            } else {
                response = try await Self.upstreamClient.execute(outbound, timeout: .seconds(300))
            }
        } catch {
            logger.warning("MCP upstream unreachable", metadata: ["upstream": "\(upstream)", "error": "\(error)"])
            throw APIError(.badGateway, type: "upstream-unavailable", message: "the MCP upstream did not answer")
        }
        var headers = HTTPFields()
        for name in Self.forwardedResponseHeaders {
            if let value = response.headers.first(name: name), let field = HTTPField.Name(name) { headers[field] = value }
        }
        return try await relay.response(from: response, headers: headers)
    }
}
