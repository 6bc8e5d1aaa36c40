import Crypto
import Synchronization

/// Tokens this process has already verified, keyed by the SHA-256 of the token (issue 28).
///
/// Why: a passport presented on every call (`/verify`, a gateway's bearer) paid a full Ed25519
/// verification and strict parse each time — ~60–120 µs — to learn what it learnt the first time.
/// A hit costs one SHA-256 of the token and one dictionary lookup, and allocates nothing.
///
/// What keeps it safe:
/// - **never past `exp`**: an entry answers only while `now < exp` (without the verifier's clock-skew
///   leeway); after that the caller verifies in full, so the cache never accepts a token the
///   verifier would refuse, and never extends one;
/// - **keys**: each entry remembers the verifier generation it was verified under; a rotation or
///   retirement that changes the verification keys makes every entry miss;
/// - **revocation is not cached here**: the caller checks revocation on every use, hit or miss
///   (see `GovernanceService.verifyPassport`);
/// - **bounded**: at `capacity` entries it starts over (a miss only costs a full verification);
/// - **one policy per cache**: the key is the token alone, so each cache serves one verification
///   policy (the governance service's passport policy).
public final class VerifiedTokenCache<Claims: Sendable>: Sendable {
    public let capacity: Int
    private struct Entry: Sendable {
        let claims: Claims
        let expiresAt: Int64
        let generation: UInt64
    }
    private let entries: Mutex<[SHA256Digest: Entry]>
    private let hits = Atomic<Int>(0)
    /// Answers given from the cache (tests and diagnostics).
    public var hitCount: Int { hits.load(ordering: .relaxed) }

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
        entries = Mutex([:])
    }

    /// The claims verified earlier for exactly this token, if still within `exp` at `now` and
    /// verified under the keys of `generation`.
    public func claims(for token: String, now: Int64, generation: UInt64) -> Claims? {
        let key = Self.digest(token)
        let claims = entries.withLock { entries -> Claims? in
            guard let entry = entries[key], entry.generation == generation, now < entry.expiresAt else { return nil }
            return entry.claims
        }
        if claims != nil { hits.add(1, ordering: .relaxed) }
        return claims
    }

    /// Remembers `claims`, just verified from `token` under the keys of `generation`.
    public func remember(_ claims: Claims, for token: String, expiresAt: Int64, generation: UInt64) {
        let key = Self.digest(token)
        entries.withLock { entries in
            if entries.count >= capacity, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(claims: claims, expiresAt: expiresAt, generation: generation)
        }
    }

    public var count: Int { entries.withLock { $0.count } }

    /// SHA-256 over the token's UTF-8 bytes, read in place (a native string is contiguous).
    static func digest(_ token: String) -> SHA256Digest {
        var token = token
        return token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
    }
}
