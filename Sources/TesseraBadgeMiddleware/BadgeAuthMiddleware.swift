import Hummingbird
import Logging
import TesseraClient
import TesseraCore

/// A request context that can carry the verified badge of the calling agent.
public protocol BadgeRequestContext: RequestContext {
    var badge: BadgeClaims? { get set }
}

/// A ready context for services that only need the badge.
public struct BasicBadgeRequestContext: BadgeRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var badge: BadgeClaims?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

/// Admits only requests bearing a valid badge (`Authorization: Bearer <badge>`), verified
/// offline against the registry's cached keys and status list, with a minimum assurance.
/// Every refusal is the same 401; the precise error code goes to the log.
public struct BadgeAuthMiddleware<Context: BadgeRequestContext>: RouterMiddleware {
    let verifier: RegistryBadgeVerifier

    public init(verifier: RegistryBadgeVerifier) {
        self.verifier = verifier
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return Self.refusal }
        do {
            let claims = try await verifier.verify(String(parts[1]))
            var context = context
            context.badge = claims
            context.logger[metadataKey: "agent"] = .string(claims.agent_id)
            return try await next(request, context)
        } catch let error as BadgeError {
            context.logger.info("badge refused", metadata: ["code": "\(error.rawValue)"])
            return Self.refusal
        }
    }

    static var refusal: Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.wwwAuthenticate] = #"Bearer error="invalid_token""#
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_badge"}"#)))
    }
}
