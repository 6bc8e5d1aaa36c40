#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

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
        let slash = UInt8(ascii: "/")
        guard let (scheme, schemeEnd) = Self.parseScheme(bytes) else { return nil }
        var end = bytes.count
        let restStart = schemeEnd + 3
        if let hash = bytes[restStart...].firstIndex(of: UInt8(ascii: "#")) { end = hash }
        let authorityEnd = bytes[restStart..<end].firstIndex(where: { $0 == slash || $0 == UInt8(ascii: "?") }) ?? end
        let authority = bytes[restStart..<authorityEnd]
        var pathEnd = end
        if let query = bytes[authorityEnd..<end].firstIndex(of: UInt8(ascii: "?")) { pathEnd = query }
        guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")) else { return nil }
        guard let (host, portText) = Self.parseAuthority(bytes, authority: authority, authorityEnd: authorityEnd) else { return nil }
        guard let port = Self.parsePort(portText, scheme: scheme) else { return nil }
        let rawPath = authorityEnd == pathEnd ? "/" : String(decoding: bytes[authorityEnd..<pathEnd], as: UTF8.self)
        guard let path = ResourcePath.normalize(rawPath), path.hasPrefix("/") else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
    }

    /// The scheme (lower-cased) and the index of the first "://", which ends it; nil when there
    /// is none or the scheme has a character RFC 3986 does not allow.
    private static func parseScheme(_ bytes: [UInt8]) -> (scheme: String, end: Int)? {
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
        return (scheme, schemeEnd)
    }

    /// The host of `authority` (`bytes[…..<authorityEnd]`, already free of userinfo), an IP
    /// literal in brackets or a name, and the port's text after its colon, if any.
    private static func parseAuthority(_ bytes: [UInt8], authority: ArraySlice<UInt8>, authorityEnd: Int) -> (host: String, portText: ArraySlice<UInt8>?)? {
        let colon = UInt8(ascii: ":")
        let host: String
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
            guard let name = Self.parseHostName(hostPart) else { return nil }
            host = name
        }
        return (host, portText)
    }

    /// A host name as an HTTP client resolves it: lower-cased, a trailing dot dropped, and an
    /// all-numeric (or `0x…`) one read as an IPv4 literal, which must be canonical.
    private static func parseHostName(_ hostPart: ArraySlice<UInt8>) -> String? {
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
        var host = hostHasUpper ? rawHost.lowercased() : rawHost
        // All-numeric hosts are IPv4 literals and must be canonical dotted quads.
        if allNumeric || host.hasPrefix("0x") {
            guard let address = IPAddress(host) else { return nil }
            host = address.text
        }
        return host
    }

    /// The port written (1-65535, at most five digits), else the scheme's default; nil when
    /// neither gives one.
    private static func parsePort(_ portText: ArraySlice<UInt8>?, scheme: String) -> Int? {
        var port = Self.defaultPorts[scheme] ?? 0
        if let portText {
            guard (1...5).contains(portText.count), portText.allSatisfy(Self.isDigit) else { return nil }
            let p = portText.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard (1...65535).contains(p) else { return nil }
            port = p
        }
        guard port != 0 else { return nil }
        return port
    }

    static func isLetter(_ b: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b | 0x20) }
    static func isDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
}
