import HTTPTypes
import Foundation
import Logging
import TesseraCore
import TesseraStore
import Synchronization

/// Turns a bearer credential into an ``Identity``, or nil. Every failure is the same nil: callers
/// answer one masked 401 and never say which check failed.
///
/// A credential with three dot-separated segments is a login JWT, verified locally; anything else
/// is an API key, resolved through the store by its SHA-256 with a short cache. The user and the
/// workspace are re-read within the cache TTL. With a ``CredentialChangeFollower`` running (as in
/// `tessera serve`) a change made by any process drops the affected entries within a fraction of
/// a second, and the caches are trusted only while that feed is being read.
public final class Authenticator: Sendable {
    let store: any IdentityStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    let issuer: String
    let logger: Logger
    let apiKeys: TTLCache<String, ResolvedAPIKey>
    let users: TTLCache<String, UserRecord>
    let workspaces: TTLCache<String, WorkspaceRecord>
    /// Last use per key id, written to the store in batches by ``flushUsage()``.
    let pendingUsage = Mutex<[String: Date]>([:])
    let feed = Mutex(FeedConfirmation())

    public init(store: any IdentityStore, keys: SigningKeyService, clock: any TesseraClock, issuer: String, cacheTTL: TimeInterval, logger: Logger) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.issuer = issuer
        self.logger = logger
        self.apiKeys = TTLCache(ttl: cacheTTL)
        self.users = TTLCache(ttl: cacheTTL)
        self.workspaces = TTLCache(ttl: cacheTTL)
    }

    public var loginPolicy: JWSPolicy { JWSPolicy(type: LoginClaims.type, issuers: [issuer]) }

    public func authenticate(bearer credential: String?) async -> Identity? {
        guard let credential, !credential.isEmpty, credential.utf8.count <= 16 * 1024 else { return nil }
        do {
            if credential.split(separator: ".", omittingEmptySubsequences: false).count == 3 {
                return try await authenticateJWT(credential)
            }
            return try await authenticateAPIKey(credential)
        } catch {
            logger.debug("authentication failed", metadata: ["reason": "\(error)"])
            return nil
        }
    }

    /// RFC-003 §3.1's header for registry API keys.
    public static let registryKeyHeader = HTTPField.Name("X-Capiscio-Registry-Key")!

    /// A request's credential: `Authorization: Bearer …`, or CapiscIO clients' registry key in
    /// `X-Capiscio-Registry-Key` (RFC-003 §3.1), the same credential as a bearer API key.
    public static func credential(_ headers: HTTPFields) -> String? {
        bearer(headers[.authorization]) ?? headers[registryKeyHeader]
    }

    /// Extracts the credential of an `Authorization: Bearer …` header value.
    public static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    struct Refused: Error { let reason: String }

    func authenticateJWT(_ token: String) async throws -> Identity? {
        let claims = try await keys.verify(token, as: LoginClaims.self, policy: loginPolicy)
        guard let user = try await cachedUser(claims.sub), user.enabled else { throw Refused(reason: "user") }
        guard (claims.ep ?? 0) == user.tokenEpoch else { throw Refused(reason: "token epoch") }
        guard try await workspaceIsEnabled(claims.workspace) else { throw Refused(reason: "workspace") }
        return Identity(user: user, workspace: claims.workspace, source: .login(jti: claims.jti))
    }

    func authenticateAPIKey(_ plaintext: String) async throws -> Identity? {
        guard APIKeyCodec.isWellFormed(plaintext) else { throw Refused(reason: "shape") }
        let hash = APIKeyCodec.hash(plaintext)
        let now = clock.now()
        let resolved: ResolvedAPIKey
        if cacheUsable(), let cached = apiKeys.value(for: hash, now: now) {
            resolved = cached
        } else {
            guard let fresh = try await store.resolveAPIKey(hash: hash) else { throw Refused(reason: "unknown") }
            apiKeys.set(fresh, for: hash, now: now)
            resolved = fresh
        }
        guard !resolved.key.revoked else { throw Refused(reason: "revoked") }
        if let expires = resolved.key.expires, expires <= now { throw Refused(reason: "expired") }
        guard resolved.user.enabled, resolved.workspace?.enabled == true else { throw Refused(reason: "disabled") }
        pendingUsage.withLock { $0[resolved.key.id] = now }
        return Identity(user: resolved.user, workspace: resolved.user.defaultWorkspace, source: .apiKey(id: resolved.key.id))
    }

    func cachedUser(_ id: String) async throws -> UserRecord? {
        let now = clock.now()
        if cacheUsable(), let user = users.value(for: id, now: now) { return user }
        guard let user = try await store.user(id: id) else { return nil }
        users.set(user, for: id, now: now)
        return user
    }

    /// Whether a workspace exists and is enabled, through the cache.
    public func workspaceIsEnabled(_ id: String) async throws -> Bool {
        let now = clock.now()
        if cacheUsable(), let workspace = workspaces.value(for: id, now: now) { return workspace.enabled }
        guard let workspace = try await store.workspace(id: id) else { return false }
        workspaces.set(workspace, for: id, now: now)
        return workspace.enabled
    }

    /// Forgets what this process cached about a user, key or workspace it has just changed, so
    /// the change is immediate here (other processes see it within the TTL).
    public func invalidate(userID: String? = nil, workspaceID: String? = nil, keyID: String? = nil) {
        if let userID {
            users.remove(userID)
            apiKeys.removeAll { $0.user.id == userID }
        }
        if let workspaceID {
            workspaces.remove(workspaceID)
            apiKeys.removeAll { $0.user.defaultWorkspace == workspaceID }
        }
        if let keyID { apiKeys.removeAll { $0.key.id == keyID } }
    }

    /// Whether cached entries may be used now: always without a follower (the TTL bounds them),
    /// else only while the change feed is confirmed (see ``FeedConfirmation``).
    func cacheUsable() -> Bool {
        feed.withLock { $0.trusted(unfollowed: true) }
    }

    /// Declares that a follower runs: from now on the caches depend on its reads.
    func followChanges() { feed.withLock { $0.followed = true } }

    /// Drops what `changes` make stale, then records the read as the latest confirmation.
    func apply(_ changes: [CredentialChange], readStartedAt: ContinuousClock.Instant) {
        for change in changes {
            switch change.kind {
            case .user: invalidate(userID: change.subject)
            case .workspace: invalidate(workspaceID: change.subject)
            case .key: invalidate(keyID: change.subject)
            case .revocation: break  // passports: see RevocationCache
            }
        }
        feed.withLock { $0.confirmedAt = readStartedAt }
    }

    /// Writes the batched `last_used` times.
    public func flushUsage() async {
        let batch = pendingUsage.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        do {
            try await store.touchAPIKeys(batch)
        } catch {
            logger.warning("could not record API key use", metadata: ["error": "\(error)"])
        }
    }
}
