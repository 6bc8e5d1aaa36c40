#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Newline-delimited messages over a file descriptor, as MCP's stdio transport frames them.
///
/// Reading runs on its own thread with blocking `read(2)` (stdio pipes cannot be registered with
/// the event loop portably) and hands complete lines to an `AsyncStream`. A line longer than
/// `maximumLineBytes` is never buffered whole: it is reported as ``Event/oversize`` and the rest of
/// it is skipped, so a hostile peer cannot make the gateway's memory grow without bound.
public enum LineEvent: Sendable {
    case line([UInt8])
    /// A line over the limit: its size and its first bytes (enough to find a JSON-RPC `id`).
    case oversize(Int, prefix: [UInt8])
    case end
}

