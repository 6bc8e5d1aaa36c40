import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
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

/// Admits only requests bearing a valid badge, verified offline (RFC-002 §8.1) against the
/// registry's cached keys, status lists and documents, with a minimum assurance. A badge whose
/// `aud` names services is admitted only when the verifier's `audience` (this service) is one of
/// them (RFC-002 §8.3): give the verifier this service's identity if badges are addressed to it.
///
/// The badge comes from `X-Capiscio-Badge` or `Authorization: Bearer` (RFC-002 §9.1); a request
/// carrying both is refused (the RFC's recommended default against token confusion). With
/// `requireProof`, the request must also carry a DPoP proof (RFC 9449, header `DPoP`) signed by
/// the badge's own key (`key`, which an IAL-1 badge's `cnf.kid` binds), for this method and URL,
/// fresh and never seen before — so a stolen badge alone is useless. The URL is `publicOrigin`
/// (required with `requireProof`) plus the request's path, never built from the `Host` header:
/// the caller chooses that header, so a proof made for service A would pass at service B with
/// `Host: A`. Every refusal is a 401 with the RFC-002 error code in the body
/// (`{"error":"BADGE_EXPIRED",…}`) and `WWW-Authenticate`.
public struct BadgeAuthMiddleware<Context: BadgeRequestContext>: RouterMiddleware {
    let verifier: RegistryBadgeVerifier
    let requireProof: Bool
    /// The URL this service is reached at (scheme and authority, no trailing `/`), for the proof's
    /// `htu`.
    let publicOrigin: String?
    let replay: DPoPReplayCache

    /// - Parameters:
    ///   - requireProof: demand a DPoP proof by the badge's key on every request.
    ///   - publicOrigin: the origin callers use to reach this service (`https://api.example.com`,
    ///     `http://127.0.0.1:8080`); required with `requireProof`.
    /// - Throws: ``BadgeMiddlewareConfigurationError`` when `requireProof` is on without a
    ///   `publicOrigin`, or the origin is not an `http(s)` scheme and authority alone. Thrown here,
    ///   at start-up, rather than failing every request later.
    public init(verifier: RegistryBadgeVerifier, requireProof: Bool = false, publicOrigin: String? = nil) throws(BadgeMiddlewareConfigurationError) {
        self.verifier = verifier
        self.requireProof = requireProof
        if let publicOrigin {
            self.publicOrigin = try BadgeMiddlewareConfigurationError.origin(publicOrigin)
        } else if requireProof {
            throw .publicOriginRequired
        } else {
            self.publicOrigin = nil
        }
        self.replay = DPoPReplayCache()
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let explicit = request.headers[Self.badgeHeader]
        let bearer = Self.bearer(request.headers[.authorization])
        let token: String
        if let explicit, bearer == nil {
            token = explicit
        } else if let bearer, explicit == nil {
            token = bearer
        } else {
            context.logger.info("badge refused", metadata: ["code": "\(BadgeError.malformed.rawValue)", "why": "no badge, or two"])
            return Self.refusal(.malformed)
        }
        do {
            let claims = try await verifier.verify(token)
            if requireProof { try checkProof(request, badge: token, claims: claims) }
            var context = context
            context.badge = claims
            context.logger[metadataKey: "agent"] = .string(claims.sub)
            context.logger[metadataKey: "badge_jti"] = .string(claims.jti)
            return try await next(request, context)
        } catch let error as BadgeError {
            context.logger.info("badge refused", metadata: ["code": "\(error.rawValue)"])
            return Self.refusal(error)
        }
    }

    func checkProof(_ request: Request, badge: String, claims: BadgeClaims) throws(BadgeError) {
        guard claims.ial == "1", let jwk = claims.key, let key = try? Ed25519PublicKey(jwk: jwk),
            let proof = request.headers[Self.dpopHeader], request.headers[values: Self.dpopHeader].count == 1
        else { throw .proofInvalid }
        // Never the Host header: without a configured origin there is no URL to check against.
        guard let publicOrigin else { throw .proofInvalid }
        let url = publicOrigin + request.uri.path
        let now = Date().unixSeconds
        let (jti, iat) = try DPoPProofClaims.verify(proof, method: request.method.rawValue, url: url, badge: badge, key: key, now: now)
        guard replay.insert(jti: jti, expires: iat + DPoPProofClaims.window, now: now) else { throw .proofInvalid }
    }

    static var badgeHeader: HTTPField.Name { BadgeHeaders.badge }
    static var dpopHeader: HTTPField.Name { BadgeHeaders.dpop }

    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else { return nil }
        return String(parts[1])
    }

    static func refusal(_ error: BadgeError) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        headers[.wwwAuthenticate] = error == .proofInvalid ? #"DPoP error="invalid_dpop_proof", algs="EdDSA""# : #"Bearer error="invalid_token""#
        let body = #"{"error":"\#(error.rawValue)","message":"badge refused"}"#
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// A ``BadgeAuthMiddleware`` that cannot be enforced as configured.
public enum BadgeMiddlewareConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `requireProof` without `publicOrigin`.
    case publicOriginRequired
    /// `publicOrigin` is not an `http(s)://host[:port]` origin.
    case invalidPublicOrigin(String)

    public var description: String {
        switch self {
        case .publicOriginRequired:
            "BadgeAuthMiddleware: requireProof needs publicOrigin, the origin callers use to reach this service "
                + "(e.g. https://api.example.com): each DPoP proof's htu is checked against it, never against the Host header, "
                + "which the caller chooses"
        case .invalidPublicOrigin(let value):
            "BadgeAuthMiddleware: publicOrigin \"\(value)\" must be an http or https scheme and authority only "
                + "(e.g. https://api.example.com or http://127.0.0.1:8080; no user, path, query or fragment)"
        }
    }

    /// `value` checked and without a trailing `/`.
    static func origin(_ value: String) throws(BadgeMiddlewareConfigurationError) -> String {
        let trimmed = value.hasSuffix("/") ? String(value.dropLast()) : value
        guard trimmed.utf8.count <= 2048, let components = URLComponents(string: trimmed), let scheme = components.scheme,
            ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty, components.user == nil,
            components.password == nil, components.path.isEmpty, components.query == nil, components.fragment == nil,
            !trimmed.contains(where: { $0.isWhitespace })
        else { throw .invalidPublicOrigin(value) }
        return trimmed
    }
}

enum BadgeHeaders {
    static let badge = HTTPField.Name("X-Capiscio-Badge")!
    static let dpop = HTTPField.Name("DPoP")!
}

/// DPoP `jti`s seen within their window: a proof is accepted once. Bounded: past the capacity,
/// the oldest half is dropped (a proof older than the window is refused on `iat` anyway).
public final class DPoPReplayCache: Sendable {
    private let seen = Mutex<[String: Int64]>([:])
    static let capacity = 100_000

    public init() {}

    /// False when `jti` was already seen and has not expired.
    public func insert(jti: String, expires: Int64, now: Int64) -> Bool {
        seen.withLock { seen in
            if let until = seen[jti], until >= now { return false }
            if seen.count >= Self.capacity {
                seen = seen.filter { $0.value >= now }
                if seen.count >= Self.capacity {
                    let cutoff = seen.values.sorted()[seen.count / 2]
                    seen = seen.filter { $0.value > cutoff }
                }
            }
            seen[jti] = expires
            return true
        }
    }
}
