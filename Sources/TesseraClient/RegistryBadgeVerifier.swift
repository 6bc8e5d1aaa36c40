import Foundation
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

/// A badge verifier for services: the registry's JWKS and status list are fetched once and
/// cached — the JWKS refreshed on an unknown `kid` (at most once a second) or after 5 minutes,
/// the status list after its `ttl`. Verification itself is offline.
public actor RegistryBadgeVerifier {
    let client: TesseraHTTPClient
    public let verification: BadgeVerification
    var keys: JWSVerifier?
    var keysFetched: Date = .distantPast
    var status: (token: String, fetched: Date)?

    public init(server: String, verification: BadgeVerification) throws {
        self.client = try TesseraHTTPClient(baseURL: server, timeout: .seconds(5))
        self.verification = verification
    }

    public func verify(_ token: String) async throws(BadgeError) -> BadgeClaims {
        guard let keys = await currentKeys(for: token) else { throw .signatureInvalid }
        let list = await currentStatus(keys: keys)
        return try await verification.verify(token, keys: keys, status: list)
    }

    func currentKeys(for token: String) async -> JWSVerifier? {
        let kid = Self.kid(of: token)
        let stale = Date().timeIntervalSince(keysFetched) > 300
        let unknown = kid.map { !(keys?.kids.contains($0) ?? false) } ?? false
        if keys == nil || stale || (unknown && Date().timeIntervalSince(keysFetched) >= 1) {
            if let set = try? await client.jwks() {
                keys = await JWSVerifier(jwks: set)
                keysFetched = Date()
            }
        }
        return keys
    }

    func currentStatus(keys: JWSVerifier) async -> (list: BadgeStatusClaims, fresh: Bool)? {
        if let status, let cached = await BadgeStatusCache.verifiedList(status.token, keys: keys), cached.fresh {
            return cached
        }
        if let fresh = try? await client.badgeStatus() {
            status = (fresh.token, Date())
        }
        return await BadgeStatusCache.verifiedList(status?.token, keys: keys)
    }

    static func kid(of token: String) -> String? {
        struct Header: Decodable { var kid: String? }
        guard let first = token.split(separator: ".").first, let bytes = Base64URL.decode(first) else { return nil }
        return (try? StrictJSON.decode(Header.self, from: Data(bytes)))?.kid
    }
}
