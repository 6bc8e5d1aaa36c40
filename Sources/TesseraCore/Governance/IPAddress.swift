#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

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
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
