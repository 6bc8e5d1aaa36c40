import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import TesseraCore
import TesseraFileSystem

/// Batches of events POSTed to an HTTP receiver, at least once, across restarts.
///
/// Events go first to a spool file in the state directory (appended and fsynced, one flush per
/// batch), then to the receiver in order, `{"events":[…]}` of at most `batch` events. A 2xx moves
/// a cursor (written atomically) past them; anything else is retried with exponential backoff
/// (0.5 s doubling to 30 s). A crash after a delivery and before its cursor moved resends that
/// batch: receivers deduplicate by the event `id`. Once everything is delivered the spool is
/// truncated. The spool is bounded (``spoolLimit``); past it new events are dropped and counted
/// (or, failing closed, permits stop well before).
final class WebhookAuditSink: AuditSink {
    let spec: AuditSinkSpec
    let queue: AuditQueue
    let url: String
    let batchSize: Int
    let authorization: String?
    let directory: String
    let logger: Logger
    private let writing = Atomic<Bool>(true)
    var isWriting: Bool { writing.load(ordering: .relaxed) }

    static let spoolLimit = 256 * 1024 * 1024
    /// Delivered bytes past which the spool is rewritten without them.
    static let compactionThreshold = 16 * 1024 * 1024
    /// Longest wait between two delivery attempts.
    static let maximumBackoff: Duration = .seconds(30)
    /// A receiver's answer is read up to this many bytes (and ignored).
    static let responseLimit = 64 * 1024

    var spoolPath: String { directory + "/spool.ndjson" }
    var cursorPath: String { directory + "/cursor" }

    init(spec: AuditSinkSpec, stateDirectory: String, logger: Logger) throws {
        guard case .webhook(let url, let batch, let variable) = spec.kind else { preconditionFailure("not a webhook sink") }
        self.spec = spec
        self.url = url
        self.batchSize = batch
        self.logger = logger
        self.queue = AuditQueue(sink: "webhook", capacity: AuditLog.queueCapacity)
        if let variable {
            guard let token = ProcessInfo.processInfo.environment[variable], !token.isEmpty else {
                throw ConfigurationError.invalid(name: "audit_sinks", value: "\(spec): token_env=\(variable) but \(variable) is not set")
            }
            self.authorization = "Bearer " + token
        } else {
            self.authorization = nil
        }
        // One folder per sink — receiver URL, workspace filter, token variable and batch — so two
        // sinks (two tenants' filters to one receiver, say) never share a spool; the folder is
        // also locked while a process uses it.
        let identity = [url, spec.workspaces.sorted().joined(separator: ","), variable ?? "", String(batch)].joined(separator: "\n")
        let digest = SHA256.hash(data: Array(identity.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        self.directory = stateDirectory + "/audit/webhook-" + digest
    }

    /// The spool on disk: its open descriptor, its size and the delivered offset.
    struct Spool {
        var descriptor: Int32
        var size: Int
        var cursor: Int
        /// The folder's lock, held while this sink runs.
        var lock: Int32 = -1
    }

    func run(until shutdown: AuditShutdown) async {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: .seconds(10)))
        // Deliveries are not traced: a span per batch would be noise in the traces it reports on.
        configuration.tracing.tracer = nil
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        await deliver(client: client, until: shutdown)
        try? await client.shutdown()
    }

    private func deliver(client: HTTPClient, until shutdown: AuditShutdown) async {
        var spool: Spool
        do {
            spool = try openSpool()
        } catch {
            await stayFailed(after: error, until: shutdown)
            return
        }
        defer {
            if spool.descriptor >= 0 { close(spool.descriptor) }
            if spool.lock >= 0 { close(spool.lock) }
        }
        if spool.cursor < spool.size {
            logger.notice("audit webhook: resuming delivery of spooled events", metadata: ["bytes": "\(spool.size - spool.cursor)"])
        }
        var state = DeliveryState(batchLimit: batchSize)
        while true {
            var worked = false
            // 1. Spool what is queued (local, fast): the events are durable from here on. At most
            // one fsync per ``AuditLog/flushInterval`` (see FileAuditSink).
            let batch = ContinuousClock.now - state.spooledAt >= AuditLog.flushInterval || shutdown.requested ? queue.peek(1024) : []
            if !batch.isEmpty {
                worked = true
                await appendToSpool(batch, spool: &spool, state: &state)
            }
            // 2. Deliver what is spooled, when the backoff allows.
            if spool.cursor < spool.size, ContinuousClock.now >= state.nextAttempt, !(shutdown.requested && !state.lastDelivery) {
                worked = true
                await deliverBatch(spool: &spool, state: &state, client: client)
            }
            if !worked {
                // Nothing queued; nothing deliverable now. Stop when asked once the queue is
                // spooled: what is not delivered yet waits in the spool for the next start.
                if shutdown.requested { return }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// What ``deliver(client:until:)`` carries from one round to the next.
    struct DeliveryState {
        /// Failed delivery attempts in a row.
        var failures = 0
        var nextAttempt = ContinuousClock.now
        var lastDelivery = true
        var spooledAt = ContinuousClock.now - AuditLog.flushInterval
        /// Events per POST: `batch`, or 1 while a refused batch is retried event by event.
        var batchLimit: Int
    }

    /// Without a spool nothing can be delivered at least once: the sink stays failed, dropping
    /// what is queued, until shutdown.
    private func stayFailed(after error: any Error, until shutdown: AuditShutdown) async {
        writing.store(false, ordering: .relaxed)
        logger.critical("cannot open the audit webhook spool", metadata: ["path": "\(spoolPath)", "error": "\(error)"])
        while !shutdown.requested {
            queue.remove(queue.count, .dropped)
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Appends `batch` to the spool (one fsync) and hands it on from the queue; past
    /// ``spoolLimit`` it is dropped instead.
    private func appendToSpool(_ batch: [AuditRecord], spool: inout Spool, state: inout DeliveryState) async {
        var bytes: [UInt8] = []
        for record in batch {
            bytes += record.json
            bytes.append(UInt8(ascii: "\n"))
        }
        if spool.size - spool.cursor + bytes.count > Self.spoolLimit {
            queue.remove(batch.count, .dropped)
            writing.store(false, ordering: .relaxed)
        } else {
            do {
                try append(bytes, to: &spool)
                queue.remove(batch.count, .handedOn)
                state.spooledAt = ContinuousClock.now
            } catch {
                writing.store(false, ordering: .relaxed)
                logger.error("cannot append to the audit webhook spool", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// POSTs the batch at the cursor: a 2xx moves the cursor past it; anything else backs off
    /// (see ``Failure/refusesContent`` for what the receiver refuses outright).
    private func deliverBatch(spool: inout Spool, state: inout DeliveryState, client: HTTPClient) async {
        do {
            let (body, consumed, count) = try readBatch(from: spool, limit: state.batchLimit)
            do {
                try await post(body, client: client)
            } catch let failure as Failure where failure.refusesContent {
                // A batch the receiver refuses is retried one event at a time; a single
                // event it refuses is set aside (counted as dropped, logged by id) so
                // it cannot hold back every later event.
                if count > 1 {
                    state.batchLimit = 1
                    return
                }
                logger.error("audit webhook: the receiver refuses an event; skipped", metadata: ["status": "\(failure.status ?? 0)"])
                spool.cursor += consumed
                try saveCursor(&spool)
                queue.countDropped(1)
                return
            }
            state.batchLimit = batchSize
            spool.cursor += consumed
            try saveCursor(&spool)
            queue.countWritten(count)
            if state.failures > 0 { logger.notice("audit webhook receiver reachable again", metadata: ["sink": "\(spec)"]) }
            state.failures = 0
            state.lastDelivery = true
            writing.store(spool.size - spool.cursor < Self.spoolLimit / 2, ordering: .relaxed)
        } catch {
            state.failures += 1
            state.lastDelivery = false
            writing.store(false, ordering: .relaxed)
            if state.failures == 1 || state.failures % 20 == 0 {
                logger.warning(
                    "audit webhook delivery failed; events stay spooled and are retried",
                    metadata: ["sink": "\(spec)", "attempts": "\(state.failures)", "error": "\(error)"])
            }
            let backoff = min(Self.maximumBackoff, .milliseconds(500) * (1 << min(state.failures - 1, 6)))
            state.nextAttempt = ContinuousClock.now + backoff
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        var status: Int? = nil

        /// A refusal of the content itself (400, 413, 415, 422): retrying the same bytes cannot
        /// succeed. Everything else is retried — a 401, 403 or 404 is a receiver or token
        /// misconfigured, which must not turn into events skipped one by one.
        var refusesContent: Bool { status.map { [400, 413, 415, 422].contains($0) } ?? false }
    }

    private func openSpool() throws -> Spool {
        try PrivateFiles.ensureDirectory(directory)
        // Held while this sink runs: a second process on the same state directory (or a second
        // sink with the same folder) would truncate what this one has not delivered.
        try PrivateFiles.ensureFile(directory + "/lock")
        let lock = open(directory + "/lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            if lock >= 0 { close(lock) }
            throw Failure(description: "the spool \(directory) is in use by another process or sink")
        }
        try PrivateFiles.ensureFile(spoolPath)
        let descriptor = open(spoolPath, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw PrivateFiles.Failure(path: spoolPath, operation: "open", code: errno) }
        var size = Int(lseek(descriptor, 0, SEEK_END))
        // A line cut by a crash mid-append is not an event: cut back to the last newline.
        if size > 0 {
            let content = try readRange(descriptor, from: max(0, size - 1), count: 1)
            if content.last != UInt8(ascii: "\n") {
                let all = try readRange(descriptor, from: 0, count: size)
                size = (all.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
                guard ftruncate(descriptor, off_t(size)) == 0 else { throw PrivateFiles.Failure(path: spoolPath, operation: "truncate", code: errno) }
            }
        }
        var cursor = 0
        if let data = FileManager.default.contents(atPath: cursorPath), let text = String(data: data, encoding: .utf8),
            let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value >= 0
        {
            // Past the end only after the spool was emptied and the cursor not yet reset; a
            // cursor that is not at a line's start (a crash between a compaction and its cursor)
            // starts over: duplicates, never a torn or skipped event.
            cursor = value <= size ? value : 0
            if cursor > 0, try readRange(descriptor, from: cursor - 1, count: 1).first != UInt8(ascii: "\n") { cursor = 0 }
        }
        return Spool(descriptor: descriptor, size: size, cursor: cursor, lock: lock)
    }

    private func append(_ bytes: [UInt8], to spool: inout Spool) throws {
        guard spool.descriptor >= 0 else { throw Failure(description: "the spool is not open") }
        do {
            try PrivateFiles.writeAll(bytes, to: spool.descriptor, path: spoolPath)
            guard fsync(spool.descriptor) == 0 else { throw PrivateFiles.Failure(path: spoolPath, operation: "fsync", code: errno) }
        } catch {
            // A partial append (disk full) is cut off again, so no torn line stays behind.
            _ = ftruncate(spool.descriptor, off_t(spool.size))
            throw error
        }
        spool.size += bytes.count
    }

    private func readRange(_ descriptor: Int32, from offset: Int, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer[done...].withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PrivateFiles.Failure(path: spoolPath, operation: "read", code: errno)
            }
            if n == 0 { break }
            done += n
        }
        return Array(buffer.prefix(done))
    }

    /// Up to `batch` whole lines from the cursor, as `{"events":[…]}`; the bytes they took.
    private func readBatch(from spool: Spool, limit: Int) throws -> ([UInt8], Int, Int) {
        let window = try readRange(spool.descriptor, from: spool.cursor, count: min(spool.size - spool.cursor, 4 * 1024 * 1024))
        var body = Array(#"{"events":["#.utf8)
        var consumed = 0
        var count = 0
        var start = 0
        for index in window.indices where window[index] == UInt8(ascii: "\n") {
            if count > 0 { body.append(UInt8(ascii: ",")) }
            body += window[start..<index]
            count += 1
            start = index + 1
            consumed = start
            if count == limit { break }
        }
        guard count > 0 else { throw Failure(description: "a spooled event is longer than 4 MiB") }
        body += Array("]}".utf8)
        return (body, consumed, count)
    }

    private func post(_ body: [UInt8], client: HTTPClient) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tessera/\(TesseraVersion.current) audit")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try? await response.body.collect(upTo: Self.responseLimit)
        guard (200..<300).contains(response.status.code) else {
            throw Failure(description: "the receiver answered \(response.status.code)", status: Int(response.status.code))
        }
    }

    /// Moves the cursor on disk; once everything is delivered, empties the spool first, and past
    /// ``compactionThreshold`` delivered bytes keeps only what is not delivered yet (a receiver
    /// that is never quite caught up must not grow the file without bound).
    private func saveCursor(_ spool: inout Spool) throws {
        if spool.cursor == spool.size {
            guard ftruncate(spool.descriptor, 0) == 0 else { throw PrivateFiles.Failure(path: spoolPath, operation: "truncate", code: errno) }
            spool.size = 0
            spool.cursor = 0
        } else if spool.cursor >= Self.compactionThreshold {
            let rest = try readRange(spool.descriptor, from: spool.cursor, count: spool.size - spool.cursor)
            // Cursor 0 first, then the compacted file: a crash between the two resends what was
            // delivered (at least once), never skips what was not.
            try PrivateFiles.writeAtomically(Array("0".utf8), to: cursorPath)
            try PrivateFiles.writeAtomically(rest, to: spoolPath)
            close(spool.descriptor)
            spool.descriptor = -1
            let descriptor = open(spoolPath, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
            guard descriptor >= 0 else { throw PrivateFiles.Failure(path: spoolPath, operation: "open", code: errno) }
            spool = Spool(descriptor: descriptor, size: rest.count, cursor: 0, lock: spool.lock)
            return
        }
        try PrivateFiles.writeAtomically(Array(String(spool.cursor).utf8), to: cursorPath)
    }
}
