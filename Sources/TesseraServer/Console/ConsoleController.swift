import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TesseraCore

/// `/console`: the operator console (static files compiled into the binary) and the read
/// routes only it needs (`/api/v1/console/…`). Everything else the console does goes through
/// the public API with the signed-in identity's token, so it can do nothing its user cannot.
struct ConsoleController {
    let console: ConsoleService
    let feed: DecisionFeed
    let authenticator: Authenticator
    let logger: Logger

    /// How often a feed sends what has gathered: under 1 s from decision to screen, and a
    /// bounded number of messages a second whatever the decision rate.
    static let flushInterval: Duration = .milliseconds(150)
    /// A comment line this often keeps an idle stream inside the connection's idle limit, finds
    /// a browser that went away (a write to a closed connection fails), and re-checks the
    /// credential (an expired or revoked login ends the stream).
    static let heartbeatInterval: Duration = .seconds(2)

    func register(on routes: SecuredRouter) throws {
        try routes.on("/console", method: .get, access: .anonymous, use: page)
        try routes.on("/console/assets/:name", method: .get, access: .anonymous, use: asset)
        try routes.on("/api/v1/console/overview", method: .get, access: .authenticated, use: overview)
        try routes.on("/api/v1/console/agents", method: .get, access: .capability(Capability.agentsRead), use: agents)
        try routes.on("/api/v1/console/sessions", method: .get, access: .capability(Capability.sessionsRead), use: sessions)
        try routes.on("/api/v1/console/decisions", method: .get, access: .capability(Capability.receiptsRead), use: decisions)
    }

    @Sendable func page(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        try ConsoleAssets.response(for: "index.html", request: request)
    }

    @Sendable func asset(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        try ConsoleAssets.response(for: context.parameters.get("name") ?? "", request: request)
    }

    @Sendable func overview(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<ConsoleWire.Overview> {
        JSONResponse(try await console.overview(for: try context.authenticatedIdentity()), headers: Self.noStore)
    }

    @Sendable func agents(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<[String: [ConsoleWire.AgentSummary]]> {
        JSONResponse(["agents": try await console.agents(for: try context.authenticatedIdentity())], headers: Self.noStore)
    }

    @Sendable func sessions(_ request: Request, context: TesseraRequestContext) async throws -> JSONResponse<[String: [ConsoleWire.SessionSummary]]> {
        JSONResponse(["sessions": try await console.sessions(for: try context.authenticatedIdentity())], headers: Self.noStore)
    }

    static let noStore: HTTPFields = [.cacheControl: "no-store"]

    /// The live feed, as server-sent events (`text/event-stream`): one `decisions` event per
    /// batch (``ConsoleWire/DecisionBatch``), comment lines as heartbeats. Filters: `agent`,
    /// `session` (a passport jti: the session and its children), `outcome`.
    @Sendable func decisions(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let identity = try context.authenticatedIdentity()
        let workspace = identity.workspace
        // Checked when the feed opens and again at every heartbeat.
        let mayRead: @Sendable (Identity) -> Bool = { reader in reader.workspace == workspace && reader.may(Capability.receiptsRead, in: workspace) }
        guard mayRead(identity) else { throw APIError.accessDenied }
        let filter = try Self.filter(request.uri.queryParameters)
        let credential = Authenticator.credential(request.headers)
        let id: Int
        switch feed.subscribe(workspace: workspace, user: identity.userID, filter: filter) {
        case .subscribed(let subscriber): id = subscriber
        case .refused(let cap): throw Self.refusal(cap)
        }
        let feed = self.feed
        let authenticator = self.authenticator
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let body = ResponseBody { writer in
            defer { feed.cancel(id) }
            try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
            let clock = ContinuousClock()
            var nextBeat = clock.now.advanced(by: Self.heartbeatInterval)
            stream: while !Task.isCancelled {
                try await Task.sleep(for: Self.flushInterval)
                // The server waits for open responses when it stops; a feed ends itself (the
                // handler runs under the server's graceful-shutdown context).
                let drained = Task.isShuttingDownGracefully ? .closed : feed.drain(id)
                switch drained {
                case .closed:
                    try await writer.write(Self.end("server shutting down"))
                    break stream
                case .batch(let batch):
                    try await writer.write(Self.event("decisions", data: batch.json()))
                case .nothing:
                    break
                }
                if clock.now >= nextBeat {
                    nextBeat = clock.now.advanced(by: Self.heartbeatInterval)
                    // Still the same credential, still valid, still allowed to read decisions here.
                    guard let current = await authenticator.authenticate(bearer: credential), mayRead(current) else {
                        try await writer.write(Self.end("credential no longer valid"))
                        break stream
                    }
                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// A feed over a cap: the caller's own caps (user, workspace) are 429 — close a feed and
    /// retry — and the node's is 503; each names the cap so the operator knows what to close.
    static func refusal(_ cap: DecisionFeed.Refusal) -> APIError {
        switch cap {
        case .user:
            APIError(
                .tooManyRequests, type: "too-many-feeds",
                message: "this user already has \(DecisionFeed.subscriberLimitPerUser) live decision feeds open on this node; close one (another tab) and retry",
                retryAfter: 2)
        case .workspace:
            APIError(
                .tooManyRequests, type: "too-many-feeds",
                message: "this workspace already has \(DecisionFeed.subscriberLimitPerWorkspace) live decision feeds open on this node; close one and retry",
                retryAfter: 2)
        case .node:
            APIError(
                .serviceUnavailable, type: "unavailable",
                message: "this node already serves \(DecisionFeed.subscriberLimit) live decision feeds; try again later", retryAfter: 2)
        }
    }

    /// One server-sent event: `event: NAME`, one `data:` line (JSON never holds a raw newline).
    static func event(_ name: String, data: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: Array("event: \(name)\ndata: ".utf8) + data + Array("\n\n".utf8))
    }

    /// The last event of a stream, saying why it ends.
    static func end(_ reason: String) -> ByteBuffer {
        event("end", data: (try? Array(CompactJWS.encoder.encode(["reason": reason]))) ?? Array("{}".utf8))
    }

    static func filter(_ query: Hummingbird.Parameters) throws -> DecisionFeed.Filter {
        func value(_ name: String) throws -> String? {
            guard let raw = query.get(name), !raw.isEmpty else { return nil }
            guard raw.utf8.count <= 256 else { throw APIError.badRequest("invalid query parameter \(name): at most 256 bytes") }
            return raw
        }
        let outcome = try value("outcome")
        if let outcome, Decision.Verdict(rawValue: outcome) == nil {
            throw APIError.badRequest("invalid query parameter outcome: PERMIT, DENY or APPROVAL_REQUIRED")
        }
        return DecisionFeed.Filter(agentID: try value("agent"), passportJTI: try value("session"), outcome: outcome)
    }
}
