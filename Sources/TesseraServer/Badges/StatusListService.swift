import Foundation
import Synchronization
import TesseraCore
import TesseraStore

/// The registry's origin (`https://registry.example`): `iss` of badges, the base of status-list
/// URIs and of RFC-003 `htu`s. Set from `public_url`, or once the server knows the port it bound
/// (a server started with `--port 0` learns it only then, before it accepts any request).
public final class RegistryOrigin: Sendable {
    private let value: Mutex<String>
    public init(_ origin: String) { value = Mutex(Self.trimmed(origin)) }
    public var current: String { value.withLock { $0 } }
    public func set(_ origin: String) { value.withLock { $0 = Self.trimmed(origin) } }
    static func trimmed(_ origin: String) -> String { origin.hasSuffix("/") ? String(origin.dropLast()) : origin }
}

/// IETF Token Status Lists for badges and passports (draft-ietf-oauth-status-list).
///
/// Each token gets an index from the store that is never reused; list `n` covers indexes
/// `n·size … (n+1)·size − 1`, two bits each (0 VALID, 1 INVALID = revoked, 2 SUSPENDED = a
/// disabled agent's badge). A list is built from the store, compressed, signed (`typ`
/// `statuslist+jwt`, `sub` its own URI, `ttl`) and kept for at most a second — or until this
/// process revokes something — so a revocation anywhere reaches verifiers within one `ttl`.
public final class StatusListService: Sendable {
    public static let entriesPerList: Int64 = 1 << 20
    public static let bits = 2

    let store: any AgentStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    let origin: RegistryOrigin
    /// Seconds a verifier may cache a list.
    public let ttl: Int
    private let cache = Mutex<[Int64: Cached]>([:])
    private let generation = Atomic<UInt64>(0)

    struct Cached {
        var token: String
        var builtAt: Date
        var generation: UInt64
    }

    public init(store: any AgentStore, keys: SigningKeyService, clock: any TesseraClock, origin: RegistryOrigin, ttl: Int) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.origin = origin
        self.ttl = ttl
    }

    public func uri(list: Int64) -> String { "\(origin.current)/v1/status-lists/\(list)" }

    /// Gives a token its place: the `status` claim it must carry.
    public func allocate(kind: String, jti: String, agentID: String?, expiresAt: Date) async throws -> StatusClaim {
        let index = try await store.allocateStatusIndex(StatusEntry(kind: kind, jti: jti, agentID: agentID, expiresAt: expiresAt))
        return claim(index: index)
    }

    /// The `status` claim of the token at store index `index` (its list and place in it).
    public func claim(index: Int64) -> StatusClaim {
        StatusClaim(idx: Int(index % Self.entriesPerList), uri: uri(list: index / Self.entriesPerList))
    }

    /// A local revocation or disable: the next request rebuilds the list.
    public func invalidate() {
        generation.add(1, ordering: .sequentiallyConsistent)
    }

    /// The signed list `n`; nil when no index of it was ever allocated.
    public func token(list n: Int64) async throws -> String? {
        guard n >= 0, n < Int64.max / Self.entriesPerList else { return nil }
        let now = clock.now()
        let current = generation.load(ordering: .sequentiallyConsistent)
        if let cached = cache.withLock({ $0[n] }), cached.generation == current, now.timeIntervalSince(cached.builtAt) < 1 {
            return cached.token
        }
        let first = n * Self.entriesPerList
        let entries = try await store.statusEntries(in: first...(first + Self.entriesPerList - 1), now: now)
        guard let highest = entries.highest else { return nil }
        var list = try StatusList(bits: Self.bits, count: Int(highest - first + 1))
        for (index, status) in entries.statuses { try list.set(status, at: Int(index - first)) }
        let claims = StatusListClaims(iss: origin.current, uri: uri(list: n), iat: now.unixSeconds, ttl: ttl, list: list)
        let token = try keys.sign(claims, type: StatusListClaims.type)
        cache.withLock { $0[n] = Cached(token: token, builtAt: now, generation: current) }
        return token
    }
}
