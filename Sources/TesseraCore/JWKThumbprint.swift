import Crypto
import Foundation

/// JWK thumbprints (RFC 7638): SHA-256 over the key's required members, in lexicographic order,
/// with no whitespace, base64url-encoded.
public enum JWKThumbprint {
    /// Required members per key type (RFC 7638 §3.2, RFC 8037 §2).
    static func requiredMembers(_ jwk: JWK) -> [(String, String?)]? {
        switch jwk.kty {
        case "OKP": [("crv", jwk.crv), ("kty", jwk.kty), ("x", jwk.x)]
        case "EC": [("crv", jwk.crv), ("kty", jwk.kty), ("x", jwk.x), ("y", jwk.y)]
        case "RSA": [("e", jwk.e), ("kty", jwk.kty), ("n", jwk.n)]
        case "oct": [("k", jwk.k), ("kty", jwk.kty)]
        default: nil
        }
    }

    /// The canonical JSON the hash is taken over.
    public static func canonicalJSON(_ jwk: JWK) throws(KeyError) -> String {
        guard let members = requiredMembers(jwk) else { throw .unsupportedKeyType(jwk.kty) }
        var parts: [String] = []
        for (name, value) in members {
            guard let value else { throw .missingMember(name) }
            parts.append("\"\(name)\":\(jsonString(value))")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// - Throws: when the key type is unknown or a required member is missing.
    public static func compute(_ jwk: JWK) throws(KeyError) -> String {
        let json = try canonicalJSON(jwk)
        return Base64URL.encode(SHA256.hash(data: Array(json.utf8)))
    }

    /// For keys already validated as Ed25519, where every required member is present.
    static func sha256(_ jwk: JWK) -> String {
        (try? compute(jwk)) ?? ""
    }

    /// Member values are base64url or short names; escape the JSON specials anyway.
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
