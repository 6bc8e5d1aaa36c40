import Foundation
import Logging
import Synchronization
import TesseraFileSystem

/// NDJSON, one event per line, in a 0600 file in a 0700 folder, rotated by size.
///
/// Each batch is written with `write(2)` calls and made durable with one `fsync`, so a batch of
/// a hundred events costs one disk flush. Rotation renames `audit.ndjson` to `audit.ndjson.1`
/// (and `.1` to `.2`, …, keeping ``AuditSinkSpec/Kind/file(path:maxBytes:keep:)``'s `keep`)
/// before a line would cross `max_bytes`, so no line is ever split across files.
final class FileAuditSink: AuditSink {
    let spec: AuditSinkSpec
    let queue: AuditQueue
    let path: String
    let maxBytes: Int
    let keep: Int
    let logger: Logger
    private let writing = Atomic<Bool>(true)
    var isWriting: Bool { writing.load(ordering: .relaxed) }

    init(spec: AuditSinkSpec, logger: Logger) {
        guard case .file(let path, let maxBytes, let keep) = spec.kind else { preconditionFailure("not a file sink") }
        self.spec = spec
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.logger = logger
        self.queue = AuditQueue(sink: "file", capacity: AuditLog.queueCapacity)
    }

    /// The open file and its size.
    private struct Open {
        var descriptor: Int32
        var size: Int
    }

    func run(until shutdown: AuditShutdown) async {
        var file: Open?
        var failures = 0
        defer { if let file, file.descriptor >= 0 { close(file.descriptor) } }
        while true {
            guard let batch = await queue.nextBatch(1024, until: shutdown) else { return }
            do {
                if file == nil { file = try open() }
                try write(batch, to: &file!)
                queue.remove(batch.count, .written)
                if failures > 0 { logger.notice("audit file writable again", metadata: ["path": "\(path)"]) }
                failures = 0
                writing.store(true, ordering: .relaxed)
                // At most one flush per ``AuditLog/flushInterval``: under load the next batch
                // gathers meanwhile, so the disk sees a few fsyncs a second, not one per event,
                // beside the store's own durable commits.
                if !shutdown.requested { try? await Task.sleep(for: AuditLog.flushInterval) }
            } catch {
                if let open = file, open.descriptor >= 0 { close(open.descriptor) }
                file = nil
                failures += 1
                writing.store(false, ordering: .relaxed)
                if failures == 1 { logger.error("cannot write the audit file", metadata: ["path": "\(path)", "error": "\(error)"]) }
                if shutdown.requested { return }
                // The batch stays queued; new events drop once the queue is full.
                try? await Task.sleep(for: .milliseconds(min(2_000, 100 * failures)))
            }
        }
    }

    private func open() throws -> Open {
        // A folder that does not exist yet is created 0700; an existing one (`/var/log`, say) is
        // the operator's and is left as it is — the file itself is 0600 either way.
        let folder = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: folder) { try PrivateFiles.ensureDirectory(folder) }
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw PrivateFiles.Failure(path: path, operation: "open", code: errno) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(), info.st_nlink == 1 else {
            close(descriptor)
            throw PrivateFiles.Failure(path: path, operation: "not a regular, unlinked-elsewhere file owned by this user", code: EPERM)
        }
        if info.st_mode & 0o777 != 0o600 { fchmod(descriptor, 0o600) }
        return Open(descriptor: descriptor, size: Int(info.st_size))
    }

    private func write(_ batch: [AuditRecord], to file: inout Open) throws {
        var pending: [UInt8] = []
        pending.reserveCapacity(batch.count * 512)
        for record in batch {
            let length = record.json.count + 1
            if file.size + pending.count + length > maxBytes, file.size + pending.count > 0 {
                try flush(&pending, to: &file)
                try rotate(&file)
            }
            pending += record.json
            pending.append(UInt8(ascii: "\n"))
        }
        try flush(&pending, to: &file)
        guard fsync(file.descriptor) == 0 else { throw PrivateFiles.Failure(path: path, operation: "fsync", code: errno) }
    }

    private func flush(_ bytes: inout [UInt8], to file: inout Open) throws {
        do {
            try PrivateFiles.writeAll(bytes, to: file.descriptor, path: path)
        } catch {
            // A partial write (disk full) is cut off again: no torn line, and the retry writes
            // the whole batch once.
            _ = ftruncate(file.descriptor, off_t(file.size))
            throw error
        }
        file.size += bytes.count
        bytes.removeAll(keepingCapacity: true)
    }

    /// `audit.ndjson` → `.1` → `.2` …; the oldest beyond `keep` is removed.
    private func rotate(_ file: inout Open) throws {
        guard fsync(file.descriptor) == 0 else { throw PrivateFiles.Failure(path: path, operation: "fsync", code: errno) }
        close(file.descriptor)
        file.descriptor = -1
        unlink("\(path).\(keep)")
        if keep > 1 {
            for index in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(index)", "\(path).\(index + 1)") }
        }
        guard rename(path, "\(path).1") == 0 else { throw PrivateFiles.Failure(path: path, operation: "rename", code: errno) }
        file = try open()
    }
}
