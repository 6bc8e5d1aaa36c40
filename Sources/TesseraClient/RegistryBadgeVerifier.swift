import Foundation
import Synchronization
import TesseraCore

/// Status-list helpers shared by the CLI and the SDK verifier.
public enum BadgeStatusCache {
    /// Verifies a status-list JWS with the registry's keys; nil when absent or not valid.
    /// `fresh` says whether it is within its `ttl`.
    public static func verifiedList(_ token: String?, keys: JWSVerifier, now: Date = Date()) async -> (list: BadgeStatusClaims, fresh: Bool)? {
        guard let token,
            let list = try? await keys.verify(
                token, as: BadgeStatusClaims.self, policy: JWSPolicy(type: BadgeStatusClaims.type), clock: FixedClock(now))
        else { return nil }
        let age = now.unixSeconds - (list.iat ?? 0)
        return (list, age <= Int64(list.ttl))
    }
}

/// A badge verifier for services: the registry's JWKS and status list are fetched and *verified*
/// once per refresh and kept in memory, so a request costs one signature check (the badge's) and
/// no network I/O. Refreshes happen off the request path when ``run()`` is running (add the
/// verifier to the service's `ServiceGroup`, or call it in a task): the status list at half its
/// `ttl`, the JWKS every 5 minutes. Without `run()`, or before its first refresh, a request that
/// finds nothing cached (or a stale list, or an unknown `kid`, at most once a second) fetches
/// inline. A class with one lock rather than an actor: an actor would serialise every
/// verification in the process onto one executor.
public final class RegistryBadgeVerifier: Sendable {
    let client: TesseraHTTPClient
    public let verification: BadgeVerification
    private let state = Mutex(State())

    private struct State {
        var keys: JWSVerifier?
        var keysFetched: Date = .distantPast
        /// The status list, already verified with `keys`.
        var status: BadgeStatusClaims?
        var statusToken: String?
    }

    public init(server: String, verification: BadgeVerification) throws {
        self.client = try TesseraHTTPClient(baseURL: server, timeout: .seconds(5))
        self.verification = verification
    }

    /// Seeds the caches with a JWKS and a status-list token obtained some other way (a file on an
    /// air-gapped host, a benchmark). The list is verified here, as a fetched one would be.
    public func prime(jwks: JWKSet, statusToken: String?) async {
        let keys = await JWSVerifier(jwks: jwks)
        let list = await BadgeStatusCache.verifiedList(statusToken, keys: keys)?.list
        state.withLock { state in
            state.keys = keys
            state.keysFetched = Date()
            state.status = list
            state.statusToken = list == nil ? nil : statusToken
        }
    }

    public func verify(_ token: String) async throws(BadgeError) -> BadgeClaims {
        var (keys, status) = state.withLock { ($0.keys, $0.status) }
        if keys == nil { keys = await refreshKeys(unknownKid: false) }
        guard let keys else { throw .signatureInvalid }
        do {
            return try await verify(token, keys: keys, status: status)
        } catch .signatureInvalid {
            // Only on failure is the header read for its `kid`: a badge signed with a key this
            // verifier has not fetched yet (a rotation) earns one JWKS refresh, at most once a
            // second. Reading it on every request parsed every header twice.
            guard let kid = Self.kid(of: token), !keys.kids.contains(kid), let fresh = await refreshKeys(unknownKid: true),
                fresh.kids.contains(kid)
            else { throw .signatureInvalid }
            return try await verify(token, keys: fresh, status: status)
        } catch {
            throw error
        }
    }

    /// One verification with these keys, refreshing the status list first if it is not fresh.
    func verify(_ token: String, keys: JWSVerifier, status: BadgeStatusClaims?) async throws(BadgeError) -> BadgeClaims {
        let now = Date()
        var status = status
        if status.map({ !Self.isFresh($0, now: now) }) ?? true {
            status = await refreshStatus(keys: keys)
        }
        let current = status.map { (list: $0, fresh: Self.isFresh($0, now: now)) }
        return try await verification.verify(token, keys: keys, status: current)
    }

    /// Keeps the caches fresh in the background until cancelled.
    public func run() async {
        while !Task.isCancelled {
            let keys = await refreshKeys(unknownKid: false)
            var delay: Duration = .seconds(5)
            if let keys, let list = await refreshStatus(keys: keys) {
                delay = .seconds(max(1, min(Int64(list.ttl) / 2, 300)))
            }
            try? await Task.sleep(for: delay)
        }
    }

    static func isFresh(_ list: BadgeStatusClaims, now: Date) -> Bool {
        now.unixSeconds - (list.iat ?? 0) <= Int64(list.ttl)
    }

    /// Fetches the JWKS if it is missing, 5 minutes old, or (for an unknown `kid`) a second old.
    func refreshKeys(unknownKid: Bool) async -> JWSVerifier? {
        let (keys, fetched) = state.withLock { ($0.keys, $0.keysFetched) }
        let age = Date().timeIntervalSince(fetched)
        guard keys == nil || age > 300 || (unknownKid && age >= 1) || !unknownKid && age > 240 else { return keys }
        guard let set = try? await client.jwks() else { return keys }
        let fresh = await JWSVerifier(jwks: set)
        state.withLock { state in
            state.keys = fresh
            state.keysFetched = Date()
        }
        return fresh
    }

    /// Fetches and verifies the status list; keeps the previous one if the fetch fails.
    func refreshStatus(keys: JWSVerifier) async -> BadgeStatusClaims? {
        guard let token = try? await client.badgeStatus().token,
            let list = await BadgeStatusCache.verifiedList(token, keys: keys)?.list
        else { return state.withLock { $0.status } }
        state.withLock { state in
            state.status = list
            state.statusToken = token
        }
        return list
    }

    static func kid(of token: String) -> String? {
        guard let dot = token.utf8.firstIndex(of: UInt8(ascii: ".")),
            let bytes = Base64URL.decode(token[..<dot]),
            case .string(let kid)? = (try? StrictJSON.object(bytes, maximumDepth: 4))?["kid"]
        else { return nil }
        return kid
    }
}
