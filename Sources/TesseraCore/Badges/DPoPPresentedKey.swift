extension DPoPProofClaims {
    /// The Ed25519 key a DPoP proof's header presents (`jwk`), unverified: the resource server
    /// first checks that it is the key the token is bound to (its RFC 7638 thumbprint equals the
    /// token's `cnf.jkt`), then verifies the proof with it (``verify(_:method:url:badge:key:now:)``).
    public static func presentedKey(_ proof: String) -> (key: Ed25519PublicKey, thumbprint: String)? {
        guard proof.utf8.count <= 4 * 1024,
            let headerBytes = Base64URL.decode(bytes: proof.utf8.prefix { $0 != UInt8(ascii: ".") }[...]),
            let header = try? StrictJSON.object(headerBytes, maximumDepth: 4), case .object(let jwk)? = header["jwk"], jwk["d"] == nil,
            case .string(let x)? = jwk["x"], case .string("OKP")? = jwk["kty"], case .string("Ed25519")? = jwk["crv"]
        else { return nil }
        let presented = JWK(kty: "OKP", crv: "Ed25519", x: x)
        guard let key = try? Ed25519PublicKey(jwk: presented), let thumbprint = try? JWKThumbprint.compute(presented) else { return nil }
        return (key, thumbprint)
    }
}
