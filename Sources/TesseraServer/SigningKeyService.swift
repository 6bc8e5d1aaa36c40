import Foundation
import Logging
import TesseraCore
import TesseraStore

/// The server's signing keys: which one signs now, which still verify, what the JWKS publishes.
///
/// Keys live in the store, so every process sharing it signs with the same key and verifies the
/// others' tokens. Each process re-reads them periodically (and on an unknown `kid`) to see
/// rotations made elsewhere.
public actor SigningKeyService {
    let store: any TesseraStore
    let clock: any TesseraClock
    let gracePeriod: TimeInterval
    let logger: Logger

    public private(set) var ring: SigningKeyRing
    public private(set) var signer: JWSSigner
    public private(set) var verifier: JWSVerifier
    var lastRefresh: Date

    /// Loads the keys, creating the first one if the store has none.
    public init(store: any TesseraStore, clock: any TesseraClock, gracePeriod: TimeInterval, logger: Logger) async throws {
        self.store = store
        self.clock = clock
        self.gracePeriod = gracePeriod
        self.logger = logger
        let records = try await store.ensureActiveSigningKey(.generate(at: clock.now()))
        let ring = SigningKeyRing(records: records, gracePeriod: gracePeriod)
        guard let active = ring.active else { throw StoreError.invalidState("no active signing key") }
        self.ring = ring
        self.signer = await JWSSigner(keyPair: try active.keyPair())
        self.verifier = await JWSVerifier(keys: ring.verificationKeys(at: clock.now()))
        self.lastRefresh = clock.now()
    }

    /// Re-reads the keys; rebuilds the signer and verifier only when something changed.
    public func refresh() async throws {
        let records = try await store.signingKeys()
        try await install(records)
    }

    func install(_ records: [SigningKeyRecord]) async throws {
        let now = clock.now()
        let ring = SigningKeyRing(records: records, gracePeriod: gracePeriod)
        guard let active = ring.active else { throw StoreError.invalidState("no active signing key") }
        self.ring = ring
        lastRefresh = now
        if active.kid != signer.kid {
            signer = await JWSSigner(keyPair: try active.keyPair())
            logger.info("signing key changed", metadata: ["kid": "\(active.kid)"])
        }
        let keys = ring.verificationKeys(at: now)
        if Set(keys.keys) != verifier.kids {
            verifier = await JWSVerifier(keys: keys)
        }
    }

    /// Makes a new key active and retires the current one; it keeps verifying for the grace period.
    @discardableResult
    public func rotate() async throws -> SigningKeyRecord {
        let candidate = SigningKeyRecord.generate(at: clock.now())
        try await install(try await store.rotateSigningKey(to: candidate))
        logger.notice("signing key rotated", metadata: ["kid": "\(candidate.kid)"])
        return candidate
    }

    public func jwks() -> JWKSet { ring.jwks(at: clock.now()) }

    /// Verifies with the current keys; an unknown `kid` triggers one re-read (at most once a
    /// second) in case another process has just rotated.
    public func verify<Claims: JWSClaims>(_ token: String, as type: Claims.Type, policy: JWSPolicy) async throws(JWSError) -> Claims {
        do {
            return try await verifier.verify(token, as: type, policy: policy, clock: clock)
        } catch {
            guard case .unknownKeyID = error, clock.now().timeIntervalSince(lastRefresh) >= 1,
                (try? await refresh()) != nil
            else { throw error }
            return try await verifier.verify(token, as: type, policy: policy, clock: clock)
        }
    }

    public func sign<Claims: JWSClaims>(_ claims: Claims, type: String) async throws(JWSError) -> String {
        try await signer.sign(claims, type: type)
    }
}
