/// Resource arguments, normalised before they are matched against a passport's scope, so that
/// `/data/../etc/passwd`, `/data/%2e%2e/etc` or `/data//x` cannot slip past `/data/*`.
public enum ResourcePath {
    /// The argument names whose values are resources.
    public static let argumentNames: Set<String> = ["path", "file", "resource", "uri", "url"]
    static let orderedArgumentNames = argumentNames.sorted()

    /// The canonical form, or nil when the value must be refused (NUL, escaping above the root,
    /// undecodable percent-encoding or `%` left after three rounds of decoding, separators or dots
    /// that change under Unicode NFKC, too long).
    public static func normalize(_ raw: String) -> String? {
        guard raw.utf8.count <= 4096 else { return nil }
        // The common case — an absolute ASCII path already in canonical form — is returned as
        // is after one byte scan, without any of the Foundation string work below.
        if isCanonicalAbsolute(raw) || isCanonicalURL(raw) { return raw }
        // A URL's authority is read from the raw text, before any decoding: decoding first turned
        // `https://api.example.com%2F@evil.com/x` into a path under api.example.com, while every
        // HTTP client sends it to evil.com (round-three finding 2).
        if !raw.hasPrefix("/") {
            switch splitURL(raw) {
            case .notURL: break
            case .unreadable: return nil
            case .url(let origin, let rest):
                // The scope governs the resource, which is the path: the query and the fragment
                // (never sent) are cut off before normalising, so `..` cannot reach across them
                // (`/admin/delete?/../../public/x` is `/admin/delete` to every client).
                let pathOnly = rest.prefix { $0 != "?" && $0 != "#" }
                guard let path = pathOnly.isEmpty ? "/" : normalize(String(pathOnly)), path.hasPrefix("/") else { return nil }
                return origin + path
            }
        }
        // Decode percent-escapes until stable (bounded), so double encoding is caught too.
        var value = raw
        for _ in 0..<3 {
            guard value.utf8.contains(UInt8(ascii: "%")) else { break }
            guard let decoded = value.removingPercentEncoding else { return nil }
            if decoded == value { break }
            value = decoded
        }
        // The common case (a plain absolute path) needs none of the Foundation string calls below,
        // which dominate the cost of an evaluation on Linux.
        var hasBackslash = false
        var nonASCII = false
        for byte in value.utf8 {
            // Control characters: a WHATWG URL parser deletes TAB, LF and CR before it reads the
            // path (`/public/.\t./admin` is `/public/../admin` to it), and no file name needs one.
            if byte < 0x20 || byte == 0x7F { return nil }
            // Still encoded after the decoding limit: what a tool would finally open is unknown.
            if byte == UInt8(ascii: "%") { return nil }
            if byte == UInt8(ascii: "\\") { hasBackslash = true }
            if byte >= 0x80 { nonASCII = true }
        }
        // Look-alikes: a fullwidth solidus (U+FF0F), fullwidth full stop (U+FF0E) or two-dot
        // leader (U+2025) become `/`, `.` and `..` under NFKC, which some tools and file systems
        // apply. A path whose separators or dots change under NFKC cannot be judged safely.
        if nonASCII, Self.separatorProfile(value) != Self.separatorProfile(value.precomposedStringWithCompatibilityMapping) {
            return nil
        }
        if hasBackslash { value = value.replacingOccurrences(of: "\\", with: "/") }
        // A value that only becomes a URL once decoded (`https%3A//…`) has no authority Tessera
        // read before decoding: refused.
        if !value.hasPrefix("/"), value.contains("://") { return nil }
        let prefix = ""
        let absolute = value.hasPrefix("/")
        var segments: [Substring] = []
        for segment in value.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..":
                guard !segments.isEmpty else { return nil }
                segments.removeLast()
            default: segments.append(segment)
            }
        }
        let path = segments.joined(separator: "/")
        return prefix + (absolute || !prefix.isEmpty ? "/" : "") + path
    }

    /// A URL cut at its authority, read from the raw text: `scheme://authority` (lower-cased) and
    /// the raw rest (path, query); `.notURL` when `raw` is not `scheme://…`. The authority must be
    /// only a host and port — letters, digits, `-`, `.`, `:` and IPv6 brackets — so userinfo
    /// (`@`), any percent-encoding, backslashes (a path separator to WHATWG parsers, part of the
    /// userinfo to curl), `?` and `#` make the whole URL `.unreadable`, for the caller to refuse.
    enum URLParts {
        case notURL
        case unreadable
        case url(origin: String, rest: String)
    }

    static func splitURL(_ raw: String) -> URLParts {
        guard let separator = raw.range(of: "://") else { return .notURL }
        let scheme = raw[..<separator.lowerBound]
        guard let first = scheme.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20),
            scheme.utf8.allSatisfy({ b in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                    || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
            })
        else { return .unreadable }
        let rest = raw[separator.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard isHostAndPort(authority) else { return .unreadable }
        return .url(origin: String(raw[..<authorityEnd]).lowercased(), rest: String(rest[authorityEnd...]))
    }

    /// `host[:port]` exactly: a host of letters, digits, `-` and `.` (or a bracketed IPv6
    /// literal of hex digits, `:` and `.`), then optionally `:` and 1-5 digits. Nothing else —
    /// `evil.com:.example.com` is not a host and port.
    static func isHostAndPort(_ authority: Substring) -> Bool {
        let bytes = Array(authority.utf8)
        guard !bytes.isEmpty else { return false }
        var index = 0
        func isDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
        if bytes[0] == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), close > 1,
                bytes[1..<close].allSatisfy({ isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0 | 0x20) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return false }
            index = close + 1
        } else {
            while index < bytes.count, bytes[index] != UInt8(ascii: ":") {
                let b = bytes[index]
                guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b | 0x20) || isDigit(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") else {
                    return false
                }
                index += 1
            }
            guard index > 0 else { return false }
        }
        guard index < bytes.count else { return true }
        let port = bytes[(index + 1)...]
        return bytes[index] == UInt8(ascii: ":") && (1...5).contains(port.count) && port.allSatisfy(isDigit)
    }

    /// Whether `value` is an absolute path that normalisation would return unchanged: ASCII, no
    /// `%`, `\\` or NUL, no empty, `.` or `..` segment, no trailing `/` (except the root itself).
    @inline(__always)
    static func isCanonicalAbsolute(_ value: some StringProtocol) -> Bool {
        var iterator = value.utf8.makeIterator()
        guard iterator.next() == UInt8(ascii: "/") else { return false }
        var segmentLength = 0
        var segmentDots = 0
        var count = 1
        while let byte = iterator.next() {
            count += 1
            switch byte {
            case UInt8(ascii: "/"):
                if segmentLength == 0 || segmentDots == segmentLength && segmentLength <= 2 { return false }
                segmentLength = 0
                segmentDots = 0
            case 0x00...0x1F, 0x7F, UInt8(ascii: "%"), UInt8(ascii: "\\"), 0x80...0xFF:
                return false
            case UInt8(ascii: "."):
                segmentLength += 1
                segmentDots += 1
            default:
                segmentLength += 1
            }
        }
        if count == 1 { return true }
        return segmentLength > 0 && !(segmentDots == segmentLength && segmentLength <= 2)
    }

    /// Whether `value` is a URL that normalisation would return unchanged: a lower-case scheme,
    /// `://`, an authority with no upper case, `%`, `\\`, NUL or non-ASCII byte, and a canonical
    /// absolute path (see ``isCanonicalAbsolute``). The general path below costs several
    /// Foundation string operations; a URL argument checked against a resource scope is the
    /// common case and was half of an evaluation's cost.
    static func isCanonicalURL(_ value: String) -> Bool {
        let utf8 = value.utf8
        var index = utf8.startIndex
        guard index != utf8.endIndex, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(utf8[index]) else { return false }
        while index != utf8.endIndex {
            let byte = utf8[index]
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
                index = utf8.index(after: index)
                continue
            case UInt8(ascii: ":"): break
            default: return false
            }
            break
        }
        // "://"
        for expected in [UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "/")] {
            guard index != utf8.endIndex, utf8[index] == expected else { return false }
            index = utf8.index(after: index)
        }
        while index != utf8.endIndex, utf8[index] != UInt8(ascii: "/") {
            // Only lower-case letters, digits, `-` and `.` stay on the fast path; a port, an IPv6
            // literal or anything else is read strictly by `splitURL`.
            switch utf8[index] {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."):
                index = utf8.index(after: index)
            default: return false
            }
        }
        // A URL without a path normalises to one ending in "/": not unchanged.
        guard index != utf8.endIndex else { return false }
        // A query or fragment is cut off by the general path (a scope governs the resource, not
        // its query): `…/secret.txt?.csv` must not match `…/*.csv`.
        let path = value[index...]
        guard !path.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else { return false }
        return isCanonicalAbsolute(path)
    }

    /// How many separators, dots and percent signs a string has: what NFKC must not change.
    static func separatorProfile(_ value: String) -> [Int] {
        var counts = [0, 0, 0, 0]
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "/"): counts[0] += 1
            case UInt8(ascii: "."): counts[1] += 1
            case UInt8(ascii: "\\"): counts[2] += 1
            case UInt8(ascii: "%"): counts[3] += 1
            default: break
            }
        }
        return counts
    }
}
