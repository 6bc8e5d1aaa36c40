import Foundation

/// Unpadded base64url (RFC 4648 §5), the encoding every JOSE structure uses.
///
/// Decoding is strict: padding, whitespace and the standard-alphabet characters `+` and `/` are
/// rejected, so one value has exactly one encoding (no malleable tokens or thumbprints).
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ string: some StringProtocol) -> [UInt8]? {
        var standard = ""
        standard.reserveCapacity(string.utf8.count + 3)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9": standard.unicodeScalars.append(scalar)
            case "-": standard.append("+")
            case "_": standard.append("/")
            default: return nil
            }
        }
        switch standard.utf8.count % 4 {
        case 0: break
        case 2: standard += "=="
        case 3: standard += "="
        default: return nil
        }
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = [UInt8](data)
        // Reject non-canonical encodings (unused trailing bits set).
        guard encode(bytes) == string else { return nil }
        return bytes
    }
}
