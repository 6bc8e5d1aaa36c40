import Foundation
import Testing
import TesseraClient
import TesseraCore
import TesseraTestSupport

/// `tessera badge keep` as a real process against a real server.
@Suite("Badge keeper end to end", .serialized)
struct KeeperEndToEndTests {
    struct Setup {
        let server: ServerProcess
        let state: String
        let admin: String
        let agent: String
        let keys: String
        var url: String { server.baseURL }
    }

    func setup(port: Int? = nil) async throws -> Setup {
        let root = makeTemporaryDirectory()
        let state = root + "/state"
        let server = try ServerProcess(
            stateDirectory: state, extraArguments: port.map { ["--port", String($0)] } ?? [],
            environment: ["TESSERA_BADGE_MIN_TTL_SECONDS": "1"])
        try await server.waitUntilListening()
        let admin = try #require(try await TesseraHTTPClient(baseURL: server.baseURL).bootstrap().bootstrap_admin_api_key)
        let keys = root + "/agent"
        #expect(try runTessera(["key", "gen", "--out-dir", keys]).status == 0)
        let registered = try runTessera(
            ["agent", "register", "--name", "bot", "--public-key", keys + "/public.jwk"],
            environment: ["TESSERA_SERVER": server.baseURL, "TESSERA_TOKEN": admin])
        #expect(registered.status == 0, "\(registered.stderr)")
        let agent = try #require(registered.stdout.split(separator: "\n").last.map(String.init))
        return Setup(server: server, state: state, admin: admin, agent: agent, keys: keys)
    }

    /// A running keeper process.
    final class Keeper: @unchecked Sendable {
        let process = Process()
        let stderr = OutputBuffer()

        init(_ arguments: [String], environment: [String: String] = [:]) throws {
            process.executableURL = URL(fileURLWithPath: try tesseraBinary())
            process.arguments = ["badge", "keep"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            let buffer = stderr
            err.fileHandleForReading.readabilityHandler = { buffer.append($0.availableData) }
            try process.run()
        }

        var renewals: Int { stderr.text.components(separatedBy: "badge renewed").count - 1 }

        func waitFor(_ condition: () -> Bool, timeout: Duration) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if condition() { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return condition()
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    func claims(_ path: String) -> BadgeClaims? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return CompactJWS.unverifiedPayload(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), as: BadgeClaims.self)
    }

    @Test("renews PoP badges, the file is never seen half-written, stays 0600 under umask 022, SIGTERM exits 0")
    func renewals() async throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let s = try await setup()
        let out = s.keys + "/badge.jwt"
        // The API key opens the first challenge (RFC-003: no anonymous challenges); renewals
        // authenticate with the IAL-1 badge in hand.
        let keeper = try Keeper([
            "--agent", s.agent, "--key", s.keys + "/private.jwk", "--server", s.url, "--out", out, "--exp", "6s",
            "--renew-before", "3s", "--check-interval", "1s",
        ], environment: ["TESSERA_API_KEY": s.admin])
        // A reader polls the file throughout: every read must be a complete, parseable badge.
        let torn = SharedMutex(0)
        let reads = SharedMutex(0)
        let reader = Task {
            while !Task.isCancelled {
                if let data = FileManager.default.contents(atPath: out) {
                    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    reads.withLock { $0 += 1 }
                    if CompactJWS.unverifiedPayload(text, as: BadgeClaims.self) == nil || text.split(separator: ".").count != 3 {
                        torn.withLock { $0 += 1 }
                    }
                }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        #expect(try await keeper.waitFor({ keeper.renewals >= 3 }, timeout: .seconds(20)), "\(keeper.stderr.text)")
        reader.cancel()
        #expect(torn.withLock { $0 } == 0)
        // The reader really watched the renewals (how often depends on the machine, not on us).
        #expect(reads.withLock { $0 } > 0)
        #expect(fileMode(out) == 0o600)
        #expect(claims(out)?.ial == "1")
        kill(keeper.process.processIdentifier, SIGTERM)
        // A generous bound: it only stops a hung keeper from hanging the suite. How fast the
        // keeper stops is a figure for benchmarks, not an assertion here.
        #expect(try await keeper.waitFor({ !keeper.process.isRunning }, timeout: .seconds(15)))
        #expect(keeper.process.terminationStatus == 0)
        _ = try await s.server.stop()
    }

    @Test("keeps the valid badge while the server is away, logs the failures, and recovers when it returns")
    func serverAway() async throws {
        let s = try await setup()
        let port = s.server.port
        let out = s.keys + "/badge.jwt"
        let keeper = try Keeper([
            "--agent", s.agent, "--key", s.keys + "/private.jwk", "--server", s.url, "--out", out, "--exp", "8s",
            "--renew-before", "4s", "--check-interval", "1s",
        ], environment: ["TESSERA_API_KEY": s.admin])
        #expect(try await keeper.waitFor({ keeper.renewals >= 1 }, timeout: .seconds(10)))
        let held = try #require(claims(out))
        #expect(try await s.server.stop() == 0)
        #expect(try await keeper.waitFor({ keeper.stderr.text.contains("badge renewal failed") }, timeout: .seconds(15)), "\(keeper.stderr.text)")
        // Still the last good badge, untouched.
        #expect(claims(out)?.jti == held.jti)
        #expect(claims(out)?.ial == "1")
        let before = keeper.renewals
        let back = try ServerProcess(stateDirectory: s.state, extraArguments: ["--port", String(port)], environment: ["TESSERA_BADGE_MIN_TTL_SECONDS": "1"])
        try await back.waitUntilListening()
        // Recovered means IAL-1 again. On a loaded machine the restart can outlast the held badge,
        // and the keeper then rightly bridges with an IAL-0 badge first; its next renewal is PoP.
        #expect(
            try await keeper.waitFor({ keeper.renewals > before && claims(out)?.ial == "1" }, timeout: .seconds(25)),
            "\(keeper.stderr.text)")
        kill(keeper.process.processIdentifier, SIGTERM)
        _ = try await back.stop()
    }

    @Test("falls back to a CA badge when PoP is refused, and logs why at warning level")
    func fallback() async throws {
        let s = try await setup()
        let wrongKeys = makeTemporaryDirectory() + "/wrong"
        #expect(try runTessera(["key", "gen", "--out-dir", wrongKeys]).status == 0)
        let out = s.keys + "/badge.jwt"
        let once = try runTessera(
            ["badge", "keep", "--agent", s.agent, "--key", wrongKeys + "/private.jwk", "--server", s.url, "--out", out, "--exp", "1h", "--once"],
            environment: ["TESSERA_API_KEY": s.admin])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stderr.contains("warning"))
        #expect(once.stderr.contains("falling back to a CA-issued (IAL-0) badge"))
        // The registry's RFC-003 code is in the logged cause: the proof's DID is not the agent's.
        #expect(once.stderr.contains("HTTP 403"))
        #expect(once.stderr.contains("subject_mismatch"))
        #expect(claims(out)?.ial == "0")
        // pop mode refuses instead of falling back.
        let strict = try runTessera(
            ["badge", "keep", "--agent", s.agent, "--key", wrongKeys + "/private.jwk", "--server", s.url, "--out", out, "--mode", "pop", "--once"],
            environment: ["TESSERA_API_KEY": s.admin])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("PoP badge refused"))
        _ = try await s.server.stop()
    }

    @Test("badge health: OK / WARNING / CRITICAL with exit 0 / 1 / 2; verify exits 1 with the error code")
    func healthAndVerify() async throws {
        let s = try await setup()
        let environment = ["TESSERA_SERVER": s.url, "TESSERA_TOKEN": s.admin]
        let issued = try runTessera(["badge", "issue", "--agent", s.agent, "--exp", "10m"], environment: environment)
        #expect(issued.status == 0, "\(issued.stderr)")
        let file = s.keys + "/ca.jwt"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(issued.stdout.utf8)))
        let ok = try runTessera(["badge", "health", file, "--min-remaining", "5m"])
        #expect(ok.status == 0)
        #expect(ok.stdout.hasPrefix("OK:"))
        let warning = try runTessera(["badge", "health", file, "--min-remaining", "1h"])
        #expect(warning.status == 1)
        #expect(warning.stdout.hasPrefix("WARNING:"))
        let critical = try runTessera(["badge", "health", s.keys + "/missing.jwt"])
        #expect(critical.status == 2)
        #expect(critical.stdout.hasPrefix("CRITICAL:"))
        let verified = try runTessera(["badge", "verify", "@" + file, "--server", s.url])
        #expect(verified.status == 0)
        #expect(verified.stdout.hasPrefix("VALID:"))
        let insufficient = try runTessera(["badge", "verify", "@" + file, "--server", s.url, "--min-ial", "1"])
        #expect(insufficient.status == 1)
        #expect(insufficient.stdout.contains("BADGE_IAL_INSUFFICIENT"))
        _ = try await s.server.stop()
    }
}
