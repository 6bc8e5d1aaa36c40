#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Writes whole lines to a file descriptor, one writer at a time (a line is never interleaved
/// with another).
public final class LineWriter: Sendable {
    let fd: Int32
    /// Whether the descriptor is closed; its lock is also the one writer's turn.
    let closed = Mutex(false)

    public init(fd: Int32) { self.fd = fd }

    /// Writes `bytes` and a newline; false when the other side is gone.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        closed.withLock { closed in
            guard !closed else { return false }
            var out = bytes
            out.append(UInt8(ascii: "\n"))
            var written = 0
            while written < out.count {
                let n = out[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    closed = true
                    return false
                }
                written += n
            }
            return true
        }
    }

    public func close() {
        closed.withLock { closed in
            guard !closed else { return }
            closed = true
            _ = Glibc.close(fd)
        }
    }
}
