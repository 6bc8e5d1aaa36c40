import Crypto
import Foundation

/// Proof of possession for a key-bound passport (`cnf.jkt`): a JWS whose header carries the
/// holder's public `jwk` (and `kid` = its RFC 7638 thumbprint), signed by that key.
///
/// `typ` is required so that no other token signed by the same key (a badge PoP proof, a DPoP
/// proof) can stand in for it, and `purpose` says which operation it authorises: a proof for
/// `/delegate` also names the key the child is bound to and carries `request_digest`, the digest
/// of the very delegation it authorises (child tools, budget, lifetime, key…), so a captured proof
/// cannot be replayed to mint a different child — a wider one, or one for somebody else's key.
///
/// A proof is single use: the server records its `jti` (per holder key) in a replay cache shared
/// by every node and refuses a second presentation (`proof_replayed`). It is short-lived: `iat` at
/// most ``maximumAge`` in the past and ``maximumFutureSkew`` in the future (a proof "issued" a
/// minute ahead used to stay valid for two).
public struct PassportProofClaims: JWSClaims, Equatable {
    public static let type = "tessera-passport-pop+jwt"
    /// Proof lifetime: `iat` at most this far in the past; an `exp`, when present, at most this
    /// far after `iat`.
    public static let maximumAge: Int64 = 60
    /// How far ahead of the server's clock `iat` may be: clock skew only, not a validity period.
    public static let maximumFutureSkew: Int64 = 5
    /// How long a used proof is remembered after its `iat`: past the last moment any node accepts
    /// it (``maximumAge`` + ``maximumFutureSkew``), with as much again as margin for nodes whose
    /// clocks differ, so pruning never reopens a proof that some node would still accept.
    public static let replayRetention: Int64 = 2 * maximumAge + maximumFutureSkew
    /// `jti` length bound (bytes): it is stored, so it is bounded.
    public static let maximumJTIBytes = 128

    public enum Purpose: String, Codable, Sendable {
        case sessionStart = "session_start"
        case delegate
    }

    public var iss: String?
    public var iat: Int64?
    public var nbf: Int64?
    public var exp: Int64?
    public var jti: String?
    public var passport_jti: String
    /// Absent is accepted for session start only.
    public var purpose: Purpose?
    /// For `delegate`: the thumbprint the child passport will be bound to.
    public var child_cnf_jkt: String?
    /// For `delegate`: ``DelegationRequest/proofDigest`` of the request this proof authorises.
    public var request_digest: String?

    public init(
        passportJTI: String, purpose: Purpose, iat: Int64, childJKT: String? = nil, requestDigest: String? = nil,
        jti: String = UUID().uuidString.lowercased()
    ) {
        self.passport_jti = passportJTI
        self.purpose = purpose
        self.iat = iat
        self.child_cnf_jkt = childJKT
        self.request_digest = requestDigest
        self.jti = jti
    }

    /// The claims of a proof authorising exactly `request` on the parent passport `passportJTI`
    /// (bound to `parentJKT`): the child's key is the request's, or the parent's when it names
    /// none, as the server decides. The SDK builds its `/delegate` proofs here, so callers get
    /// the digest without computing it.
    public static func delegation(passportJTI: String, parentJKT: String, request: DelegationRequest, iat: Int64) -> PassportProofClaims {
        PassportProofClaims(
            passportJTI: passportJTI, purpose: .delegate, iat: iat, childJKT: request.childCnfJKT ?? parentJKT, requestDigest: request.proofDigest)
    }

    /// The proof header: the holder's public key travels with the proof.
    public struct Header: Codable, Sendable {
        public var alg = "EdDSA"
        public var typ = PassportProofClaims.type
        public var kid: String
        public var jwk: JWK
    }

    /// Signs a proof with the holder's key (SDK, CLI and tests all build proofs here).
    public static func sign(_ claims: PassportProofClaims, key: Ed25519KeyPair) throws -> String {
        var jwk = key.publicKey.jwk
        jwk.kid = nil
        let header = Base64URL.encode(try CompactJWS.encoder.encode(Header(kid: key.kid, jwk: jwk)))
        let payload = Base64URL.encode(try CompactJWS.encoder.encode(claims))
        return try CompactJWS.sign(signingInput: header + "." + payload, key: key)
    }

    /// A proof that verified: what the replay cache must record before the operation proceeds.
    public struct Use: Sendable, Equatable {
        /// The replay-cache key: SHA-256 over the holder's thumbprint and the proof's `jti`, so
        /// one holder's `jti`s can never collide with (or pre-empt) another holder's, and every
        /// key has the same bounded length whatever the `jti`.
        public var replayKey: String
        /// When the entry may be pruned (seconds since the epoch; see ``replayRetention``).
        public var expiresAt: Int64
        public var claims: PassportProofClaims
    }

    /// Why a proof was refused. The wire never says which (it is one `invalid_token`); the reason
    /// is for the server's log and for tests.
    public enum Failure: Error, Equatable, Sendable {
        case missing
        case malformed
        case wrongKey
        case signature
        case wrongPassport
        case missingJTI
        case stale
        case inFuture
        case tooLong
        case wrongPurpose
        case wrongChildKey
        case requestMismatch
    }

    /// Checks a proof for the passport bound to `jkt`, without the replay cache (pure): the
    /// header's `jwk` must hash to `jkt`, `typ` must be the proof type, the signature must verify
    /// with that key, `passport_jti` must be this passport, `jti` present and bounded, `iat` within
    /// [now − ``maximumAge``, now + ``maximumFutureSkew``], an `exp` no later than `iat` +
    /// ``maximumAge``, the purpose the operation's, and for delegation the child's key and the
    /// request digest those of the request being served (compared in constant time).
    public static func verify(
        _ proof: String?, jkt: String, passportJTI: String, purpose: Purpose, childJKT: String?, requestDigest: String?, now: Int64
    ) throws(Failure) -> Use {
        struct ProofHeader: Decodable { var jwk: JWK? }
        guard let proof else { throw .missing }
        guard proof.utf8.count <= 16 * 1024, let segment = proof.split(separator: ".").first, let bytes = Base64URL.decode(segment),
            let header = try? StrictJSON.decode(ProofHeader.self, from: bytes), let jwk = header.jwk, jwk.d == nil
        else { throw .malformed }
        guard let key = try? Ed25519PublicKey(jwk: jwk), key.thumbprint == jkt else { throw .wrongKey }
        let verifier = JWSVerifier(synchronousKeys: [jkt: key])
        let claims: PassportProofClaims
        do {
            claims = try verifier.verifySync(
                proof, as: PassportProofClaims.self,
                policy: JWSPolicy(type: Self.type, leewaySeconds: maximumFutureSkew, requireExpiry: false), now: now)
        } catch {
            switch error {
            case .issuedInFuture, .notYetValid: throw .inFuture
            case .expired: throw .stale
            default: throw .signature
            }
        }
        guard claims.passport_jti == passportJTI else { throw .wrongPassport }
        guard let jti = claims.jti, !jti.isEmpty, jti.utf8.count <= maximumJTIBytes else { throw .missingJTI }
        guard let iat = claims.iat else { throw .stale }
        guard iat <= now + maximumFutureSkew else { throw .inFuture }
        guard iat >= now - maximumAge else { throw .stale }
        if let exp = claims.exp, exp > iat + maximumAge { throw .tooLong }
        switch purpose {
        case .sessionStart:
            guard claims.purpose == nil || claims.purpose == .sessionStart else { throw .wrongPurpose }
        case .delegate:
            guard claims.purpose == .delegate else { throw .wrongPurpose }
            guard claims.child_cnf_jkt == childJKT else { throw .wrongChildKey }
            guard let expected = requestDigest, let presented = claims.request_digest,
                ConstantTime.equals(Array(presented.utf8), Array(expected.utf8))
            else { throw .requestMismatch }
        }
        return Use(replayKey: replayKey(jkt: jkt, jti: jti), expiresAt: iat + replayRetention, claims: claims)
    }

    /// See ``Use/replayKey``.
    public static func replayKey(jkt: String, jti: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array("tessera-passport-pop\u{0}\(jkt)\u{0}\(jti)".utf8)))
    }
}

extension DelegationRequest {
    /// What a `/delegate` proof's `request_digest` must be: base64url SHA-256 of the RFC 8785
    /// canonical JSON of every field that governs the child (``fingerprint``: agent, mission,
    /// tools and their constraints, scope, budget, lifetime, key). The SDK computes it from the
    /// body it sends and the server from the body it decoded, both through
    /// ``DelegationRequest/parse(_:)``, so a field added to the request is covered in one place.
    public var proofDigest: String {
        Base64URL.encode(SHA256.hash(data: Array(fingerprint.utf8)))
    }
}
