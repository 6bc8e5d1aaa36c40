/// Base58 with the Bitcoin alphabet ("base58btc"), the multibase `z` encoding that did:key uses.
///
/// Inputs here are tiny (34-byte multicodec keys), so the quadratic textbook algorithm is the
/// clearest choice.
public enum Base58 {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let index: [UInt8: Int] = Dictionary(
        uniqueKeysWithValues: alphabet.enumerated().map { ($0.element, $0.offset) }
    )

    public static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix { $0 == 0 }.count
        var digits: [Int] = []  // base-58 digits, least significant first
        for byte in bytes {
            var carry = Int(byte)
            for i in digits.indices {
                carry += digits[i] << 8
                digits[i] = carry % 58
                carry /= 58
            }
            while carry > 0 {
                digits.append(carry % 58)
                carry /= 58
            }
        }
        let leading = [UInt8](repeating: alphabet[0], count: zeros)
        return String(decoding: leading + digits.reversed().map { alphabet[$0] }, as: UTF8.self)
    }

    /// - Returns: the decoded bytes, or nil when the string holds a character outside the alphabet.
    public static func decode(_ string: String) -> [UInt8]? {
        let chars = Array(string.utf8)
        let zeros = chars.prefix { $0 == alphabet[0] }.count
        var bytes: [Int] = []  // base-256 digits, least significant first
        for char in chars {
            guard var carry = index[char] else { return nil }
            for i in bytes.indices {
                carry += bytes[i] * 58
                bytes[i] = carry & 0xff
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(carry & 0xff)
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: zeros) + bytes.reversed().map { UInt8($0) }
    }
}
