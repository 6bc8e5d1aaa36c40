import Foundation
import TesseraCore

/// Resolves an AAT's `mission_ref` to a verified, unrevoked mission declaration: fetched from an
/// allow-listed origin, signed by a configured issuer, its digest and id exactly the ones the
/// token names, its status-list entry not set. Every refusal names its reason.
struct MissionResolver: Sendable {
    let policy: AATPolicy
    /// Verified declarations by URI, until their `exp`.
    let declarations = TTLCache<String, CachedDeclaration>(ttl: 3600, capacity: 1_000)
    /// Status bits by `uri#idx`, for the status-list TTL.
    let statuses: TTLCache<String, UInt8>

    struct CachedDeclaration: Sendable {
        var declaration: MissionDeclaration
        var keys: [ForeignPublicKey]
    }

    init(policy: AATPolicy, statusTTL: Int) {
        self.policy = policy
        self.statuses = TTLCache(ttl: TimeInterval(statusTTL), capacity: 10_000)
    }

    static let maximumDeclarationBytes = MissionFetcher.maximumBytes

    func resolve(_ reference: JSONValue, now: Date) async throws(MissionDeclaration.Refusal) -> MissionDeclaration {
        guard case .object(let ref) = reference, case .string(let uri)? = ref["uri"] ?? ref["url"] else {
            throw .init("mission_schema_invalid", "mission_ref must be an object with a uri")
        }
        let cached = declarations.value(for: uri, now: now)
        let entry: CachedDeclaration
        // A cached declaration whose digest is not the one asked for may have been re-issued at
        // the same URI: fetched again rather than refused from the cache.
        if let cached, Int64(now.timeIntervalSince1970) < cached.declaration.exp, ref["mission_digest"] == .string(cached.declaration.digest) {
            entry = cached
        } else {
            entry = try await load(uri, now: now)
            declarations.set(entry, for: uri, now: now)
        }
        let declaration = entry.declaration
        if case .string(let id)? = ref["mission_id"], id != declaration.missionID {
            throw .init("mission_id_mismatch", "mission_ref mission_id does not match the declaration's \(declaration.missionID)")
        }
        guard case .string(let digest)? = ref["mission_digest"] else {
            throw .init("mission_schema_invalid", "mission_ref.mission_digest is required (sha-256:<hex>)")
        }
        guard digest == declaration.digest else {
            throw .init("mission_digest_mismatch", "mission_ref mission_digest does not match the declaration fetched from \(uri)")
        }
        try await checkStatus(declaration, keys: entry.keys, now: now)
        return declaration
    }

    func load(_ uri: String, now: Date) async throws(MissionDeclaration.Refusal) -> CachedDeclaration {
        let token = try await policy.fetcher.fetch(uri).trimmingCharacters(in: .whitespacesAndNewlines)
        let jws: ForeignJWS
        do {
            jws = try ForeignJWS(token, maximumBytes: Self.maximumDeclarationBytes)
        } catch {
            throw .init("mission_signature_invalid", "the mission declaration is not a signed JWT (\(error))")
        }
        guard let issuer = Self.unverifiedIssuer(jws), let keys = policy.missionIssuers[issuer] else {
            throw .init("mission_signature_invalid", "the mission declaration's issuer is not a configured mission issuer")
        }
        guard keys.contains(where: { (try? jws.verify(with: $0)) != nil }) else {
            throw .init("mission_signature_invalid", "the mission declaration's signature does not verify under its issuer's keys")
        }
        let claims: [String: JSONValue]
        do {
            claims = try jws.claims()
        } catch {
            throw .init("mission_schema_invalid", "\(error)")
        }
        return CachedDeclaration(declaration: try MissionDeclaration(claims: claims, now: Int64(now.timeIntervalSince1970)), keys: keys)
    }

    /// The declaration's entry in its IETF Token Status List (signed by the declaration's issuer).
    func checkStatus(_ declaration: MissionDeclaration, keys: [ForeignPublicKey], now: Date) async throws(MissionDeclaration.Refusal) {
        guard let (uri, index) = declaration.revocation else { return }
        let key = "\(uri)#idx=\(index)"
        let status: UInt8
        if let cached = statuses.value(for: key, now: now) {
            status = cached
        } else {
            func unavailable(_ why: String) -> MissionDeclaration.Refusal { .init("mission_status_unavailable", "status list \(uri): \(why)") }
            let token: String
            do {
                token = try await policy.fetcher.fetch(uri).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                // Not known to be valid is not valid: fail closed, named as the status it is.
                throw error.code == "mission_origin_not_allowed" ? error : unavailable(error.detail)
            }
            guard let jws = try? ForeignJWS(token, maximumBytes: MissionFetcher.maximumBytes) else { throw unavailable("not a signed JWT") }
            guard keys.contains(where: { (try? jws.verify(with: $0)) != nil }) else { throw unavailable("signature does not verify under the declaration issuer's keys") }
            guard let claims = try? jws.claims() else { throw unavailable("unreadable claims") }
            if case .number(let e)? = claims["exp"], let exp = e.int, Int64(exp) <= Int64(now.timeIntervalSince1970) { throw unavailable("expired") }
            guard case .object(let list)? = claims["status_list"], case .number(let b)? = list["bits"], let bits = b.int,
                case .string(let lst)? = list["lst"], let decoded = try? StatusList(bits: bits, lst: lst)
            else { throw unavailable("no readable status_list") }
            guard let value = try? decoded.status(at: index) else { throw unavailable("index \(index) is outside the list") }
            status = value
            statuses.set(status, for: key, now: now)
        }
        guard status == 0 else { throw .init("mission_revoked", "the mission declaration \(declaration.missionID) is revoked (status \(status))") }
    }

    static func unverifiedIssuer(_ jws: ForeignJWS) -> String? {
        guard case .string(let iss)? = jws.unverified("iss") else { return nil }
        return iss
    }
}
