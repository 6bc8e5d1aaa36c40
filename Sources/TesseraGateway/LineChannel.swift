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

public final class LineReader: Sendable {
    public let events: AsyncStream<LineEvent>
    let continuation: AsyncStream<LineEvent>.Continuation
    let fd: Int32
    let maximumLineBytes: Int

    public init(fd: Int32, maximumLineBytes: Int) {
        (events, continuation) = AsyncStream.makeStream(of: LineEvent.self, bufferingPolicy: .bufferingNewest(1_024))
        self.fd = fd
        self.maximumLineBytes = maximumLineBytes
    }

    /// Starts the reading thread.
    public func start() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func run() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var line: [UInt8] = []
        var skipping = 0
        var prefix: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            var start = 0
            for i in 0..<n where buffer[i] == UInt8(ascii: "\n") {
                if skipping > 0 {
                    continuation.yield(.oversize(skipping + i - start, prefix: prefix))
                    skipping = 0
                } else {
                    line.append(contentsOf: buffer[start..<i])
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    if !line.isEmpty { continuation.yield(.line(line)) }
                }
                line.removeAll(keepingCapacity: true)
                start = i + 1
            }
            if skipping > 0 {
                skipping += n - start
            } else {
                line.append(contentsOf: buffer[start..<n])
                if line.count > maximumLineBytes {
                    skipping = line.count
                    prefix = Array(line.prefix(512))
                    line = []
                }
            }
        }
        if skipping > 0 { continuation.yield(.oversize(skipping, prefix: prefix)) }
        continuation.yield(.end)
        continuation.finish()
    }
}

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
