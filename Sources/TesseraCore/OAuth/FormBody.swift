import Foundation

/// `application/x-www-form-urlencoded` bodies and query strings of the OAuth endpoints.
///
/// Strict, because two readers must never see different parameters: a parameter sent twice is
/// an error (RFC 6749 §3.1, §3.2), and so are a malformed escape, a NUL and anything over the
/// bounds. `+` is a space (HTML form encoding).
public struct FormBody: Sendable, Equatable {
    public private(set) var values: [String: String]

    public static let maximumBytes = 16 * 1024
    public static let maximumParameters = 64
    public static let maximumValueBytes = 8 * 1024

    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        case tooLarge
        case malformed(String)
        case repeated(String)
        public var description: String {
            switch self {
            case .tooLarge: "the request is larger than \(FormBody.maximumBytes) bytes or has more than \(FormBody.maximumParameters) parameters"
            case .malformed(let why): why
            case .repeated(let name): "parameter \(name) appears more than once"
            }
        }
    }

    public init(_ values: [String: String]) { self.values = values }

    public init(parsing text: some StringProtocol) throws(Problem) {
        guard text.utf8.count <= Self.maximumBytes else { throw .tooLarge }
        var values: [String: String] = [:]
        if text.isEmpty {
            self.values = [:]
            return
        }
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= Self.maximumParameters else { throw .tooLarge }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), !name.isEmpty else { throw .malformed("a parameter name is empty or badly encoded") }
            guard let value = Self.decode(parts.count == 2 ? parts[1] : "") else { throw .malformed("parameter \(name) is badly encoded") }
            guard value.utf8.count <= Self.maximumValueBytes else { throw .malformed("parameter \(name) is longer than \(Self.maximumValueBytes) bytes") }
            guard values[name] == nil else { throw .repeated(name) }
            values[name] = value
        }
        self.values = values
    }

    public static func decode(_ raw: some StringProtocol) -> String? {
        let spaced = raw.replacingOccurrences(of: "+", with: " ")
        guard let decoded = spaced.removingPercentEncoding else { return nil }
        if decoded.unicodeScalars.contains(where: { $0.value == 0 }) { return nil }
        return decoded
    }

    public subscript(_ name: String) -> String? { values[name] }

    /// The value, nil when absent or empty (RFC 6749 §3.1: "parameters sent without a value
    /// MUST be treated as if they were omitted").
    public func value(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// Encodes parameters (for redirects): sorted, percent-encoded with the unreserved set.
    public static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// Every UTF-8 byte outside RFC 3986's unreserved set as `%XX` with upper-case hex: redirect
    /// parameters, path segments the CLI builds, and RFC-003's canonical badge URL (§6.4).
    public static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += "%" + String(byte >> 4, radix: 16).uppercased() + String(byte & 0x0f, radix: 16).uppercased()
            }
        }
        return out
    }
}
