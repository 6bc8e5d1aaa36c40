import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraStore

/// The server's signing keys: which one signs now, which still verify, what the JWKS publishes.
///
/// Keys live in the store, so every process sharing it signs with the same key and verifies the
/// others' tokens. Each process re-reads them periodically (and on an unknown `kid`) to see
/// rotations made elsewhere.
///
/// The hot paths (`/evaluate`, passport verification, login-token authentication) read one
/// immutable ``Snapshot`` under a short lock: no actor hop, no suspension. A refresh or rotation
/// builds a whole new snapshot and swaps it in, so a reader sees the old keys or the new ones,
/// never a mixture.
/// Numbers every verifier this process builds (see ``SigningKeyService/Snapshot/verifierGeneration``).
private let generations = Atomic<UInt64>(0)

public final class SigningKeyService: Sendable {
    /// Everything a signer or verifier needs, replaced as a whole.
    public struct Snapshot: Sendable {
        public let ring: SigningKeyRing
        public let signer: JWSSigner
        public let verifier: JWSVerifier
        /// When the keys were last read from the store (an unknown `kid` re-reads at most once a second).
        let refreshedAt: Date
        /// Changes whenever the verification keys do: what a verified-token cache keys its entries
        /// by, so that a rotation or a retirement makes every earlier verification miss.
        public let verifierGeneration: UInt64
    }

    let store: any SigningKeyStore
    let clock: any TesseraClock
    let gracePeriod: TimeInterval
    let logger: Logger
    private let current: Mutex<Snapshot>

    /// Loads the keys, creating the first one if the store has none.
    public init(store: any SigningKeyStore, clock: any TesseraClock, gracePeriod: TimeInterval, logger: Logger) async throws {
        self.store = store
        self.clock = clock
        self.gracePeriod = gracePeriod
        self.logger = logger
        let records = try await store.ensureActiveSigningKey(.generate(at: clock.now()))
        current = Mutex(try Self.snapshot(of: records, gracePeriod: gracePeriod, at: clock.now(), previous: nil))
    }

    /// The keys in force now.
    public var snapshot: Snapshot { current.withLock { $0 } }
    public var ring: SigningKeyRing { snapshot.ring }
    public var signer: JWSSigner { snapshot.signer }
    public var verifier: JWSVerifier { snapshot.verifier }

    /// Re-reads the keys; rebuilds the signer and verifier only when something changed.
    public func refresh() async throws {
        try install(try await store.signingKeys())
    }

    /// Builds and swaps the snapshot under the lock, so that two installs at once (a periodic
    /// refresh, an unknown `kid`, a rotation) cannot both derive from the same previous snapshot.
    func install(_ records: [SigningKeyRecord]) throws {
        let now = clock.now()
        let (previous, next) = try current.withLock { current throws -> (Snapshot, Snapshot) in
            let previous = current
            current = try Self.snapshot(of: records, gracePeriod: gracePeriod, at: now, previous: previous)
            return (previous, current)
        }
        if next.signer.kid != previous.signer.kid {
            logger.info("signing key changed", metadata: ["kid": "\(next.signer.kid)"])
        }
    }

    /// The snapshot for `records`, reusing `previous`'s signer and verifier when they are unchanged.
    static func snapshot(of records: [SigningKeyRecord], gracePeriod: TimeInterval, at now: Date, previous: Snapshot?) throws -> Snapshot {
        let ring = SigningKeyRing(records: records, gracePeriod: gracePeriod)
        guard let active = ring.active else { throw StoreError.invalidState("no active signing key") }
        let signer = try previous.flatMap { $0.signer.kid == active.kid ? $0.signer : nil } ?? JWSSigner(keyPair: active.keyPair())
        let keys = ring.verificationKeys(at: now)
        let kept = previous.flatMap { Set(keys.keys) == $0.verifier.kids ? $0 : nil }
        let verifier = kept?.verifier ?? JWSVerifier(synchronousKeys: keys)
        // A new verifier gets a number no other verifier in this process has had.
        let generation = kept?.verifierGeneration ?? generations.add(1, ordering: .relaxed).newValue
        return Snapshot(ring: ring, signer: signer, verifier: verifier, refreshedAt: now, verifierGeneration: generation)
    }

    /// Makes a new key active and retires the current one; it keeps verifying for the grace period.
    @discardableResult
    public func rotate() async throws -> SigningKeyRecord {
        let candidate = SigningKeyRecord.generate(at: clock.now())
        try install(try await store.rotateSigningKey(to: candidate))
        logger.notice("signing key rotated", metadata: ["kid": "\(candidate.kid)"])
        return candidate
    }

    public func jwks() -> JWKSet { ring.jwks(at: clock.now()) }

    /// Verifies with the current keys; an unknown `kid` triggers one re-read (at most once a
    /// second) in case another process has just rotated.
    ///
    /// With `cache`, a token verified earlier under the same keys is answered from it while
    /// before its `exp` (see ``VerifiedTokenCache``); a full verification fills it.
    public func verify<Claims: JWSClaims>(
        _ token: String, as type: Claims.Type, policy: JWSPolicy, cache: VerifiedTokenCache<Claims>
    ) async throws(JWSError) -> Claims {
        let keys = snapshot
        let now = clock.now().unixSeconds
        // An oversized token is refused by the verifier before anything reads it; so it is here.
        if token.utf8.count <= policy.maxTokenBytes, let claims = cache.claims(for: token, now: now, generation: keys.verifierGeneration) {
            return claims
        }
        let claims: Claims
        do {
            claims = try keys.verifier.verifySync(token, as: type, policy: policy, now: now)
        } catch {
            // An unknown key may be another process's rotation: the uncached path re-reads the
            // keys; what it verifies is not cached (it was not verified under `keys`).
            guard case .unknownKeyID = error else { throw error }
            return try await verify(token, as: type, policy: policy)
        }
        // Filed under the generation of the keys that verified it.
        if let exp = claims.exp { cache.remember(claims, for: token, expiresAt: exp, generation: keys.verifierGeneration) }
        return claims
    }

    public func verify<Claims: JWSClaims>(_ token: String, as type: Claims.Type, policy: JWSPolicy) async throws(JWSError) -> Claims {
        let keys = snapshot
        do {
            return try keys.verifier.verifySync(token, as: type, policy: policy, now: clock.now().unixSeconds)
        } catch {
            guard case .unknownKeyID = error, clock.now().timeIntervalSince(keys.refreshedAt) >= 1,
                (try? await refresh()) != nil
            else { throw error }
            return try verifier.verifySync(token, as: type, policy: policy, now: clock.now().unixSeconds)
        }
    }

    public func sign<Claims: JWSClaims>(_ claims: Claims, type: String) throws(JWSError) -> String {
        try signer.sign(claims, type: type)
    }
}
