import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import HTTPTypes
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// The audit stream (docs/audit.md): the sink grammar, what events hold (and never hold), the
/// file sink's modes and rotation, the webhook's spool across a stop, failing closed.
@Suite("Audit stream: sinks, events, delivery")
struct AuditStreamTests {
    // MARK: Grammar

    @Test("every sink kind parses, with its options and defaults")
    func specs() throws {
        let file = try AuditSinkSpec.parse("file:///var/log/t/audit.ndjson?max_bytes=2048&keep=2&workspace=a&workspace=b", setting: "x")
        #expect(file.kind == .file(path: "/var/log/t/audit.ndjson", maxBytes: 2048, keep: 2))
        #expect(file.workspaces == ["a", "b"])
        #expect(file.onFailure == .drop)
        #expect(try AuditSinkSpec.parse("file:///a.ndjson", setting: "x").kind == .file(path: "/a.ndjson", maxBytes: AuditSinkSpec.defaultMaxBytes, keep: 5))
        #expect(try AuditSinkSpec.parse("syslog+tcp://127.0.0.1:514", setting: "x").kind == .syslog(.tcp(host: "127.0.0.1", port: 514)))
        #expect(try AuditSinkSpec.parse("syslog+tls://[::1]:6514?ca=/etc/ca.pem", setting: "x").kind == .syslog(.tls(host: "::1", port: 6514, caFile: "/etc/ca.pem")))
        #expect(try AuditSinkSpec.parse("syslog+unix:///dev/log", setting: "x").kind == .syslog(.unix(path: "/dev/log")))
        let hook = try AuditSinkSpec.parse("webhook+https://siem.example/in?batch=10&token_env=SIEM_TOKEN&on_failure=fail_closed&tenant=7", setting: "x")
        #expect(hook.kind == .webhook(url: "https://siem.example/in?tenant=7", batch: 10, tokenVariable: "SIEM_TOKEN"))
        #expect(hook.onFailure == .failClosed)
        #expect(!hook.description.contains("tenant"), "the summary leaves out the receiver's query")
        #expect(try AuditSinkSpec.parse("otlp", setting: "x").kind == .otlp)
        #expect(try AuditSinkSpec.parse("otlp?workspace=w", setting: "x").workspaces == ["w"])
    }

    @Test("a bad sink is refused with the setting and the reason", arguments: [
        ("ftp://x/y", "unknown sink"), ("file://relative.ndjson", "absolute"), ("file:///a?keep=0", "keep"),
        ("file:///a?max_bytes=10", "max_bytes"), ("file:///a?colour=red", "unknown option colour"),
        ("syslog+tcp://host", "HOST:PORT"), ("webhook+https://u:p@siem.example/", "credentials"),
        ("webhook+https://siem.example/?batch=5000", "batch"), ("file:///a?on_failure=maybe", "on_failure"),
        ("otlp?on_failure=fail_closed", "cannot fail closed"), ("webhook+https://x/?token_env=A-B", "token_env"),
        ("webhook+https://siem.example/in?workspce=acme", "misspelt"), ("webhook+https://siem.example/in?On_Failure=fail_closed", "misspelt"),
        ("webhook+http://siem.example/in?token_env=SIEM", "webhook+https"),
    ])
    func refused(spec: String, why: String) {
        #expect {
            try AuditSinkSpec.parse(spec, setting: "audit_sinks")
        } throws: { error in
            "\(error)".contains("audit_sinks") && "\(error)".contains(why)
        }
    }

    @Test("flags, TESSERA_AUDIT_SINKS and the file's audit_sinks resolve in that order; otel_* file keys are kept, unknown ones refused")
    func configuration() throws {
        let file = try ServerConfiguration.Layer.file(
            Data(#"{"audit_sinks":["file:///f.ndjson"],"otel_service_name":"svc","otel_exporter_otlp_endpoint":"http://c:4318"}"#.utf8), path: "c.json")
        let environment = try ServerConfiguration.Layer.environment(["TESSERA_AUDIT_SINKS": "file:///e.ndjson,otlp"])
        var config = try ServerConfiguration.resolve(flags: .init(), environment: .init(), file: file)
        #expect(config.auditSinks.map(\.kind) == [.file(path: "/f.ndjson", maxBytes: AuditSinkSpec.defaultMaxBytes, keep: 5)])
        #expect(config.otel == ["otel_service_name": "svc", "otel_exporter_otlp_endpoint": "http://c:4318"])
        config = try ServerConfiguration.resolve(flags: .init(), environment: environment, file: file)
        #expect(config.auditSinks.count == 2)
        var flags = ServerConfiguration.Layer()
        flags.auditSinks = ["syslog+tcp://h:1"]
        config = try ServerConfiguration.resolve(flags: flags, environment: environment, file: file)
        #expect(config.auditSinks.map(\.name) == ["syslog"])
        #expect(config.summary.contains { $0.0 == "audit_sinks" && $0.1.contains("syslog+tcp://h:1") })
        #expect(throws: ConfigurationError.unknownKey(path: "c.json", key: "otel_nonsense")) {
            try ServerConfiguration.Layer.file(Data(#"{"otel_nonsense":"1"}"#.utf8), path: "c.json")
        }
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.Layer.file(Data(#"{"otel_service_name":5}"#.utf8), path: "c.json")
        }
    }

    @Test("a refused spec is not echoed: its query may hold a receiver's secret")
    func errorsDoNotEchoTheSpec() {
        #expect {
            try AuditSinkSpec.parse("webhook+https://siem.example/in?apikey=hunter2&batch=0", setting: "audit_sinks")
        } throws: { error in
            !"\(error)".contains("hunter2")
        }
    }

    @Test("a file sink inside the state directory is refused (beside the database and keys)")
    func fileSinkOutsideState() throws {
        let directory = makeTemporaryDirectory()
        #expect(throws: ConfigurationError.self) {
            try AuditLog.make(
                [try AuditSinkSpec.parse("file://\(directory)/audit.ndjson", setting: "t")], stateDirectory: directory, clock: SystemClock(),
                logger: Logger(label: "t"))
        }
        #expect(throws: ConfigurationError.self) {
            try AuditLog.make(
                [try AuditSinkSpec.parse("file://\(directory)/sub/../x/audit.ndjson", setting: "t")], stateDirectory: directory,
                clock: SystemClock(), logger: Logger(label: "t"))
        }
    }

    @Test("two webhook sinks to one receiver with different tenant filters keep separate spools")
    func spoolPerSink() throws {
        let a = try WebhookAuditSink(
            spec: try AuditSinkSpec.parse("webhook+https://siem.example/in?workspace=acme", setting: "t"), stateDirectory: "/s", logger: Logger(label: "t"))
        let b = try WebhookAuditSink(
            spec: try AuditSinkSpec.parse("webhook+https://siem.example/in?workspace=globex", setting: "t"), stateDirectory: "/s", logger: Logger(label: "t"))
        #expect(a.directory != b.directory)
    }

    // MARK: Events

    @Test("what a caller controls is capped in an event: tool, argument names, target, details")
    func bounds() {
        var event = AuditStreamEvent(
            id: "evt_1", time: "t", type: .decision, outcome: "deny", actor: .init(type: "agent", id: "a"),
            target: .init(type: "session", id: String(repeating: "s", count: 2000)))
        event.tool = String(repeating: "t", count: 100_000)
        event.argument_names = (0..<1000).map { String(repeating: "n", count: 300) + "\($0)" }
        AuditLog.bound(&event)
        #expect(event.tool?.utf8.count == 256)
        #expect(event.argument_names?.count == 64 && event.argument_names?.allSatisfy { $0.utf8.count <= 128 } == true)
        #expect(event.target?.id.utf8.count == 512)
        #expect(event.details?["truncated"] == "true")
        var small = AuditStreamEvent(id: "evt_2", time: "t", type: .decision, outcome: "permit", actor: .init(type: "agent", id: "a"))
        small.tool = "read_file"
        AuditLog.bound(&small)
        #expect(small.details == nil && small.tool == "read_file")
    }

    @Test("a reason keeps only its rule; a session is named by a reference, never by its id")
    func redaction() {
        func rule(_ reason: String?) -> String? {
            GovernanceWire.EvaluationResult(decision: "DENY", reason: reason, calls_used: 0, calls_remaining: nil).reasonRule
        }
        #expect(rule("resource_out_of_scope: /etc/shadow is outside resource_scope") == "resource_out_of_scope")
        #expect(rule("tool_not_allowed") == "tool_not_allowed")
        #expect(rule(nil) == nil)
        #expect("a€b".prefix(utf8Bytes: 3) == "a", "never cuts inside a character")
        let reference = AuditLog.sessionRef("ses_secret")
        #expect(reference.hasPrefix("sesref_") && !reference.contains("secret") && reference == AuditLog.sessionRef("ses_secret"))
    }

    @Test("an RFC 5424 message: PRI of facility 13, version 1, MSGID = type, escaped structured data, the event JSON")
    func syslogMessage() throws {
        var event = AuditStreamEvent(
            id: "evt_1", time: "2026-12-03T13:00:00.000Z", type: .loginFailed, outcome: "failure", actor: .init(type: "anonymous", id: "anonymous"),
            workspace: #"w"s]\"#)
        event.node = "n"
        let json = Array(try CompactJWS.encoder.encode(event))
        let message = String(decoding: SyslogAuditSink.message(AuditRecord(event: event, json: json), hostname: "host", pid: 42), as: UTF8.self)
        #expect(message.hasPrefix(#"<108>1 2026-12-03T13:00:00.000Z host tessera 42 login.failed [tessera@32473 id="evt_1" type="login.failed" outcome="failure" workspace="w\"s\]\\"] {"#))
        #expect(message.hasSuffix(String(decoding: json, as: UTF8.self)))
        #expect(event.ocsf.class_uid == 3002 && event.ocsf.status_id == 2 && event.ocsf.type_uid == 300201)
    }

    // MARK: Delivery

    /// Polls `condition` until it holds or `limit` passes (the sinks run on their own tasks).
    static func eventually(_ limit: Duration = .seconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try condition()
    }

    static func lines(_ path: String) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Runs `log` as the server would, for the duration of `body`, then stops it gracefully.
    static func running(_ log: AuditLog, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: [log], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("a governed session's events reach a 0600 file in a 0700 folder: decisions with their receipt, no session id, no argument value")
    func decisionsToFile() async throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "-audit/out/audit.ndjson"
        let audit = try AuditLog.make(
            [try AuditSinkSpec.parse("file://\(path)", setting: "t")], stateDirectory: directory, clock: SystemClock(), logger: Logger(label: "t"))
        let fixture = try await IAMFixture.make(audit: audit)
        try await fixture.withClient { client in
            let token = try await client.issue(fixture.adminKey, exampleMission)
            let session = try await client.start(token)
            let permit = try await client.evaluate(session, "read_file", ["path": "/data/secret-argument-value.txt"])
            let deny = try await client.evaluate(session, "read_file", ["path": "/etc/secret-argument-value"])
            #expect(permit.json["decision"] as? String == "PERMIT")
            #expect(deny.json["decision"] as? String == "DENY")
            let found = await Self.eventually { Self.lines(path).filter { $0["type"] as? String == "decision" }.count == 2 }
            #expect(found)
            let events = Self.lines(path)
            let decisions = events.filter { $0["type"] as? String == "decision" }
            #expect(decisions.map { $0["outcome"] as? String } == ["permit", "deny"])
            #expect(decisions.map { $0["receipt_id"] as? String } == [permit.json["receipt_id"] as? String, deny.json["receipt_id"] as? String])
            #expect(decisions.allSatisfy { ($0["session_ref"] as? String) == AuditLog.sessionRef(session) })
            #expect(decisions.last?["reason"] as? String == "resource_out_of_scope")
            #expect(decisions.first?["argument_names"] as? [String] == ["path"])
            #expect(events.map { $0["type"] as? String }.contains("passport.issued"))
            #expect(events.map { $0["type"] as? String }.contains("session.started"))
            let raw = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            for secret in [session, token, fixture.adminKey, "secret-argument-value"] { #expect(!raw.contains(secret)) }
            #expect(fileMode(path) == 0o600)
            #expect(fileMode(directory + "-audit/out") == 0o700)
        }
    }

    @Test("the file rotates before a line would cross max_bytes: no split line, at most keep files, all 0600")
    func rotation() async throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "-audit/audit.ndjson"
        let log = try AuditLog.make(
            [try AuditSinkSpec.parse("file://\(path)?max_bytes=2048&keep=2", setting: "t")], stateDirectory: directory, clock: SystemClock(),
            logger: Logger(label: "t"))
        try await Self.running(log) {
            for index in 0..<40 {
                log.record(.loginFailed, outcome: "failure", actor: .init(type: "anonymous", id: "anonymous"), target: .init(type: "user", id: "u\(index)"))
            }
            // A deadline, not a bound: fsyncs on a loaded machine can take seconds.
            let done = await Self.eventually(.seconds(60)) { Self.lines(path).contains { ($0["target"] as? [String: Any])?["id"] as? String == "u39" } }
            #expect(done)
        }
        let files = [path + ".2", path + ".1", path]
        #expect(!FileManager.default.fileExists(atPath: path + ".3"))
        var ids: [String] = []
        for file in files {
            let data = try #require(FileManager.default.contents(atPath: file))
            #expect(data.count <= 2048)
            #expect(data.last == UInt8(ascii: "\n"))
            #expect(fileMode(file) == 0o600)
            ids += Self.lines(file).compactMap { ($0["target"] as? [String: Any])?["id"] as? String }
        }
        // The newest events, in order, none missing between the oldest kept and the last.
        let first = try #require(ids.first.flatMap { Int($0.dropFirst()) })
        #expect(ids == (first..<40).map { "u\($0)" })
    }

    /// A loopback HTTP receiver: answers `status` and keeps every body.
    final class Receiver: @unchecked Sendable {
        let bodies = SharedMutex<[String]>([])
        let status = SharedMutex<HTTPResponse.Status>(.ok)

        func events() -> [[String: Any]] {
            bodies.withLock { $0 }.flatMap { body -> [[String: Any]] in
                let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
                return object?["events"] as? [[String: Any]] ?? []
            }
        }
    }

    @Test("webhook: events spooled while the receiver is down survive a stop and arrive after the next start, in order, at least once")
    func webhookSpool() async throws {
        let directory = makeTemporaryDirectory()
        let receiver = Receiver()
        receiver.status.withLock { $0 = .serviceUnavailable }
        let router = Router()
        router.post("/in") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            receiver.bodies.withLock { $0.append(String(buffer: body)) }
            return Response(status: receiver.status.withLock { $0 })
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let url = "webhook+http://127.0.0.1:\(client.port ?? 0)/in?batch=3"
            let first = try AuditLog.make([try AuditSinkSpec.parse(url, setting: "t")], stateDirectory: directory, clock: SystemClock(), logger: Logger(label: "t"))
            try await Self.running(first) {
                for index in 0..<7 {
                    first.record(.passportIssued, outcome: "success", actor: .system, target: .init(type: "passport", id: "p\(index)"))
                }
                let attempted = await Self.eventually { !receiver.bodies.withLock { $0 }.isEmpty }
                #expect(attempted, "the receiver was tried")
                #expect(first.permitsAllowed, "a sink that drops never stops permits")
            }
            #expect(receiver.events().count <= 3, "nothing acknowledged while the receiver answers 503")
            let spool = try FileManager.default.contentsOfDirectory(atPath: directory + "/audit").first { $0.hasPrefix("webhook-") }
            let spooled = Self.lines(directory + "/audit/" + (spool ?? "") + "/spool.ndjson")
            #expect(spooled.count == 7)
            #expect(fileMode(directory + "/audit/" + (spool ?? "") + "/spool.ndjson") == 0o600)

            receiver.status.withLock { $0 = .ok }
            receiver.bodies.withLock { $0 = [] }
            let second = try AuditLog.make([try AuditSinkSpec.parse(url, setting: "t")], stateDirectory: directory, clock: SystemClock(), logger: Logger(label: "t"))
            try await Self.running(second) {
                let delivered = await Self.eventually { receiver.events().count >= 7 }
                #expect(delivered)
            }
            let ids = receiver.events().compactMap { ($0["target"] as? [String: Any])?["id"] as? String }
            #expect(ids == (0..<7).map { "p\($0)" })
            #expect(receiver.bodies.withLock { $0 }.allSatisfy { body in
                ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["events"].flatMap { $0 as? [Any] }.map { $0.count <= 3 } ?? false
            }, "batches of at most batch=3")
            #expect(Self.lines(directory + "/audit/" + (spool ?? "") + "/spool.ndjson").isEmpty, "the spool is emptied once delivered")
        }
    }

    @Test("webhook: an event the receiver refuses (422) is skipped after a one-by-one retry; the others arrive in order")
    func webhookSkipsRefusedEvent() async throws {
        let directory = makeTemporaryDirectory()
        let accepted = SharedMutex<[String]>([])
        let router = Router()
        router.post("/in") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            if body.contains("poison") { return Response(status: .unprocessableContent) }
            let events = ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["events"] as? [[String: Any]] ?? []
            accepted.withLock { $0 += events.compactMap { ($0["target"] as? [String: Any])?["id"] as? String } }
            return Response(status: .ok)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let log = try AuditLog.make(
                [try AuditSinkSpec.parse("webhook+http://127.0.0.1:\(client.port ?? 0)/in?batch=10", setting: "t")], stateDirectory: directory,
                clock: SystemClock(), logger: Logger(label: "t"))
            try await Self.running(log) {
                for id in ["a", "b", "poison", "c", "d"] {
                    log.record(.passportIssued, outcome: "success", actor: .system, target: .init(type: "passport", id: id))
                }
                let done = await Self.eventually { accepted.withLock { $0 }.count >= 4 }
                #expect(done)
            }
            #expect(accepted.withLock { $0 } == ["a", "b", "c", "d"])
        }
    }

    @Test("a sink that fails closed and cannot deliver stops /evaluate with 503 audit_unavailable, spending nothing")
    func failClosed() async throws {
        let directory = makeTemporaryDirectory()
        // A port nobody listens on.
        let closed = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = closed.localAddress?.port ?? 9
        try await closed.close()
        let audit = try AuditLog.make(
            [try AuditSinkSpec.parse("webhook+http://127.0.0.1:\(port)/x?on_failure=fail_closed", setting: "t")], stateDirectory: directory,
            clock: SystemClock(), logger: Logger(label: "t"))
        let fixture = try await IAMFixture.make(audit: audit)
        try await fixture.withClient { client in
            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            let refused = await Self.eventually { !audit.permitsAllowed }
            #expect(refused)
            let reply = try await client.evaluate(session, "read_file", ["path": "/data/a"])
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.json["error"] as? String == "audit_unavailable")
            #expect(reply.headers[.retryAfter] == "1")
            let state = try #require(try await fixture.environment.store.session(id: session))
            #expect(state.callsUsed == 0 && state.receiptCount == 0, "nothing decided, nothing spent")
        }
    }
}

