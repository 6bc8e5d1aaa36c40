import Foundation
import Testing
import TesseraCore
import TesseraTestSupport

@testable import TesseraServer

@Suite("Operator console: files, read routes, live feed")
struct ConsoleTests {
    static var consoleFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("console")
    }

    static func sourceFiles() throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: consoleFolder.path) {
            out[name] = try Data(contentsOf: consoleFolder.appendingPathComponent(name))
        }
        return out
    }

    @Test("the binary serves exactly the files in console/ (run scripts/console/embed.py after editing them)")
    func embeddedMatchesSource() throws {
        let sources = try Self.sourceFiles()
        #expect(Set(ConsoleAssetData.base64.keys) == Set(sources.keys))
        for (name, data) in sources {
            #expect(ConsoleAssets.files[name]?.bytes == [UInt8](data), "\(name) is stale: run python3 scripts/console/embed.py")
        }
    }

    @Test("no inline script, inline style or event-handler attribute in the page; no HTML-string sinks in the scripts")
    func noInlineCodeOrHTMLSinks() throws {
        let sources = try Self.sourceFiles()
        let page = try #require(sources["index.html"].map { String(decoding: $0, as: UTF8.self) })
        // Every <script> loads a file; nothing the CSP would have to allow inline.
        let scripts = page.components(separatedBy: "<script").dropFirst()
        #expect(!scripts.isEmpty)
        for tag in scripts { #expect(tag.prefix(while: { $0 != ">" }).contains("src="), "inline <script>") }
        #expect(!page.contains("<style"), "inline <style>")
        #expect(!page.contains(" style="), "style attribute")
        #expect(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "event-handler attribute")
        for (name, data) in sources where name.hasSuffix(".js") {
            let text = String(decoding: data, as: UTF8.self)
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style"] {
                #expect(!text.contains(sink), "\(name) uses \(sink)")
            }
        }
    }

    @Test("GET /console: the page with a strict CSP, no framing, nosniff; assets revalidate by ETag; unknown files are 404")
    func pageAndHeaders() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let page = try await client.get("/console")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let csp = try #require(page.headers[.contentSecurityPolicy])
            for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
                #expect(csp.contains(directive), "CSP lacks \(directive)")
            }
            #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"))
            #expect(page.headers[.init("X-Frame-Options")!] == "DENY")
            #expect(page.headers[.init("X-Content-Type-Options")!] == "nosniff")
            #expect(page.body.contains("/console/assets/app.js"))

            let script = try await client.get("/console/assets/app.js")
            #expect(script.status == .ok)
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.headers[.contentSecurityPolicy] == csp)
            let etag = try #require(script.headers[.eTag])
            let again = try await client.client.execute(uri: "/console/assets/app.js", method: .get, headers: [.ifNoneMatch: etag]) { $0.status }
            #expect(again == .notModified)
            #expect(try await client.get("/console/assets/nope.js").status == .notFound)
            #expect(try await client.get("/console/assets/..%2Fapp.js").status == .notFound)
        }
    }

    @Test("the read routes need a credential and the capability, and answer only the caller's workspace")
    func readRoutesAreScoped() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            for path in ["/api/v1/console/overview", "/api/v1/console/agents", "/api/v1/console/sessions", "/api/v1/console/decisions"] {
                #expect(try await client.get(path).status == .unauthorized, "\(path) without a credential")
            }
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "beta"]]).status == .ok)
            _ = try await client.createUser(fixture.adminKey, "beta-writer", roles: ["writer"], workspace: "beta")
            _ = try await client.createUser(fixture.adminKey, "nobody", roles: [], workspace: "default")
            let beta = try await client.jwt("beta-writer")
            let nobody = try await client.jwt("nobody")

            // One session in default, with a delegated child.
            let parent = try await client.issue(fixture.adminKey, parentMission(tools: ["read_file"], maxCalls: 10))
            let parentSession = try await client.start(parent)
            #expect(try await client.evaluate(parentSession, "read_file").json["decision"] as? String == "PERMIT")
            let delegated = try await client.post("/delegate", json: [
                "parent_token": parent, "child_agent_id": "child", "child_mission": "sub", "child_allowed_tools": ["read_file"],
                "child_max_tool_calls": 3,
            ])
            #expect(delegated.status == .ok, "\(delegated.body)")
            let childToken = try #require(delegated.json["child_token"] as? String)
            _ = try await client.start(childToken)

            let listed = try await client.get("/api/v1/console/sessions", token: fixture.adminKey)
            #expect(listed.status == .ok)
            let sessions = try #require(listed.json["sessions"] as? [[String: Any]])
            #expect(sessions.count == 2)
            let parentRow = try #require(sessions.first { $0["parent_jti"] == nil })
            let childRow = try #require(sessions.first { $0["parent_jti"] != nil })
            #expect(childRow["parent_jti"] as? String == parentRow["passport_jti"] as? String)
            #expect(parentRow["calls_used"] as? Int == 1 && parentRow["reserved_for_children"] as? Int == 3 && parentRow["max_tool_calls"] as? Int == 10)
            #expect(parentRow["state"] as? String == "active")
            // The session id is the agent's bearer secret: never in the console's listing.
            #expect(!listed.body.contains(parentSession))

            // Another workspace sees none of it; a user without roles reads nothing.
            let betaSessions = try await client.get("/api/v1/console/sessions", token: beta)
            #expect(betaSessions.status == .ok)
            #expect((betaSessions.json["sessions"] as? [Any])?.isEmpty == true)
            #expect(try await client.get("/api/v1/console/sessions", token: nobody).status == .forbidden)
            #expect(try await client.get("/api/v1/console/agents", token: nobody).status == .forbidden)
            let bare = try await client.get("/api/v1/console/overview", token: nobody)
            #expect(bare.status == .ok)
            #expect((bare.json["capabilities"] as? [String]) == [])
            #expect(bare.json["agents"] == nil && bare.json["sessions_active"] == nil && bare.json["decisions_last_hour"] == nil)
            let overview = try await client.get("/api/v1/console/overview", token: fixture.adminKey)
            #expect(overview.json["sessions_active"] as? Int == 2)
            #expect((overview.json["decisions_last_hour"] as? [String: Int])?["PERMIT"] == 1)
            #expect((overview.json["decisions_per_second"] as? [Int])?.count == ConsoleWire.rateWindow)
            let betaOverview = try await client.get("/api/v1/console/overview", token: beta)
            #expect((betaOverview.json["decisions_last_hour"] as? [String: Int])?["PERMIT"] == 0)

            // Revoking the parent marks both sessions.
            let jti = try #require(parentRow["passport_jti"] as? String)
            #expect(try await client.post("/revoke", token: fixture.adminKey, json: ["jti": jti]).status == .ok)
            let after = try #require(try await client.get("/api/v1/console/sessions", token: fixture.adminKey).json["sessions"] as? [[String: Any]])
            #expect(after.allSatisfy { $0["state"] as? String == "revoked" }, "\(after)")
        }
    }

    @Test("agents come with their latest badge, in the caller's workspace only")
    func agentsWithBadges() async throws {
        let fixture = try await IAMFixture.make()
        try await fixture.withClient { client in
            let key = Ed25519KeyPair()
            let id = try await client.registerAgent(fixture.adminKey, key: key, name: "<img src=x onerror=alert(1)>")
            for _ in 0..<2 {
                let badge = try await client.post("/v1/agents/\(id)/badge", token: fixture.adminKey, json: ["mode": "ial0"])
                #expect(badge.status == .ok || badge.status == .created, "\(badge.body)")
            }
            let reply = try await client.get("/api/v1/console/agents", token: fixture.adminKey)
            let agents = try #require(reply.json["agents"] as? [[String: Any]])
            #expect(agents.count == 1)
            // The name comes back exactly as registered: escaping is the page's job (as text, never markup).
            #expect(agents.first?["name"] as? String == "<img src=x onerror=alert(1)>")
            let badge = try #require(agents.first?["last_badge"] as? [String: Any])
            #expect(badge["ial"] as? String == "0" && badge["revoked"] as? Bool == false)
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "beta"]]).status == .ok)
            _ = try await client.createUser(fixture.adminKey, "beta-reader", roles: ["reader"], workspace: "beta")
            let other = try await client.get("/api/v1/console/agents", token: try await client.jwt("beta-reader"))
            #expect((other.json["agents"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("the live feed: a decision arrives as a server-sent event, filtered, and never crosses workspaces")
    func liveFeed() async throws {
        let fixture = try await IAMFixture.make()
        let app = try buildApplication(fixture.environment)
        try await app.test(.live) { raw in
            let client = IAMClient(client: raw)
            let port = try #require(raw.port)
            #expect(try await client.iam(fixture.adminKey, ["operation": "create-workspace", "workspace_record": ["id": "beta"]]).status == .ok)
            _ = try await client.createUser(fixture.adminKey, "beta-writer", roles: ["writer"], workspace: "beta")
            let beta = try await client.jwt("beta-writer")
            #expect(try await client.get("/api/v1/console/decisions?outcome=MAYBE", token: fixture.adminKey).status == .badRequest)

            let denies = try openFeed(port: port, token: fixture.adminKey, query: "?outcome=DENY")
            let betaFeed = try openFeed(port: port, token: beta, query: "")
            defer { close(denies); close(betaFeed) }
            #expect(try await offPool { readUntil(denies, contains: ": connected", limitSeconds: 10) }.contains("text/event-stream"))
            _ = try await offPool { readUntil(betaFeed, contains: ": connected", limitSeconds: 10) }

            let session = try await client.start(try await client.issue(fixture.adminKey, exampleMission))
            _ = try await client.evaluate(session, "read_file", ["path": "/x"])
            _ = try await client.evaluate(session, "<script>alert(1)</script>")
            let betaSession = try await client.start(try await client.issue(beta, exampleMission))
            _ = try await client.evaluate(betaSession, "list_dir", ["path": "/x"])

            let text = try await offPool { readUntil(denies, contains: "event: decisions", limitSeconds: 10) }
            let data = try #require(text.components(separatedBy: "event: decisions\ndata: ").last?.components(separatedBy: "\n\n").first)
            let batch = try JSONDecoder().decode(ConsoleWire.DecisionBatch.self, from: Data(data.utf8))
            #expect(batch.decisions.map(\.tool) == ["<script>alert(1)</script>"])
            #expect(batch.decisions.first?.decision == "DENY" && batch.decisions.first?.agent_id == "agent-1")
            #expect(batch.counts == ["DENY": 1] && batch.dropped == 0)
            #expect(!text.contains(session), "the session id (a bearer secret) is not in the feed")

            let betaText = try await offPool { readUntil(betaFeed, contains: "list_dir", limitSeconds: 10) }
            #expect(betaText.contains("list_dir") && !betaText.contains("read_file") && !betaText.contains("alert"))
        }
    }

    @Test("a console that never reads costs nothing per decision: it finds the newest rows and exact counts when it reads again")
    func deadSubscriberIsFree() {
        let feed = DecisionFeed()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        // Decided before anyone watched: the latest are shown to a new subscriber, as rows only.
        for n in 0..<(DecisionFeed.recentLimit + 10) { feed.publish(workspace: "w", outcome: "DENY", at: now, event: Self.event(n, "DENY")) }
        let id = try! #require(feed.subscribe(workspace: "w", user: "u", filter: .init()).id)
        guard case .batch(let backlog) = feed.drain(id) else { Issue.record("no backlog"); return }
        #expect(backlog.decisions.count == DecisionFeed.recentLimit && backlog.counts.isEmpty && backlog.dropped == 0)
        #expect(backlog.decisions.last?.tool == "tool-\(DecisionFeed.recentLimit + 9)")
        #expect(feed.drain(id) == .nothing)

        // Three logs' worth while neither subscriber reads (a dead browser, or one that stalled).
        let filtered = try! #require(feed.subscribe(workspace: "w", user: "u", filter: .init(passportJTI: "parent", outcome: "PERMIT")).id)
        _ = feed.drain(filtered)
        let total = DecisionFeed.logCapacity * 3
        for n in 0..<total {
            let outcome = n % 2 == 0 ? "PERMIT" : "DENY"
            feed.publish(workspace: "w", outcome: outcome, at: now, event: Self.event(n, outcome))
        }
        guard case .batch(let batch) = feed.drain(id) else { Issue.record("no batch"); return }
        #expect(batch.decisions.map(\.tool) == (total - DecisionFeed.batchLimit..<total).map { "tool-\($0)" }, "the newest rows")
        #expect(batch.decisions.count + batch.dropped == total)
        #expect(batch.counts == ["PERMIT": total / 2, "DENY": total / 2], "counts cover every decision, shown or not")
        // The stream's bytes are the wire type, each decision encoded once for every stream.
        let wire = try! JSONDecoder().decode(ConsoleWire.DecisionBatch.self, from: Data(batch.json()))
        #expect(wire == ConsoleWire.DecisionBatch(decisions: batch.decisions, dropped: batch.dropped, counts: batch.counts))
        #expect(feed.drain(id) == .nothing)

        // A filter on a passport also matches its children (their parent_jti), and on an outcome
        // only that outcome; past the log's capacity the missed ones are counted as dropped.
        guard case .batch(let matched) = feed.drain(filtered) else { Issue.record("no batch"); return }
        #expect(matched.decisions.count == DecisionFeed.batchLimit && matched.decisions.allSatisfy { $0.decision == "PERMIT" })
        #expect(matched.counts == ["PERMIT": DecisionFeed.logCapacity / 2])
        #expect(matched.dropped == DecisionFeed.logCapacity / 2 - DecisionFeed.batchLimit + (total - DecisionFeed.logCapacity))
        #expect(feed.subscribe(workspace: "other", user: "o", filter: .init()).id.map(feed.drain) == .nothing, "another workspace sees no backlog")

        var n = 0
        while feed.subscriberCount < DecisionFeed.subscriberLimit {
            _ = feed.subscribe(workspace: "x\(n % 8)", user: "x\(n)", filter: .init())
            n += 1
        }
        #expect(feed.subscribe(workspace: "y", user: "y", filter: .init()) == .refused(.node), "the node's feed limit holds")
        feed.cancel(id)
        #expect(feed.drain(id) == .closed)
        #expect(feed.subscriberCount == DecisionFeed.subscriberLimit - 1)
    }

    @Test("decision rates: per second over five minutes, per outcome over the last hour, by the decision's own time")
    func rates() {
        let feed = DecisionFeed()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<3 { feed.publish(workspace: "w", outcome: "PERMIT", at: start, event: Self.event(0, "PERMIT")) }
        feed.publish(workspace: "w", outcome: "DENY", at: start.addingTimeInterval(1), event: Self.event(0, "DENY"))
        feed.publish(workspace: "w", outcome: "APPROVAL_REQUIRED", at: start.addingTimeInterval(1), event: Self.event(0, "APPROVAL_REQUIRED"))
        var rates = feed.rates(workspace: "w", now: start.addingTimeInterval(1))
        #expect(rates.perSecond.count == ConsoleWire.rateWindow)
        #expect(Array(rates.perSecond.suffix(2)) == [3, 2])
        #expect(rates.lastHour == ["PERMIT": 3, "DENY": 1, "APPROVAL_REQUIRED": 1])
        rates = feed.rates(workspace: "w", now: start.addingTimeInterval(400))
        #expect(rates.perSecond.allSatisfy { $0 == 0 }, "older than the chart's window")
        #expect(rates.lastHour["PERMIT"] == 3)
        #expect(feed.rates(workspace: "w", now: start.addingTimeInterval(3_700)).lastHour.values.allSatisfy { $0 == 0 })
        #expect(feed.rates(workspace: "other", now: start).lastHour.values.allSatisfy { $0 == 0 })
    }

    static func event(_ n: Int, _ decision: String) -> ConsoleWire.DecisionEvent {
        ConsoleWire.DecisionEvent(
            at_ms: 0, agent_id: "a", passport_jti: "child", parent_jti: "parent", tool: "tool-\(n)",
            result: .init(decision: decision, reason: nil, calls_used: n, calls_remaining: nil))
    }
}

/// Opens `GET /api/v1/console/decisions` on a raw socket (the stream never ends, so no HTTP
/// client that waits for a whole body can read it).
func openFeed(port: Int, token: String, query: String) throws -> Int32 {
    let fd = try connectLoopback(port)
    let request = "GET /api/v1/console/decisions\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n\r\n"
    _ = request.withCString { write(fd, $0, strlen($0)) }
    return fd
}

/// Reads until `marker` has arrived (returns everything read) or `limitSeconds` of silence pass.
func readUntil(_ fd: Int32, contains marker: String, limitSeconds: Int) -> String {
    readUntilAny(fd, [marker], limitSeconds: limitSeconds)
}
