import Foundation
import Synchronization
import TesseraCore

/// Status-list helpers shared by the CLI and the SDK verifier.
public enum StatusListVerifier {
    /// Verifies a status list token (draft §5.1 and §8.3): signature with the issuer's keys,
    /// `typ` `statuslist+jwt`, `sub` equal to the URI it was fetched for, not expired, and a
    /// list that inflates within bounds. Nil when any of that fails.
    public static func verify(_ token: String, uri: String, keys: JWSVerifier, now: Date = Date()) -> (list: StatusList, claims: StatusListClaims)? {
        guard let claims = try? keys.verifySync(token, as: StatusListClaims.self, policy: JWSPolicy(type: StatusListClaims.type), now: now.unixSeconds),
            claims.sub == uri, let list = try? claims.list()
        else { return nil }
        return (list, claims)
    }

    /// Within its `ttl` (a list without one is fresh for 5 minutes, RFC-002's
    /// `REVOCATION_CACHE_MAX_STALENESS`).
    public static func isFresh(_ claims: StatusListClaims, now: Date) -> Bool {
        now.unixSeconds - (claims.iat ?? 0) <= Int64(claims.ttl ?? 300)
    }
}

/// A badge verifier for services (RFC-002 §8.1, ``BadgeVerification``): the registry's JWKS,
/// the status lists badges point to, and the DID documents of IAL-1 `did:web` agents are fetched,
/// *verified* and kept in memory, so a request costs one signature check and no network I/O.
///
/// Refreshes happen off the request path when ``run()`` is running (add the verifier to the
/// service's `ServiceGroup`, or call it in a task): each status list at half its `ttl`, the JWKS
/// every 5 minutes. Without `run()`, a request that finds nothing cached (or a stale list, or an
/// unknown `kid`, at most once a second) fetches inline. Nothing is ever fetched for an issuer
/// outside the allow-list, and lists and documents only from the registry this verifier was
/// configured with (their URIs must sit under the trusted issuer's origin). A class with one lock
/// rather than an actor: an actor would serialise every verification onto one executor.
public final class RegistryBadgeVerifier: Sendable {
    let client: TesseraHTTPClient
    public let verification: BadgeVerification
    /// Decides freshness (lists, keys, documents) and badge time: injected so tests move it
    /// instead of sleeping.
    let clock: any TesseraClock
    private let state = Mutex(State())

    private struct State {
        var keys: JWSVerifier?
        var keysFetched: Date = .distantPast
        var lists: [String: CachedList] = [:]
        var documents: [String: (DIDDocument, Date)] = [:]
    }

    struct CachedList {
        var list: StatusList
        var claims: StatusListClaims
        var fetched: Date
    }

    /// - Parameter server: the registry's base URL (where its JWKS, lists and documents are).
    public init(server: String, verification: BadgeVerification, clock: any TesseraClock = SystemClock()) throws {
        self.client = try TesseraHTTPClient(baseURL: server, timeout: .seconds(5))
        self.verification = verification
        self.clock = clock
    }

    /// A verifier that trusts the registry at `server` as the issuer (its origin).
    public convenience init(
        server: String, audience: String? = nil, minimumIAL: Int = 0, requireFreshStatus: Bool = false, selfSigned: SelfSignedPolicy = .refuse,
        clock: any TesseraClock = SystemClock()
    ) throws {
        let origin = server.hasSuffix("/") ? String(server.dropLast()) : server
        try self.init(
            server: server,
            verification: BadgeVerification(
                trustedIssuers: [origin], audience: audience, minimumIAL: minimumIAL, requireFreshStatus: requireFreshStatus, selfSigned: selfSigned),
            clock: clock)
    }

    /// Seeds the caches with a JWKS and status-list tokens obtained some other way (a file on an
    /// air-gapped host, a benchmark). Each list is verified here, as a fetched one would be.
    public func prime(jwks: JWKSet, statusTokens: [String: String] = [:]) async {
        let keys = await JWSVerifier(jwks: jwks)
        var lists: [String: CachedList] = [:]
        for (uri, token) in statusTokens {
            if let (list, claims) = StatusListVerifier.verify(token, uri: uri, keys: keys, now: clock.now()) {
                lists[uri] = CachedList(list: list, claims: claims, fetched: clock.now())
            }
        }
        state.withLock { state in
            state.keys = keys
            state.keysFetched = clock.now()
            state.lists.merge(lists) { $1 }
        }
    }

    public func verify(_ token: String) async throws(BadgeError) -> BadgeClaims {
        var keys = state.withLock { $0.keys }
        if keys == nil { keys = await refreshKeys(unknownKid: false) }
        // The verification reports what it looked for and did not find fresh (a status list, a
        // DID document); that is fetched once and the verification runs again. The common case
        // (everything cached) parses the token once: asking first what a token needs parsed it
        // twice.
        do {
            return try await verifyFetchingMissing(token)
        } catch .signatureInvalid {
            // Only on failure is the header read for its `kid`: a badge signed with a key this
            // verifier has not fetched yet (a rotation) earns one JWKS refresh, at most once a
            // second.
            guard let kid = Self.kid(of: token), !(keys?.kids.contains(kid) ?? false),
                let fresh = await refreshKeys(unknownKid: true), fresh.kids.contains(kid)
            else { throw .signatureInvalid }
            return try await verifyFetchingMissing(token)
        } catch {
            throw error
        }
    }

    /// One verification from the caches; whatever it reported missing or stale is fetched and
    /// the verification runs once more, whether the first one succeeded or failed.
    func verifyFetchingMissing(_ token: String) async throws(BadgeError) -> BadgeClaims {
        var missing = Missing()
        do {
            let claims = try verifyCached(token, missing: &missing)
            return missing.isEmpty ? claims : try await again(token, after: missing)
        } catch {
            if missing.isEmpty { throw error }
            return try await again(token, after: missing)
        }
    }

    /// What one verification wanted and did not find fresh in the caches.
    struct Missing {
        var list: String?
        var document: String?
        var isEmpty: Bool { list == nil && document == nil }
    }

    func again(_ token: String, after missing: Missing) async throws(BadgeError) -> BadgeClaims {
        if let uri = missing.list { _ = await refreshList(uri) }
        if let did = missing.document { await ensureDocument(did) }
        var ignored = Missing()
        return try verifyCached(token, missing: &ignored)
    }

    /// One verification against what is cached now, noting what was missing or stale.
    func verifyCached(_ token: String, missing: inout Missing) throws(BadgeError) -> BadgeClaims {
        let now = clock.now()
        let (keys, lists, documents) = state.withLock { ($0.keys, $0.lists, $0.documents) }
        return try verification.verify(
            token, now: now.unixSeconds, keys: { _ in keys },
            status: { uri in
                guard let cached = lists[uri] else {
                    missing.list = uri
                    return .unavailable
                }
                let fresh = StatusListVerifier.isFresh(cached.claims, now: now)
                if !fresh { missing.list = uri }
                return .list(cached.list, fresh: fresh)
            },
            document: { did in
                guard let (document, fetched) = documents[did], now.timeIntervalSince(fetched) < 300 else {
                    missing.document = did
                    return nil
                }
                return document
            })
    }

    /// Keeps the caches fresh in the background until cancelled.
    public func run() async {
        while !Task.isCancelled {
            let keys = await refreshKeys(unknownKid: false)
            var delay: Duration = .seconds(5)
            if keys != nil {
                let uris = state.withLock { Array($0.lists.keys) }
                var shortest = 300
                for uri in uris {
                    if let ttl = await refreshList(uri)?.claims.ttl { shortest = min(shortest, ttl) }
                }
                delay = .seconds(max(1, shortest / 2))
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// Fetches the JWKS if it is missing, 5 minutes old, or (for an unknown `kid`) a second old.
    func refreshKeys(unknownKid: Bool) async -> JWSVerifier? {
        let (keys, fetched) = state.withLock { ($0.keys, $0.keysFetched) }
        let age = clock.now().timeIntervalSince(fetched)
        guard keys == nil || age > 300 || (unknownKid && age >= 1) || !unknownKid && age > 240 else { return keys }
        guard let set = try? await client.jwks() else { return keys }
        let fresh = await JWSVerifier(jwks: set)
        state.withLock { state in
            state.keys = fresh
            state.keysFetched = clock.now()
        }
        return fresh
    }

    /// Fetches and verifies list `uri` from the registry (its path on this verifier's server);
    /// keeps the previous one if that fails.
    func refreshList(_ uri: String) async -> CachedList? {
        guard let path = Self.path(of: uri), let keys = state.withLock({ $0.keys }),
            let token = try? await client.statusListToken(path: path),
            let (list, claims) = StatusListVerifier.verify(token, uri: uri, keys: keys, now: clock.now())
        else { return state.withLock { $0.lists[uri] } }
        let cached = CachedList(list: list, claims: claims, fetched: clock.now())
        state.withLock { state in
            if state.lists.count >= 1024 { state.lists.removeAll() }
            state.lists[uri] = cached
        }
        return cached
    }

    /// An IAL-1 `did:web` badge needs its subject's DID document (RFC-002 §8.1 step 7): fetched
    /// from this registry when it hosts the DID, cached 5 minutes (RFC-003 §9.6). Foreign
    /// `did:web` documents are not fetched (no resolver with RFC-003 §9.7's SSRF defences yet):
    /// such a badge fails `BADGE_CLAIMS_INVALID`.
    func ensureDocument(_ did: String) async {
        if let (_, fetched) = state.withLock({ $0.documents[did] }), clock.now().timeIntervalSince(fetched) < 300 { return }
        guard let web = DIDWeb(did), let base = URL(string: client.baseURL), let host = base.host,
            web.authority == (base.port.map { "\(host):\($0)" } ?? host)
        else { return }
        let path = "/" + web.path.joined(separator: "/") + "/did.json"
        guard let document = try? await client.didDocument(path: path), document.id == did else { return }
        state.withLock { state in
            if state.documents.count >= 10_000 { state.documents.removeAll() }
            state.documents[did] = (document, clock.now())
        }
    }

    static func path(of uri: String) -> String? {
        guard let url = URL(string: uri), url.query == nil, !url.path.isEmpty else { return nil }
        return url.path
    }

    static func kid(of token: String) -> String? {
        guard let dot = token.utf8.firstIndex(of: UInt8(ascii: ".")),
            let bytes = Base64URL.decode(token[..<dot]),
            case .string(let kid)? = (try? StrictJSON.object(bytes, maximumDepth: 4))?["kid"]
        else { return nil }
        return kid
    }
}

/// A passport verified away from the server's database: signature with the server's JWKS, and
/// revocation from the Token Status List the passport names (fetched from the same server), so an
/// auditor or a gateway holding only the passport and network access to the published lists
/// learns what `/verify` would say.
public enum PassportStatusCheck {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case invalidToken
        case revoked
        case statusUnavailable

        public var description: String {
            switch self {
            case .invalidToken: "invalid_token"
            case .revoked: "passport_revoked"
            case .statusUnavailable: "status_unavailable"
            }
        }
    }

    public static func verify(_ token: String, client: TesseraHTTPClient, issuer: String? = nil) async throws(Failure) -> PassportClaims {
        guard let set = try? await client.jwks() else { throw .statusUnavailable }
        let keys = await JWSVerifier(jwks: set)
        let policy = JWSPolicy(type: PassportClaims.type, issuers: issuer.map { [$0] })
        guard let claims = try? keys.verifySync(token, as: PassportClaims.self, policy: policy, now: Date().unixSeconds) else {
            throw .invalidToken
        }
        guard let reference = claims.status?.status_list, let base = URL(string: client.baseURL),
            let uri = URL(string: reference.uri), uri.host == base.host, uri.port == base.port, uri.query == nil,
            let listToken = try? await client.statusListToken(path: uri.path),
            let (list, _) = StatusListVerifier.verify(listToken, uri: reference.uri, keys: keys),
            let value = try? list.status(at: reference.idx)
        else { throw .statusUnavailable }
        guard value == TokenStatus.valid.rawValue else { throw .revoked }
        return claims
    }
}
