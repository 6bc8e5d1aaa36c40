import Foundation

/// The per-call proof of possession of draft-01 §5.2: a JWT signed by the leaf holder's key
/// whose JCS payload names the leaf (`aat_id`), the tool (`aat_tool`), the audience
/// (`aat_aud`) and carries the call's arguments (`hta`). Verified by §7 step 7; the caller
/// spends its `jti` in a replay cache shared by the fleet (§8.5).
public enum AATProof {
    /// ±30 s (§5.3, §8.11).
    public static let window: Int64 = 30
    public static let maximumBytes = 16_384

    public struct Accepted: Sendable, Equatable {
        public var jti: String
        /// Until when the `jti` must be remembered: past the window on this node's clock plus two
        /// minutes, so that a node whose clock is behind (and still finds `iat` in its window)
        /// cannot accept a proof another node has already forgotten.
        public var rememberUntil: Int64
    }

    /// Step 7. `audience` nil: `aat_aud` is not required (but a present one must still be a string).
    public static func verify(
        _ proof: String, chain: AATChain, tool: String, arguments: [String: JSONValue], audience: String?, now: Int64
    ) throws(AATFailure) -> Accepted {
        try verify(proof, leafJTI: chain.leaf.jti, key: chain.leaf.holderKey, link: chain.link, tool: tool, arguments: arguments, audience: audience, now: now)
    }

    /// The same for a session that remembers only the leaf's `jti` and holder key.
    public static func verify(
        _ proof: String, leafJTI: String, key: ForeignPublicKey?, link: Int?, tool: String, arguments: [String: JSONValue], audience: String?, now: Int64
    ) throws(AATFailure) -> Accepted {
        func fail(_ step: String, _ message: String, credential: Bool = false) -> AATFailure {
            AATFailure(link: link, step: step, "proof: " + message, credential: credential)
        }
        guard let key else { throw fail("7a", "the leaf's cnf.jwk is not a usable key", credential: true) }
        let jws: ForeignJWS
        do {
            jws = try ForeignJWS(proof, maximumBytes: maximumBytes)
        } catch {
            throw fail("7a", "\(error)", credential: true)
        }
        guard jws.algorithm == key.algorithm else { throw fail("7a", "algorithm \(jws.algorithm) does not fit the leaf's key", credential: true) }
        do {
            try jws.verify(with: key)
        } catch {
            throw fail("7b", "the signature does not verify under the leaf's cnf.jwk", credential: true)
        }
        let claims: [String: JSONValue]
        do {
            claims = try jws.claims()
        } catch {
            throw fail("7b", "\(error)")
        }
        // The producer MUST sign the JCS form (§5.2): anything else could be read two ways.
        guard CanonicalJSON.serialize(.object(claims)).utf8.elementsEqual(jws.payload) else {
            throw fail("7b", "the payload is not in RFC 8785 canonical form")
        }
        guard case .string(let jti)? = claims["jti"], !jti.isEmpty, jti.utf8.count <= 256 else { throw fail("7b", "jti must be a non-empty string") }
        // Every comparison here is on bytes (draft-01: exact strings, no Unicode normalisation).
        guard case .string(let aatID)? = claims["aat_id"], aatID.utf8.elementsEqual(leafJTI.utf8) else { throw fail("7c", "aat_id is not the leaf's jti") }
        switch (claims["aat_aud"], audience) {
        case (nil, nil): break
        case (.string(let aud)?, let expected): if let expected, !aud.utf8.elementsEqual(expected.utf8) { throw fail("7d", "aat_aud is not this verifier") }
        case (nil, _?): throw fail("7d", "aat_aud is required")
        default: throw fail("7d", "aat_aud must be a string")
        }
        guard case .string(let aatTool)? = claims["aat_tool"], aatTool.utf8.elementsEqual(tool.utf8) else { throw fail("7e", "aat_tool is not the tool called") }
        guard case .object(let hta)? = claims["hta"] else { throw fail("7f", "hta must be the call's argument object") }
        guard CanonicalJSON.serialize(.object(hta)).utf8.elementsEqual(CanonicalJSON.serialize(.object(arguments)).utf8) else {
            throw fail("7f", "hta is not the call's arguments")
        }
        guard case .number(let n)? = claims["iat"], let iat = n.int.map(Int64.init) else { throw fail("7g", "iat must be an integer") }
        guard abs(iat - now) <= window else { throw fail("7g", "iat is outside ±\(window) s", credential: true) }
        return Accepted(jti: jti, rememberUntil: iat + window + 120)
    }
}
