import Crypto
import Foundation

/// The one compact-JWS signer (swift-crypto Ed25519; `alg` EdDSA, `kid`, `typ`). ``JWSSigner``
/// delegates to it.
///
/// It is synchronous because receipts, child passports and attestations must be signed *inside*
/// the store transaction that appends them (so a counter, its chain link and its signature
/// commit together or not at all), and that transaction body cannot suspend. Everything it signs
/// is verified by ``JWSVerifier``; it reproduces RFC 8037 A.4.
public enum CompactJWS {
    struct Header: Encodable {
        var alg = "EdDSA"
        var kid: String
        var typ: String
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static func sign(_ claims: some Encodable, type: String, key: Ed25519KeyPair) throws -> String {
        let header = Base64URL.encode(try encoder.encode(Header(kid: key.kid, typ: type)))
        let payload = Base64URL.encode(try encoder.encode(claims))
        return try sign(signingInput: header + "." + payload, key: key)
    }

    /// A header beyond `alg`/`kid`/`typ`: a DID URL as `kid` (self-signed badges, RFC-003
    /// proofs) or the public key itself as `jwk` (DPoP, RFC 9449).
    public struct CustomHeader: Encodable, Sendable {
        var alg = "EdDSA"
        public var typ: String
        public var kid: String?
        public var jwk: JWK?
        public init(typ: String, kid: String? = nil, jwk: JWK? = nil) {
            self.typ = typ
            self.kid = kid
            self.jwk = jwk
        }
    }

    public static func sign(_ claims: some Encodable, header: CustomHeader, key: Ed25519KeyPair) throws -> String {
        let encodedHeader = Base64URL.encode(try encoder.encode(header))
        let payload = Base64URL.encode(try encoder.encode(claims))
        return try sign(signingInput: encodedHeader + "." + payload, key: key)
    }

    /// Signs an already-encoded `header.payload`.
    public static func sign(signingInput: String, key: Ed25519KeyPair) throws -> String {
        let signature = try key.privateKey.signature(for: Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// Lowercase hex SHA-256 of a compact JWS as ASCII: a receipt's link to its predecessor.
    public static func digest(_ token: String) -> String {
        hex(SHA256.hash(data: Array(token.utf8)))
    }

    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
    }

    /// The decoded header of a compact JWS, without verifying it (inspection, tests).
    public static func unverifiedHeader(_ token: String) -> [String: JSONValue]? {
        guard let first = token.split(separator: ".", omittingEmptySubsequences: false).first, let bytes = Base64URL.decode(first) else { return nil }
        return try? StrictJSON.object(bytes, maximumDepth: 4)
    }

    /// The decoded payload of a compact JWS, without verifying it (for inspection and for
    /// locating the first broken link of a chain after verification failed).
    public static func unverifiedPayload<T: Decodable>(_ token: String, as: T.Type) -> T? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(parts[1]) else { return nil }
        return try? StrictJSON.decode(T.self, from: Data(bytes))
    }
}
