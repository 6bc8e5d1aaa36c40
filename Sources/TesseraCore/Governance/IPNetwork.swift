#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Strict parsers for the values argument constraints reason about: IP addresses and networks,
/// URLs, shell command lines. Each refuses what another parser could read differently.

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

