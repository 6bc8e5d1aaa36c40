import Crypto

/// API keys: `tsk_` + 192 random bits (base64url). Only the SHA-256 is stored; the prefix (the
/// marker and the next 4 characters) is what operators see in listings.
public enum APIKeyCodec {
    public static let marker = "tsk_"

    public struct Issued: Sendable {
        public let plaintext: String
        public let hash: String
        public let prefix: String
    }

    public static func generate() -> Issued {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let plaintext = marker + Base64URL.encode(bytes)
        return Issued(plaintext: plaintext, hash: hash(plaintext), prefix: prefix(plaintext))
    }

    /// Lowercase hex SHA-256: the store's lookup key. A cache keyed by it never holds plaintext.
    public static func hash(_ plaintext: String) -> String {
        SHA256.hash(data: Array(plaintext.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    public static func prefix(_ plaintext: String) -> String { String(plaintext.prefix(marker.count + 4)) }

    /// Cheap shape check before any lookup: right marker, plausible length, base64url alphabet.
    public static func isWellFormed(_ candidate: String) -> Bool {
        guard candidate.hasPrefix(marker), (marker.count + 22)...(marker.count + 128) ~= candidate.count else { return false }
        return Base64URL.decode(candidate.dropFirst(marker.count)) != nil
    }
}
