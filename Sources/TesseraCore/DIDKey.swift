/// did:key for Ed25519 (W3C CCG did:key method): `did:key:z` + base58btc(0xed 0x01 ‖ public key).
public enum DIDKey {
    static let ed25519Multicodec: [UInt8] = [0xed, 0x01]
    public static let prefix = "did:key:z"

    public static func encode(_ key: Ed25519PublicKey) -> String {
        prefix + Base58.encode(ed25519Multicodec + key.raw)
    }

    /// Parses an Ed25519 did:key (a fragment, if any, is ignored).
    public static func decode(_ did: String) throws(KeyError) -> Ed25519PublicKey {
        let id = did.split(separator: "#", maxSplits: 1).first.map(String.init) ?? did
        guard id.hasPrefix(prefix), let bytes = Base58.decode(String(id.dropFirst(prefix.count))),
            bytes.count == 34, Array(bytes.prefix(2)) == ed25519Multicodec
        else { throw .invalidMember("did") }
        return try Ed25519PublicKey(raw: Array(bytes.dropFirst(2)))
    }
}
