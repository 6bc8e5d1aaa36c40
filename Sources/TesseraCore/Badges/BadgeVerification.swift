import Foundation

/// What a verifier knows about one status list when it checks a badge.
public enum StatusLookup: Sendable {
    /// The verified list, and whether it is within its `ttl`.
    case list(StatusList, fresh: Bool)
    case unavailable
}

/// Which self-signed level-0 badges (`iss` = `sub`, a `did:key`) a verifier accepts: none by
/// default, as RFC-002 §5 asks of production verifiers.
public enum SelfSignedPolicy: Sendable, Equatable {
    case refuse
    /// Any self-signed badge (development).
    case any
    /// Only these `did:key`s (RFC-002 §6.1: "the specific key has been explicitly trusted").
    case only(Set<String>)
}

/// RFC-002 §8.1 verification, in the RFC's order, shared by the CLI, the SDK verifier and the
/// badge middleware:
///
/// 1–2. size and shape, header (`alg` EdDSA, `typ` JWT, no `crit`) → `BADGE_MALFORMED`;
/// 3. claims structure and consistency (`ial` "0"/"1", `cnf` exactly on IAL-1, level 0 only
///    IAL-0, `key` present, `aud` an array) → `BADGE_CLAIMS_INVALID`;
/// 4. issuer allow-list *before* any key is looked up (a level-0 badge needs explicit trust) →
///    `BADGE_ISSUER_UNTRUSTED`;
/// 5. signature → `BADGE_SIGNATURE_INVALID`;
/// 6. `exp` / `iat` / `nbf` with 60 s skew → `BADGE_EXPIRED` / `BADGE_NOT_YET_VALID`; `aud`
///    present and not naming this verifier (or the verifier has no audience) →
///    `BADGE_AUDIENCE_MISMATCH`; minimum IAL → `BADGE_IAL_INSUFFICIENT`;
/// 7. IAL-1 key binding: `cnf.kid` dereferenced in the subject's DID document, its key equal to
///    `key` → `BADGE_CLAIMS_INVALID`;
/// 8–9. status list: 1 → `BADGE_REVOKED`, 2 (agent disabled) → `BADGE_AGENT_DISABLED`; no fresh
///    list when freshness is required → `BADGE_REVOCATION_UNAVAILABLE`.
///
/// Pure: keys, lists and DID documents come from the caller's caches, so the hot path does no I/O.
public struct BadgeVerification: Sendable {
    /// Registry origins whose badges are accepted (HTTPS origins, or HTTP on loopback; anything
    /// else in the set is never trusted).
    public let trustedIssuers: Set<String>
    /// `trustedIssuers` that are origins, decided once here rather than per badge.
    let origins: Set<String>
    /// This verifier's identity. A badge with `aud` must list it; a verifier without one accepts
    /// only badges that name no audience (RFC-002 §8.3: a badge addressed to service A is not
    /// for a verifier that cannot say it is A).
    public var audience: String?
    public var minimumIAL: Int
    /// Fail closed (`BADGE_REVOCATION_UNAVAILABLE`) when no fresh status list is at hand.
    public var requireFreshStatus: Bool
    public var selfSigned: SelfSignedPolicy
    /// RFC-002 §8.1 step 6's clock skew.
    public static let skew: Int64 = 60
    /// RFC-002 §11: a badge without `kid` is tried against at most this many keys.
    public static let maximumKeyAttempts = 5

    public init(
        trustedIssuers: Set<String>, audience: String? = nil, minimumIAL: Int = 0, requireFreshStatus: Bool = false,
        selfSigned: SelfSignedPolicy = .refuse
    ) {
        self.trustedIssuers = trustedIssuers
        self.origins = trustedIssuers.filter(Self.isOrigin)
        self.audience = audience
        self.minimumIAL = minimumIAL
        self.requireFreshStatus = requireFreshStatus
        self.selfSigned = selfSigned
    }

    /// Verifies `token`. `keys(iss)` gives the issuer's verifier (asked only for an allow-listed
    /// issuer), `status(uri)` the cached list, `document(did)` a resolved `did:web` document.
    public func verify(
        _ token: String, now: Int64, keys: (String) -> JWSVerifier?, status: (String) -> StatusLookup,
        document: (String) -> DIDDocument? = { _ in nil }
    ) throws(BadgeError) -> BadgeClaims {
        // 1–2. Shape and header.
        let (parsed, header, object) = try Self.parse(token)
        if header.typ == LegacyBadgeClaims.type {
            return try verifyLegacy(parsed, header: header, object: object, now: now, keys: keys)
        }
        guard header.typ == BadgeClaims.type else { throw .malformed }
        // 3. Structure.
        let claims: BadgeClaims
        do {
            claims = try BadgeClaims(strict: object)
        } catch {
            throw .claimsInvalid
        }
        guard let iss = claims.iss, let key = claims.key, let jwkKey = try? Ed25519PublicKey(jwk: key) else { throw .claimsInvalid }
        // The subject: a did:key (decoded once: it is also its own DID document) or a did:web.
        let subjectKey: Ed25519PublicKey?
        if claims.sub.hasPrefix("did:key:") {
            guard claims.sub.utf8.count <= 128, !claims.sub.utf8.contains(UInt8(ascii: "#")), let decoded = try? DIDKey.decode(claims.sub) else { throw .claimsInvalid }
            subjectKey = decoded
        } else {
            guard DIDs.isSupported(claims.sub) else { throw .claimsInvalid }
            subjectKey = nil
        }
        guard ["0", "1"].contains(claims.ial), ["0", "1", "2", "3", "4"].contains(claims.level) else { throw .claimsInvalid }
        if claims.ial == "1" { guard claims.cnf != nil else { throw .claimsInvalid } } else { guard claims.cnf == nil else { throw .claimsInvalid } }
        if claims.level == "0", claims.ial != "0" { throw .claimsInvalid }
        // 4. Issuer, before any key is looked up; then the key.
        let verifier: JWSVerifier
        if claims.level == "0" {
            guard iss == claims.sub, iss.hasPrefix("did:key:") else { throw .claimsInvalid }
            switch selfSigned {
            case .refuse: throw .issuerUntrusted
            case .any: break
            case .only(let dids): guard dids.contains(iss) else { throw .issuerUntrusted }
            }
            guard let selfKey = subjectKey, selfKey == jwkKey else { throw .claimsInvalid }
            verifier = JWSVerifier(synchronousKeys: [header.kid ?? "": selfKey])
        } else {
            guard origins.contains(iss) else { throw .issuerUntrusted }
            guard let issuerKeys = keys(iss) else { throw .signatureInvalid }
            verifier = issuerKeys
        }
        // 5. Signature.
        guard verifier.isValid(parsed, kid: header.kid, maximumAttempts: Self.maximumKeyAttempts) else { throw .signatureInvalid }
        // 6. Time, audience, assurance.
        try checkTimeAudienceAssurance(exp: claims.exp, iat: claims.iat, nbf: claims.nbf, audience: claims.audience, ial: claims.ial, now: now)
        // 7. IAL-1 key binding.
        if claims.ial == "1", let kid = claims.cnf?.kid {
            if let subjectKey {
                // did:key's document has one method, `did#<multibase>`, holding the DID's key.
                guard kid.utf8.count == claims.sub.utf8.count * 2 - 7, kid == claims.sub + "#" + claims.sub.dropFirst(8), subjectKey == jwkKey else {
                    throw .claimsInvalid
                }
            } else {
                guard let resolved = document(claims.sub), resolved.id == claims.sub, let bound = resolved.key(methodID: kid), bound == jwkKey else {
                    throw .claimsInvalid
                }
            }
        }
        // 8–9. Revocation and agent status (registry-issued badges only).
        if claims.level != "0" {
            try checkStatus(claims.status, issuer: iss, lookup: status)
        }
        return claims
    }

    /// Step 6, for both badge formats: `exp` / `iat` / `nbf` with the skew, `aud`, minimum IAL.
    func checkTimeAudienceAssurance(exp: Int64?, iat: Int64?, nbf: Int64?, audience aud: [String]?, ial: String, now: Int64) throws(BadgeError) {
        guard let exp, now < exp + Self.skew else { throw .expired }
        if let iat, iat > now + Self.skew { throw .notYetValid }
        if let nbf, nbf > now + Self.skew { throw .notYetValid }
        // Fails closed: a badge that names audiences is refused unless this verifier states it is
        // one of them (an empty `aud` names nobody, so it is refused too).
        if let aud {
            guard let audience, aud.contains(audience) else { throw .audienceMismatch }
        }
        guard Int(ial) ?? 0 >= minimumIAL else { throw .ialInsufficient }
    }

    func checkStatus(_ reference: StatusClaim?, issuer: String, lookup: (String) -> StatusLookup) throws(BadgeError) {
        guard let reference else {
            if requireFreshStatus { throw .revocationUnavailable }
            return
        }
        // A list is only ever fetched from the issuer's own origin (no SSRF through `uri`).
        guard Self.isUnder(issuer: issuer, uri: reference.status_list.uri) else { throw .claimsInvalid }
        switch lookup(reference.status_list.uri) {
        case .unavailable:
            if requireFreshStatus { throw .revocationUnavailable }
        case .list(let list, let fresh):
            if !fresh, requireFreshStatus { throw .revocationUnavailable }
            guard let value = try? list.status(at: reference.status_list.idx) else { throw .revocationUnavailable }
            switch value {
            case TokenStatus.valid.rawValue: return
            case TokenStatus.suspended.rawValue: throw .agentDisabled
            default: throw .revoked
            }
        }
    }

    /// A badge in the pre-RFC-002 format: signature, issuer, time, audience and IAL, as before.
    /// It carries no status reference, so a verifier that requires a fresh status refuses it.
    func verifyLegacy(
        _ parsed: JWSVerifier.Parsed, header: JWSHeader, object: [String: JSONValue], now: Int64, keys: (String) -> JWSVerifier?
    ) throws(BadgeError) -> BadgeClaims {
        guard let legacy = try? LegacyBadgeClaims(strict: object), let iss = legacy.iss else { throw .claimsInvalid }
        guard trustedIssuers.contains(iss) else { throw .issuerUntrusted }
        guard let verifier = keys(iss), verifier.isValid(parsed, kid: header.kid, maximumAttempts: 1) else { throw .signatureInvalid }
        try checkTimeAudienceAssurance(exp: legacy.exp, iat: legacy.iat, nbf: legacy.nbf, audience: legacy.aud?.values, ial: legacy.ial, now: now)
        let exp = legacy.exp ?? 0
        if requireFreshStatus { throw .revocationUnavailable }
        var claims = BadgeClaims(
            jti: legacy.jti, iss: iss, sub: legacy.sub, audience: legacy.aud?.values, iat: legacy.iat ?? 0, exp: exp, ial: legacy.ial,
            key: JWK(kty: "OKP"), cnf: nil, level: "1", domain: legacy.domain, status: nil, workspace: legacy.workspace,
            agentID: legacy.agent_id)
        claims.key = nil
        claims.nbf = legacy.nbf
        return claims
    }

    /// Splits and reads the header and payload; `BADGE_MALFORMED` for anything that is not a
    /// compact EdDSA JWS with a JSON object payload.
    static func parse(_ token: String) throws(BadgeError) -> (JWSVerifier.Parsed, JWSHeader, [String: JSONValue]) {
        let parsed: JWSVerifier.Parsed
        do {
            parsed = try JWSVerifier.parse(token, policy: JWSPolicy(), kids: nil)
        } catch {
            throw .malformed
        }
        guard parsed.header.alg == "EdDSA", parsed.header.crit == nil else { throw .malformed }
        guard let object = try? StrictJSON.object(parsed.payload) else { throw .malformed }
        return (parsed, parsed.header, object)
    }

    /// An HTTPS origin, or plain HTTP on a loopback host (development registries).
    public static func isOrigin(_ issuer: String) -> Bool {
        guard let url = URL(string: issuer), let scheme = url.scheme, let host = url.host, url.path.isEmpty || url.path == "/",
            url.query == nil, url.fragment == nil, url.user == nil
        else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
    }

    /// Whether `uri` is on the issuer's origin (`iss` + `/…`).
    /// Byte-level: Foundation's substring search showed in the verification profile.
    public static func isUnder(issuer: String, uri: String) -> Bool {
        let base = issuer.utf8.last == UInt8(ascii: "/") ? Array(issuer.utf8.dropLast()) : Array(issuer.utf8)
        let bytes = Array(uri.utf8)
        guard bytes.count > base.count, bytes.starts(with: base), bytes[base.count] == UInt8(ascii: "/") else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "@") || byte == UInt8(ascii: "#") || byte == UInt8(ascii: "?") || (byte == UInt8(ascii: ".") && previous == byte) {
                return false
            }
            previous = byte
        }
        return true
    }
}

extension JWSVerifier {
    /// Whether the signature verifies with the key named `kid`, or — for a token without `kid` —
    /// with one of at most `maximumAttempts` keys (RFC-002 §11).
    func isValid(_ parsed: Parsed, kid: String?, maximumAttempts: Int) -> Bool {
        if let kid, !kid.isEmpty {
            if let key = keys[kid] { return key.backing.isValidSignature(parsed.signature, for: parsed.signingInput) }
            // A self-signed badge's `kid` is a DID URL; the verifier holds the one key.
            if keys.count == 1, let only = keys.values.first, kid.hasPrefix("did:key:") {
                return only.backing.isValidSignature(parsed.signature, for: parsed.signingInput)
            }
            return false
        }
        return keys.values.sorted { $0.raw.lexicographicallyPrecedes($1.raw) }.prefix(maximumAttempts).contains {
            $0.backing.isValidSignature(parsed.signature, for: parsed.signingInput)
        }
    }
}
