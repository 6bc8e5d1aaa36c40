#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Strict parsers for the values argument constraints reason about: IP addresses and networks,
/// URLs, shell command lines. Each refuses what another parser could read differently.

/// An IPv4 or IPv6 address as 4 or 16 bytes. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4
/// address, so a network rule cannot be sidestepped by the other spelling.
public struct IPAddress: Sendable, Equatable, Hashable {
    public let bytes: [UInt8]

    /// Dotted-quad IPv4 (exactly four decimal parts, 0-255, no leading zeros: `127.1`, `010.0.0.1`
    /// and `0x7f.0.0.1` are refused, since resolvers read them differently) or IPv6 (no zone id).
    public init?(_ text: String) {
        if text.contains(":") {
            guard !text.contains("%"), text.utf8.count <= 45 else { return nil }
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                self.bytes = Array(bytes[12..<16])
            } else {
                self.bytes = bytes
            }
            return
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ ("0"..."9").contains($0) }),
                part == "0" || !part.hasPrefix("0"), let value = Int(part), value <= 255
            else { return nil }
            out.append(UInt8(value))
        }
        self.bytes = out
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text form (IPv6 as `inet_ntop` writes it).
    public var text: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET6, &raw, &buffer, 64) != nil else { return "" }
        return String(cString: buffer)
    }
}

/// A network: address and prefix length, host bits zero.
public struct IPNetwork: Sendable, Equatable, Hashable {
    public let address: IPAddress
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...128).contains(p), parts[1].allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
            // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network /8.
            prefix = address.isIPv4 && String(parts[0]).contains(":") ? p - 96 : p
            guard (0...bits).contains(prefix) else { return nil }
        }
        self.address = address
        self.prefix = prefix
        guard Self.masked(address.bytes, prefix) == address.bytes else { return nil }
    }

    static func masked(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = max(0, min(8, prefix - index * 8))
            return keep == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
    }

    public func contains(_ other: IPAddress) -> Bool {
        other.bytes.count == address.bytes.count && Self.masked(other.bytes, prefix) == address.bytes
    }

    /// Whether every address of `other` is in this network.
    public func contains(_ other: IPNetwork) -> Bool {
        other.address.bytes.count == address.bytes.count && other.prefix >= prefix && contains(other.address)
    }

    public var text: String { "\(address.text)/\(prefix)" }
}

/// A URL read the way an HTTP client will use it, or refused when that is not certain.
public struct StrictURL: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int
    /// The normalised path (resource-path rules), "/" at least.
    public var path: String

    public static let defaultPorts = ["http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21]

    /// Refused: non-ASCII anywhere (IDNA look-alikes must arrive as `xn--` labels), control
    /// characters, spaces and backslashes, userinfo (`good.example@evil.example`), percent-encoded
    /// or otherwise unusual host characters, empty or non-numeric ports, an IPv6 zone, a path that
    /// escapes the root or stays encoded. A trailing dot on the host is dropped (`evil.example.` is
    /// `evil.example`); the fragment is dropped (never sent).
    public init?(_ text: String) {
        // All work is on bytes: the text must be printable ASCII anyway, and `String` index
        // operations (grapheme breaking) were most of an evaluation's cost with a url constraint.
        let bytes = Array(text.utf8)
        guard bytes.count <= 4096, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) else { return nil }
        let colon = UInt8(ascii: ":"), slash = UInt8(ascii: "/")
        // The scheme ends at the first "://".
        var schemeEnd: Int?
        var i = 0
        while i + 2 < bytes.count {
            if bytes[i] == colon, bytes[i + 1] == slash, bytes[i + 2] == slash {
                schemeEnd = i
                break
            }
            i += 1
        }
        guard let schemeEnd, schemeEnd > 0, Self.isLetter(bytes[0]) else { return nil }
        var schemeHasUpper = false
        for byte in bytes[..<schemeEnd] {
            guard Self.isLetter(byte) || Self.isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") else {
                return nil
            }
            if byte < UInt8(ascii: "a") && Self.isLetter(byte) { schemeHasUpper = true }
        }
        // Strings of up to 15 bytes are stored inline: decoding the slice allocates nothing.
        let rawScheme = String(decoding: bytes[..<schemeEnd], as: UTF8.self)
        let scheme = schemeHasUpper ? rawScheme.lowercased() : rawScheme
        var end = bytes.count
        let restStart = schemeEnd + 3
        if let hash = bytes[restStart...].firstIndex(of: UInt8(ascii: "#")) { end = hash }
        let authorityEnd = bytes[restStart..<end].firstIndex(where: { $0 == slash || $0 == UInt8(ascii: "?") }) ?? end
        let authority = bytes[restStart..<authorityEnd]
        var pathEnd = end
        if let query = bytes[authorityEnd..<end].firstIndex(of: UInt8(ascii: "?")) { pathEnd = query }
        guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")) else { return nil }
        var host: String
        var portText: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let literal = String(decoding: bytes[(authority.startIndex + 1)..<close], as: UTF8.self)
            guard let address = IPAddress(literal) else { return nil }
            host = address.isIPv4 ? address.text : "[" + address.text + "]"
            let after = bytes[(close + 1)..<authorityEnd]
            if !after.isEmpty {
                guard after.first == colon else { return nil }
                portText = after.dropFirst()
            }
        } else {
            var hostPart = authority
            if let portColon = authority.firstIndex(of: colon) {
                hostPart = bytes[authority.startIndex..<portColon]
                portText = bytes[(portColon + 1)..<authorityEnd]
                guard !portText!.contains(colon) else { return nil }
            }
            // Letters, digits, '-' and '.', lower-cased; labels 1-63, no edge hyphens.
            var hostHasUpper = false
            var hostCount = 0
            var lastByte: UInt8 = 0
            var labelLength = 0
            var allNumeric = true
            var previous: UInt8 = UInt8(ascii: ".")
            for byte in hostPart {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): break
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): break
                case UInt8(ascii: "-"): if previous == UInt8(ascii: ".") { return nil }
                case UInt8(ascii: "."): if labelLength == 0 || previous == UInt8(ascii: "-") { return nil }
                default: return nil
                }
                if byte == UInt8(ascii: ".") {
                    labelLength = 0
                } else {
                    labelLength += 1
                    guard labelLength <= 63 else { return nil }
                    if !Self.isDigit(byte) { allNumeric = false }
                }
                if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) { hostHasUpper = true }
                hostCount += 1
                lastByte = byte
                previous = byte
            }
            // A trailing dot is dropped (`evil.example.` is `evil.example`).
            if lastByte == UInt8(ascii: ".") { hostCount -= 1 } else if previous == UInt8(ascii: "-") { return nil }
            let hostSlice = hostPart.prefix(hostCount)
            guard !hostSlice.isEmpty, hostSlice.count <= 253, hostSlice.last != UInt8(ascii: "."), hostSlice.last != UInt8(ascii: "-") else { return nil }
            let rawHost = String(decoding: hostSlice, as: UTF8.self)
            host = hostHasUpper ? rawHost.lowercased() : rawHost
            // All-numeric hosts are IPv4 literals and must be canonical dotted quads.
            if allNumeric || host.hasPrefix("0x") {
                guard let address = IPAddress(host) else { return nil }
                host = address.text
            }
        }
        var port = Self.defaultPorts[scheme] ?? 0
        if let portText {
            guard (1...5).contains(portText.count), portText.allSatisfy(Self.isDigit) else { return nil }
            let p = portText.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard (1...65535).contains(p) else { return nil }
            port = p
        }
        guard port != 0 else { return nil }
        let rawPath = authorityEnd == pathEnd ? "/" : String(decoding: bytes[authorityEnd..<pathEnd], as: UTF8.self)
        guard let path = ResourcePath.normalize(rawPath), path.hasPrefix("/") else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
    }

    static func isLetter(_ b: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b | 0x20) }
    static func isDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
}

/// POSIX shell word splitting of a command line, refusing everything a shell would treat as more
/// than words: `; | & $ \` > < ( )`, newlines, unquoted glob and brace characters, `~` and `#` at a
/// word's start, `$` or a backquote even inside double quotes (substitution).
public enum ShellWords {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case metacharacter(Character)
        case unterminatedQuote
        case empty
        public var description: String {
            switch self {
            case .metacharacter(let c): "shell metacharacter \(c.unicodeScalars.first.map { $0.value < 0x20 ? "U+" + String($0.value, radix: 16) : String(c) } ?? "") is not allowed"
            case .unterminatedQuote: "unterminated quote"
            case .empty: "empty command"
            }
        }
    }

    public static func split(_ line: String) throws(Failure) -> [String] {
        if let plain = plainWords(line) { return plain }
        return try splitQuoted(line)
    }

    /// The common case without quoting: only letters, digits, `-_./=:,+@%` and blanks. Nothing a
    /// shell treats specially can be in such a line, so splitting at blanks is the whole answer.
    static func plainWords(_ line: String) -> [String]? {
        var words: [String] = []
        var start: String.Index?
        let utf8 = line.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let b = utf8[index]
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                if let s = start { words.append(String(line[s..<index])); start = nil }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: ":"),
                UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "%"):
                if start == nil { start = index }
            default: return nil
            }
            index = utf8.index(after: index)
        }
        if let s = start { words.append(String(line[s...])) }
        return words.isEmpty ? nil : words
    }

    static func splitQuoted(_ line: String) throws(Failure) -> [String] {
        // Scalars, not Characters: "\r\n" must not hide a newline inside one grapheme, and
        // iterating scalars is several times cheaper.
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var inWord = false
        var iterator = line.unicodeScalars.makeIterator()
        func fail(_ s: Unicode.Scalar) -> Failure { .metacharacter(Character(s)) }
        while let c = iterator.next() {
            switch c {
            case " ", "\t":
                if inWord { words.append(String(word)); word = String.UnicodeScalarView(); inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let q = iterator.next() {
                    if q == "'" { closed = true; break }
                    word.append(q)
                }
                guard closed else { throw .unterminatedQuote }
            case "\"":
                inWord = true
                var closed = false
                while let q = iterator.next() {
                    if q == "\"" { closed = true; break }
                    if q == "$" || q == "`" { throw fail(q) }
                    if q == "\\" {
                        guard let next = iterator.next() else { throw .unterminatedQuote }
                        if next == "\"" || next == "\\" || next == "$" || next == "`" { word.append(next) } else { word.append("\\"); word.append(next) }
                        continue
                    }
                    word.append(q)
                }
                guard closed else { throw .unterminatedQuote }
            case "\\":
                guard let next = iterator.next() else { throw fail("\\") }
                if next == "\n" || next == "\r" { throw fail(next) }
                inWord = true
                word.append(next)
            case ";", "|", "&", "$", "`", ">", "<", "(", ")", "\n", "\r", "*", "?", "[", "]", "{", "}", "!":
                throw fail(c)
            case "~":
                // Unquoted, bash expands it at a word's start and after `=` or `:` (`a=~/x`):
                // refused anywhere outside quotes.
                throw fail(c)
            case "#":
                if !inWord { throw fail(c) }
                word.append(c)
            default:
                if c.value < 0x20 || c.value == 0x7F || (0x80...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029 { throw fail(c) }
                inWord = true
                word.append(c)
            }
        }
        if inWord { words.append(String(word)) }
        guard !words.isEmpty else { throw .empty }
        return words
    }
}
