import Foundation

/// Redirect URIs of OAuth clients: what may be registered, and when a requested one matches.
///
/// OAuth 2.1 §2.3.1 and RFC 8252: exact string comparison, except that a loopback IP redirect
/// (`http://127.0.0.1:PORT/…`, `http://[::1]:PORT/…`) matches on any port, because a native app
/// picks a free port at run time. `localhost` is accepted as registered but compared exactly
/// (RFC 8252 §8.3 recommends the literal address).
public enum RedirectURI {
    public static let maximumBytes = 2_048
    public static let maximumPerClient = 8

    public enum Problem: Error, Equatable, Sendable { case invalid(String) }

    /// May `uri` be registered? `https`, `http` on a loopback host, or a private-use scheme
    /// (`com.example.app:/cb`, RFC 8252 §7.1); never `javascript:`, `data:`, `file:`, `vbscript:`,
    /// `blob:`, never a fragment, userinfo or a control character.
    public static func check(_ uri: String) throws(Problem) {
        guard !uri.isEmpty, uri.utf8.count <= maximumBytes else { throw .invalid("a redirect URI is 1-\(maximumBytes) bytes") }
        guard !uri.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0.value > 0x7E }) else {
            throw .invalid("a redirect URI holds no space, control or non-ASCII character: \(uri.debugDescription)")
        }
        guard let colon = uri.firstIndex(of: ":") else { throw .invalid("a redirect URI is absolute: \(uri)") }
        let scheme = uri[..<colon].lowercased()
        guard let first = scheme.unicodeScalars.first, CharacterSet.letters.contains(first),
            scheme.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "+-.".unicodeScalars.contains($0) })
        else { throw .invalid("a redirect URI has a scheme: \(uri)") }
        guard !["javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss"].contains(scheme) else {
            throw .invalid("redirect URIs with scheme \(scheme): are refused")
        }
        guard !uri.contains("#") else { throw .invalid("a redirect URI has no fragment (RFC 6749 §3.1.2): \(uri)") }
        if scheme == "https" || scheme == "http" {
            guard let components = URLComponents(string: uri), let host = components.host, !host.isEmpty,
                components.user == nil, components.password == nil
            else { throw .invalid("a redirect URI names a host and no userinfo: \(uri)") }
            if scheme == "http", !isLoopback(host) {
                throw .invalid("http redirect URIs are for loopback hosts only (127.0.0.1, [::1], localhost): \(uri)")
            }
        } else {
            // Private-use schemes are reverse domain names (RFC 8252 §7.1): at least one dot.
            guard scheme.contains(".") else { throw .invalid("a private-use redirect scheme is a reverse domain name (com.example.app): \(uri)") }
        }
    }

    /// `localhost`, `::1`, or an IPv4 literal in 127.0.0.0/8 — never a name that merely starts
    /// with `127.` (`127.attacker.example` is a public host).
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        guard let address = IPAddress(h), address.isIPv4 else { return false }
        return address.bytes[0] == 127
    }

    /// Does the requested redirect URI match one registered? Exact, or a loopback IP literal
    /// differing only in its port.
    public static func matches(_ requested: String, registered: [String]) -> Bool {
        if registered.contains(requested) { return true }
        guard let r = URLComponents(string: requested), r.scheme == "http", let host = r.host, host == "127.0.0.1" || host == "::1" || host == "[::1]"
        else { return false }
        for candidate in registered {
            guard var c = URLComponents(string: candidate), c.scheme == "http", c.host == host else { continue }
            var r2 = r
            c.port = nil
            r2.port = nil
            if c.string == r2.string { return true }
        }
        return false
    }

    /// The origin shown on the consent page and allowed by the page's CSP `form-action`.
    public static func origin(_ uri: String) -> String? {
        guard let c = URLComponents(string: uri), let scheme = c.scheme?.lowercased() else { return nil }
        guard let host = c.host, !host.isEmpty else { return scheme + ":" }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed)" + (c.port.map { ":\($0)" } ?? "")
    }
}
