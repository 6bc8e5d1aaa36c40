#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Reads newline-delimited messages from a file descriptor (see ``LineEvent``): on its own
/// thread, with blocking `read(2)`, into an `AsyncStream`.
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
