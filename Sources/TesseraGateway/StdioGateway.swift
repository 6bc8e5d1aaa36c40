#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import TesseraClient
import TesseraCore
import Tracing
import Synchronization

/// The MCP stdio gateway: what an MCP host launches instead of the server. It starts the
/// upstream server as a child, relays JSON-RPC both ways, and puts Tessera's evaluation in front of
/// every `tools/call` — the agent cannot skip it, because the agent only ever talks to the gateway.
///
/// - `tools/call`: evaluated first (one `/evaluate` with an idempotency key, so a retry after a
///   transport error cannot spend twice); PERMIT → forwarded; DENY → JSON-RPC error -32001 with
///   `data` = `{decision, reason, violations?, receipt_id}`; APPROVAL_REQUIRED → -32002 with the
///   `approval_id`; Tessera unreachable or the session not started → -32001, nothing forwarded.
/// - `tools/list`: the upstream's answer is filtered to tools the passport can ever permit; the
///   `nextCursor` is passed on untouched, so pagination keeps working. Any tool list from the
///   upstream is filtered, whatever request it claims to answer.
/// - Every message either way is Tessera's own one-line serialisation of what it parsed
///   (``MCPGovernance/wire(_:)``); a client message with a control character is refused.
/// - `notifications/cancelled` for a call still being evaluated: the call is dropped and the
///   cancellation is not forwarded (the upstream never saw the request).
/// - everything else (other requests, notifications, progress, server→client requests such as
///   sampling, elicitation and roots, and their answers) passes through, re-serialised, concurrently.
public final class StdioGateway: Sendable {
    public struct Configuration: Sendable {
        public var server: String
        public var passport: String
        /// The agent key, for a key-bound passport.
        public var key: Ed25519KeyPair?
        public var upstream: [String]
        public var maximumLineBytes = 4 << 20
        public var upstreamExitGrace: Duration = .seconds(5)

        public init(server: String, passport: String, key: Ed25519KeyPair?, upstream: [String]) {
            self.server = server
            self.passport = passport
            self.key = key
            self.upstream = upstream
        }
    }

    public static let upstreamGoneCode = -32603

    enum SessionState {
        case notStarted
        case starting
        case started(String)
        case failed(String)
    }

    struct State {
        var session: SessionState = .notStarted
        var sessionWaiters: [CheckedContinuation<Result<String, GatewayFailure>, Never>] = []
        /// Calls being evaluated (JSON-RPC id, canonical form).
        var evaluating: Set<String> = []
        var cancelled: Set<String> = []
        /// Requests forwarded upstream and not yet answered: id → original id value.
        var forwarded: [String: JSONValue] = [:]
        /// Receipts of forwarded `tools/call`s by request id, named in their answers' `_meta`.
        var receipts: [String: String] = [:]
        var evaluations: [String: Task<Void, Never>] = [:]
    }

    struct GatewayFailure: Error {
        let reason: String
    }

    let configuration: Configuration
    let client: TesseraHTTPClient
    let logger: Logger
    let permitted: Set<String>
    /// When the passport expires: a filtered tool list may not be cached past it.
    let passportExpiry: Int64?
    let state = Mutex(State())
    let toClient: LineWriter
    let clientInput: LineReader

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.client = try TesseraHTTPClient(baseURL: configuration.server, timeout: .seconds(10))
        guard let claims = CompactJWS.unverifiedPayload(configuration.passport, as: PassportClaims.self) else {
            throw GatewayFailure(reason: "the passport is not a readable JWS")
        }
        self.permitted = MCPGovernance.visibleTools(claims)
        self.passportExpiry = claims.exp
        self.toClient = LineWriter(fd: STDOUT_FILENO)
        self.clientInput = LineReader(fd: STDIN_FILENO, maximumLineBytes: configuration.maximumLineBytes)
    }

    /// Runs until the client closes stdin (exit status 0) or the upstream exits (non-zero).
    public func run() async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = configuration.upstream
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            logger.error("cannot start the upstream server", metadata: ["command": "\(configuration.upstream.joined(separator: " "))", "error": "\(error)"])
            return 1
        }
        // Our copies of the child's ends: without closing them, the upstream's death would never
        // reach us as end-of-file.
        try? output.fileHandleForWriting.close()
        try? input.fileHandleForReading.close()
        let toUpstream = LineWriter(fd: input.fileHandleForWriting.fileDescriptor)
        let fromUpstream = LineReader(fd: output.fileHandleForReading.fileDescriptor, maximumLineBytes: configuration.maximumLineBytes)
        fromUpstream.start()
        clientInput.start()

        let upstreamEnded = Task { [self] in await readUpstream(fromUpstream) }
        let clientEnded = Task { [self] in await readClient(forwardingTo: toUpstream) }

        // Whichever side ends first decides how the gateway ends. (Not a task group: it would wait
        // for the other side too, and a client that keeps stdin open would hide an upstream crash.)
        let clientFirst = await Self.clientEndsFirst(clientEnded: clientEnded, upstreamEnded: upstreamEnded)
        var status: Int32 = 0
        if clientFirst {
            await finishAfterClient(process: process, toUpstream: toUpstream, upstreamEnded: upstreamEnded)
        } else {
            await finishAfterUpstream(process: process, toUpstream: toUpstream)
            status = 1
        }
        await endSession()
        return status
    }

    /// Relays the upstream's messages to the client until its stdout ends.
    func readUpstream(_ fromUpstream: LineReader) async {
        for await event in fromUpstream.events {
            switch event {
            case .line(let bytes): relayFromUpstream(bytes)
            case .oversize(let size, let prefix):
                logger.warning("dropped an oversized message from the upstream", metadata: ["bytes": "\(size)"])
                // If it answered a request, the client gets a clear error instead of waiting forever.
                if let id = Self.leadingID(prefix) {
                    let known = state.withLock { state -> Bool in
                        state.receipts.removeValue(forKey: Self.key(id))
                        return state.forwarded.removeValue(forKey: Self.key(id)) != nil
                    }
                    if known { reply(error: Self.upstreamGoneCode, "the upstream's answer exceeded \(configuration.maximumLineBytes) bytes", id: id) }
                }
            case .end: return
            }
        }
    }

    /// Handles the client's messages until it closes stdin.
    func readClient(forwardingTo toUpstream: LineWriter) async {
        for await event in clientInput.events {
            switch event {
            case .line(let bytes): handleFromClient(bytes, upstream: toUpstream)
            case .oversize(let size, let prefix):
                logger.warning("refused an oversized message from the client", metadata: ["bytes": "\(size)"])
                reply(error: -32600, "message larger than \(configuration.maximumLineBytes) bytes", id: Self.leadingID(prefix) ?? .null)
            case .end: return
            }
        }
    }

    /// Whether the client's side ended before the upstream's (true if neither is reported).
    static func clientEndsFirst(clientEnded: Task<Void, Never>, upstreamEnded: Task<Void, Never>) async -> Bool {
        let (ends, endsContinuation) = AsyncStream.makeStream(of: Bool.self)
        Task { await clientEnded.value; endsContinuation.yield(true) }
        Task { await upstreamEnded.value; endsContinuation.yield(false) }
        var firstEnd: Bool?
        for await end in ends {
            firstEnd = end
            break
        }
        return firstEnd ?? true
    }

    /// The client closed stdin first: the upstream finishes what it was sent, then exits (or is
    /// terminated).
    func finishAfterClient(process: Process, toUpstream: LineWriter, upstreamEnded: Task<Void, Never>) async {
        // Let evaluations in flight finish (bounded), then close the upstream's input.
        for task in state.withLock({ Array($0.evaluations.values) }) { _ = await task.value }
        toUpstream.close()
        if await !waitForExit(process, within: configuration.upstreamExitGrace) {
            process.terminate()
            _ = await waitForExit(process, within: .seconds(2))
        }
        await upstreamEnded.value
    }

    /// The upstream exited first: every request forwarded to it is answered with an error.
    func finishAfterUpstream(process: Process, toUpstream: LineWriter) async {
        // The upstream is gone: nothing it was asked will be answered.
        _ = await waitForExit(process, within: .seconds(2))
        let code = process.isRunning ? -1 : process.terminationStatus
        let pending = state.withLock { state in
            defer { state.forwarded.removeAll() }
            return Array(state.forwarded.values)
        }
        for id in pending { reply(error: Self.upstreamGoneCode, "the upstream MCP server exited (status \(code))", id: id) }
        logger.error("the upstream MCP server exited", metadata: ["status": "\(code)", "unanswered": "\(pending.count)"])
        toUpstream.close()
    }

    func waitForExit(_ process: Process, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    // MARK: Client → upstream

    static func key(_ id: JSONValue) -> String { CanonicalJSON.serialize(id) }

    /// The JSON-RPC `id` in the first bytes of a message too large to parse, when it is there
    /// (a number or a short string right after `"id":`).
    static func leadingID(_ prefix: [UInt8]) -> JSONValue? {
        let text = String(decoding: prefix, as: UTF8.self)
        guard let range = text.range(of: "\"id\":") else { return nil }
        var rest = text[range.upperBound...].drop(while: { $0 == " " })
        if rest.first == "\"" {
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: "\""), rest.distance(from: rest.startIndex, to: end) <= 128 else { return nil }
            return .string(String(rest[..<end]))
        }
        let digits = rest.prefix(while: { $0.isNumber || $0 == "-" })
        return JSONNumber(text: String(digits)).map(JSONValue.number)
    }

    func handleFromClient(_ bytes: [UInt8], upstream: LineWriter) {
        // What is forwarded is always Tessera's own serialisation of the message it parsed and
        // judged (`MCPGovernance.wire`), never these bytes: a reader that splits or decodes them
        // differently cannot find a second message inside (round-three finding 1).
        guard !MCPGovernance.hasControlCharacter(bytes) else {
            reply(error: -32700, "parse error: a control character outside a JSON string (one message per line, no bare CR)", id: .null)
            return
        }
        guard case .object(let message)? = try? StrictJSON.parse(bytes) else {
            reply(error: -32700, "parse error: not a JSON object (or a duplicate member name)", id: .null)
            return
        }
        ensureSessionStarting()
        let id = message["id"]
        guard case .string(let method)? = message["method"] else {
            // An answer to a server→client request (sampling, elicitation, roots): pass it on.
            upstream.write(MCPGovernance.wire(.object(message)))
            return
        }
        switch method {
        case "tools/call":
            guard let id, id != .null else {
                logger.warning("dropped a tools/call without an id")
                return
            }
            let key = Self.key(id)
            state.withLock { _ = $0.evaluating.insert(key) }
            let task = Task { [self] in await evaluateAndForward(message: message, id: id, key: key, upstream: upstream) }
            state.withLock { state in
                if state.evaluating.contains(key) { state.evaluations[key] = task }
            }
        case "notifications/cancelled":
            if case .object(let params)? = message["params"], let requestID = params["requestId"] {
                let key = Self.key(requestID)
                let dropped = state.withLock { state -> Bool in
                    guard state.evaluating.contains(key) else { return false }
                    state.cancelled.insert(key)
                    return true
                }
                // The upstream never saw that request: the cancellation stays here.
                if dropped { return }
            }
            upstream.write(MCPGovernance.wire(.object(message)))
        default:
            if let id, id != .null {
                let key = Self.key(id)
                state.withLock { $0.forwarded[key] = id }
            }
            upstream.write(MCPGovernance.wire(.object(message)))
        }
    }

    func evaluateAndForward(message: [String: JSONValue], id: JSONValue, key: String, upstream: LineWriter) async {
        defer {
            state.withLock { state in
                state.evaluating.remove(key)
                state.cancelled.remove(key)
                state.evaluations[key] = nil
            }
        }
        guard case .object(let params)? = message["params"], case .string(let tool)? = params["name"] else {
            reply(error: -32602, "tools/call needs params.name", id: id)
            return
        }
        var arguments: [String: JSONValue] = [:]
        if let value = params["arguments"], value != .null {
            guard case .object(let object) = value else {
                reply(error: -32602, "tools/call params.arguments must be an object", id: id)
                return
            }
            arguments = object
        }
        // The call's span (a no-op unless `tessera gateway` was started with OpenTelemetry on):
        // the MCP server side of the host's call, its parent the trace context in `_meta`.
        var parent = ServiceContext.current ?? .topLevel
        let meta = MCPSpanAttributes.metaTraceContext(params)
        if !meta.isEmpty { InstrumentationSystem.instrument.extract(meta, into: &parent, using: MetaExtractor()) }
        let span = startSpan(MCPSpanAttributes.name(tool: tool), context: parent, ofKind: .server)
        defer { span.end() }
        for (key, value) in MCPSpanAttributes.call(tool: tool, id: id, protocolVersion: nil, transport: "pipe") { span.attributes[key] = value }
        await ServiceContext.$current.withValue(span.context) {
            await evaluateAndForward(message: message, tool: tool, arguments: arguments, id: id, key: key, upstream: upstream, span: span)
        }
    }

    struct MetaExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    struct MetaInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    func evaluateAndForward(
        message: [String: JSONValue], tool: String, arguments: [String: JSONValue], id: JSONValue, key: String, upstream: LineWriter, span: any Span
    ) async {
        let decision: GovernanceWire.EvaluationResult
        switch await session() {
        case .failure(let failure):
            failClosed(id, reason: "governance_unavailable: \(failure.reason)")
            return
        case .success(let sessionID):
            let requestID = "mcp-" + UUID().uuidString.lowercased()
            var result: Result<GovernanceWire.EvaluationResult, ClientError>
            do {
                result = .success(try await client.evaluate(sessionID: sessionID, tool: tool, arguments: arguments, requestID: requestID))
            } catch {
                result = .failure(error)
            }
            // One retry with the same key after a transport failure: the answer, not a second spend.
            if case .failure(.transport) = result {
                do {
                    result = .success(try await client.evaluate(sessionID: sessionID, tool: tool, arguments: arguments, requestID: requestID))
                } catch {
                    result = .failure(error)
                }
            }
            switch result {
            case .success(let value): decision = value
            case .failure(let error):
                failClosed(id, reason: "governance_unavailable: \(error.governanceCode ?? error.description)")
                return
            }
        }
        let cancelled = state.withLock { $0.cancelled.contains(key) }
        if cancelled {
            logger.info("call cancelled during evaluation; not forwarded", metadata: ["tool": "\(tool)"])
            return
        }
        for (name, value) in MCPSpanAttributes.decision(decision) { span.attributes[name] = value }
        if let refusal = MCPGovernance.refusal(decision, id: id) {
            send(refusal)
            return
        }
        state.withLock { state in
            state.forwarded[key] = id
            if let receipt = decision.receipt_id { state.receipts[key] = receipt }
        }
        // Exactly the message evaluated: same tool, same arguments, one line (with tracing on,
        // `params._meta` carries this call's trace context to the upstream server).
        var forwarded = message
        if span.isRecording, case .object(var params)? = message["params"] {
            var context: [String: String] = [:]
            InstrumentationSystem.instrument.inject(span.context, into: &context, using: MetaInjector())
            if !context.isEmpty {
                var meta: [String: JSONValue] = if case .object(let existing)? = params["_meta"] { existing } else { [:] }
                for (name, value) in context { meta[name] = .string(value) }
                params["_meta"] = .object(meta)
                forwarded["params"] = .object(params)
            }
        }
        if !upstream.write(MCPGovernance.wire(.object(forwarded))) {
            state.withLock { state in
                state.forwarded.removeValue(forKey: key)
                state.receipts.removeValue(forKey: key)
            }
            reply(error: Self.upstreamGoneCode, "the upstream MCP server is not accepting input", id: id)
        }
    }

    func failClosed(_ id: JSONValue, reason: String) {
        send(MCPGovernance.failClosed(reason: reason, id: id))
    }

    func reply(error code: Int, _ message: String, id: JSONValue, data: JSONValue? = nil) {
        send(MCPGovernance.errorResponse(code: code, message: message, id: id, data: data))
    }

    func send(_ message: JSONValue) {
        toClient.write(MCPGovernance.wire(message))
    }

    // MARK: Upstream → client

    func relayFromUpstream(_ bytes: [UInt8]) {
        guard case .object(let message)? = try? StrictJSON.parse(bytes) else {
            logger.warning("dropped a message from the upstream that is not a JSON object", metadata: ["bytes": "\(bytes.count)"])
            return
        }
        var receipt: (id: JSONValue, receiptID: String)?
        if message["method"] == nil, let id = message["id"] {
            let key = Self.key(id)
            let known = state.withLock { state -> String? in
                state.forwarded.removeValue(forKey: key)
                return state.receipts.removeValue(forKey: key)
            }
            receipt = known.map { (id, $0) }
        }
        // Re-serialised, and any tool list in it filtered whatever request it claims to answer:
        // an answer the gateway cannot correlate must not carry an unfiltered list past it.
        let ttlMs = passportExpiry.map { Int(max(0, $0 - Date().unixSeconds)) * 1000 }
        var out = MCPGovernance.filteringAnyToolList(message, visible: permitted, ttlMs: ttlMs)
        if let receipt { out = MCPGovernance.annotatingReceipt(out, id: receipt.id, receipt: receipt.receiptID) }
        send(.object(out))
    }

    // MARK: The governance session

    func ensureSessionStarting() {
        let start = state.withLock { state -> Bool in
            guard case .notStarted = state.session else { return false }
            state.session = .starting
            return true
        }
        guard start else { return }
        Task { [self] in
            let outcome: Result<String, GatewayFailure>
            do {
                let started = try await client.startSession(passport: configuration.passport, key: configuration.key)
                logger.notice("governance session started", metadata: ["session": "\(started.session_id.prefix(12))…", "calls_remaining": "\(started.calls_remaining.map(String.init) ?? "unlimited")"])
                outcome = .success(started.session_id)
            } catch {
                logger.error("cannot start the governance session: every tools/call will be refused", metadata: ["error": "\(error)"])
                let reason = (error as? ClientError).map { $0.governanceCode ?? $0.description } ?? "\(error)"
                outcome = .failure(GatewayFailure(reason: reason))
            }
            let waiters = state.withLock { state in
                switch outcome {
                case .success(let id): state.session = .started(id)
                case .failure(let failure): state.session = .failed(failure.reason)
                }
                defer { state.sessionWaiters.removeAll() }
                return state.sessionWaiters
            }
            for waiter in waiters { waiter.resume(returning: outcome) }
        }
    }

    func session() async -> Result<String, GatewayFailure> {
        await withCheckedContinuation { continuation in
            let ready: Result<String, GatewayFailure>? = state.withLock { state in
                switch state.session {
                case .started(let id): return .success(id)
                case .failed(let reason): return .failure(GatewayFailure(reason: reason))
                case .notStarted, .starting:
                    state.sessionWaiters.append(continuation)
                    return nil
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func endSession() async {
        guard case .started(let id) = state.withLock({ $0.session }) else { return }
        do {
            let ended = try await client.endSession(id)
            logger.notice(
                "governance session ended",
                metadata: ["permits": "\(ended.summary.permits)", "denies": "\(ended.summary.denies)", "receipts": "\(ended.receipts_count)"])
        } catch {
            logger.warning("could not end the governance session", metadata: ["error": "\(error)"])
        }
    }
}
