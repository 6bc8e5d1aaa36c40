import Crypto
import Foundation

/// The protected header members the verifier inspects before touching the signature.
struct JWSHeader {
    var alg: String?
    var kid: String?
    var typ: String?
    var crit: [String]?
}

/// Verifies compact JWS against a fixed set of Ed25519 public keys.
///
/// The one JWS verification path for every Tessera token (badges, passports, login tokens,
/// receipts, attestations, proofs). It is written directly on swift-crypto rather than through
/// jwt-kit for two reasons: jwt-kit trusts the header (it falls back to a default key for an
/// unknown `kid` and never compares `alg` with the key) and it decodes segments leniently (padding
/// and non-canonical trailing bits verify, so one token had several spellings — a problem for
/// receipt chains that hash the compact form and caches keyed on it). Here every segment must be
/// canonical unpadded base64url, the header and payload are parsed by ``StrictJSON`` (duplicate
/// member names refused), and the header rules — only `EdDSA`, no `crit`, a known `kid`, the
/// expected `typ` — are enforced before the signature is checked. Immutable: a key change builds
/// a new verifier.
public struct JWSVerifier: Sendable {
    public let kids: Set<String>
    let keys: [String: Ed25519PublicKey]

    public init(keys: [String: Ed25519PublicKey]) async {
        self.kids = Set(keys.keys)
        self.keys = keys
    }

    /// The same, for synchronous callers.
    public init(synchronousKeys keys: [String: Ed25519PublicKey]) {
        self.kids = Set(keys.keys)
        self.keys = keys
    }

    /// Keys from a JWK Set; entries that are not Ed25519 public keys with a `kid` are skipped.
    public init(jwks: JWKSet) async {
        var keys: [String: Ed25519PublicKey] = [:]
        for jwk in jwks.keys {
            guard let kid = jwk.kid, let key = try? Ed25519PublicKey(jwk: jwk) else { continue }
            keys[kid] = key
        }
        await self.init(keys: keys)
    }

    /// Checks, in order: size and shape, header (`alg`, `crit`, `kid`, `typ`), signature,
    /// issuer, `exp` / `nbf` / `iat` with leeway, audience. The first failure is thrown.
    public func verify<Claims: JWSClaims>(
        _ token: String, as: Claims.Type, policy: JWSPolicy, clock: any TesseraClock = SystemClock()
    ) async throws(JWSError) -> Claims {
        try verifySync(token, as: Claims.self, policy: policy, now: clock.now().unixSeconds)
    }

    /// The same checks without suspending, for callers inside a synchronous critical section.
    public func verifySync<Claims: JWSClaims>(_ token: String, as: Claims.Type, policy: JWSPolicy, now: Int64) throws(JWSError) -> Claims {
        let parsed = try Self.parse(token, policy: policy, kids: kids)
        guard let key = keys[parsed.header.kid ?? ""],
            key.backing.isValidSignature(parsed.signature, for: parsed.signingInput)
        else { throw .signatureInvalid }
        let claims: Claims
        if let strict = Claims.self as? any StrictClaims.Type {
            // One strict pass straight into the claims (see ``StrictClaims``).
            guard let object = try? StrictJSON.object(parsed.payload) else { throw .malformed("claims") }
            claims = try strict.init(strict: object) as! Claims
        } else {
            do {
                claims = try StrictJSON.decode(Claims.self, from: parsed.payload)
            } catch {
                throw .malformed("claims")
            }
        }
        try Self.checkClaims(claims, policy: policy, now: now)
        return claims
    }

    struct Parsed {
        var header: JWSHeader
        var payload: [UInt8]
        var signature: [UInt8]
        var signingInput: ArraySlice<UInt8>
    }

    /// Size, shape, canonical encoding of all three segments, and the header rules: everything
    /// decided before any cryptography. Works on the token's bytes: splitting a `String` walks
    /// grapheme clusters, which cost more than the rest of the parsing together.
    /// `kids` nil: the header's `kid` is neither required nor checked (RFC-002 badges may omit it
    /// and are matched against their issuer's keys afterwards).
    static func parse(_ token: String, policy: JWSPolicy, kids: Set<String>?) throws(JWSError) -> Parsed {
        let (bytes, firstDot, secondDot) = try split(token, policy: policy)
        let header = try checkHeader(bytes[..<firstDot], policy: policy, kids: kids)
        guard let payload = Base64URL.decode(bytes: bytes[(firstDot + 1)..<secondDot]) else {
            throw .malformed("payload is not canonical base64url")
        }
        guard let signature = Base64URL.decode(bytes: bytes[(secondDot + 1)...]), signature.count == 64 else {
            throw .malformed("signature is not 64 bytes of canonical base64url")
        }
        return Parsed(header: header, payload: payload, signature: signature, signingInput: bytes[..<secondDot])
    }

    /// The token's bytes and the positions of its two dots; refuses anything but three non-empty segments.
    static func split(_ token: String, policy: JWSPolicy) throws(JWSError) -> ([UInt8], Int, Int) {
        guard token.utf8.count <= policy.maxTokenBytes else { throw .tooLarge(limit: policy.maxTokenBytes) }
        let bytes = Array(token.utf8)
        var dots: (Int, Int) = (-1, -1)
        var count = 0
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: ".") {
            count += 1
            if count == 1 { dots.0 = i } else if count == 2 { dots.1 = i }
        }
        guard count == 2, dots.0 > 0, dots.1 > dots.0 + 1, dots.1 < bytes.count - 1 else {
            throw .malformed("expected three non-empty segments")
        }
        return (bytes, dots.0, dots.1)
    }

    /// Header rules, applied before any cryptography. The header is parsed by the strict parser
    /// into its members directly (no `JSONDecoder`:
    /// four optional strings do not need one). A member of the wrong type is malformed.
    static func checkHeader(_ segment: ArraySlice<UInt8>, policy: JWSPolicy, kids: Set<String>?) throws(JWSError) -> JWSHeader {
        guard let headerBytes = Base64URL.decode(bytes: segment),
            let object = try? StrictJSON.object(headerBytes, maximumDepth: 4)
        else { throw .malformed("header") }
        func string(_ name: String) throws(JWSError) -> String? {
            switch object[name] {
            case nil: return nil
            case .string(let value)?: return value
            default: throw .malformed("header")
            }
        }
        // No extension is understood, so any critical one must be refused (RFC 7515 §4.1.11).
        // Checked after `alg` below, as before; its presence alone decides.
        let header = JWSHeader(alg: try string("alg"), kid: try string("kid"), typ: try string("typ"), crit: object["crit"] == nil ? nil : [])
        guard header.alg == "EdDSA" else { throw .unsupportedAlgorithm(header.alg ?? "(none)") }
        guard header.crit == nil else { throw .malformed("crit") }
        if let kids {
            guard let kid = header.kid, !kid.isEmpty else { throw .missingKeyID }
            guard kids.contains(kid) else { throw .unknownKeyID(kid) }
        }
        if let type = policy.type, header.typ != type { throw .wrongType(header.typ) }
        return header
    }

    static func checkClaims(_ claims: some JWSClaims, policy: JWSPolicy, now: Int64) throws(JWSError) {
        if let issuers = policy.issuers, !issuers.contains(claims.iss ?? "") {
            throw .issuerUntrusted(claims.iss)
        }
        let leeway = policy.leewaySeconds
        if let exp = claims.exp {
            guard now < exp + leeway else { throw .expired }
        } else if policy.requireExpiry {
            throw .missingClaim("exp")
        }
        if let nbf = claims.nbf, now + leeway < nbf { throw .notYetValid }
        if let iat = claims.iat, now + leeway < iat { throw .issuedInFuture }
        if let audience = policy.audience {
            guard let aud = claims.aud, aud.contains(audience) else { throw .audienceMismatch }
        }
    }
}
