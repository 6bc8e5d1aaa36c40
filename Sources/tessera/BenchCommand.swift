import Foundation
import ArgumentParser
import Hummingbird
import TesseraCore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measuring aids (used by scripts/load).", subcommands: [Hello.self, Chain.self, Sessions.self])

    /// A bare Hummingbird route in this same binary: the HTTP ceiling that `/health` is compared
    /// against, so the cost of Tessera's middleware is measured, not guessed.
    struct Hello: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hello", abstract: "Serve GET /hello with no middleware (the load test's ceiling).")
        @Option var host = "127.0.0.1"
        @Option var port = 8788

        func run() async throws {
            let router = Router()
            router.get("/hello") { _, _ in "ok" }
            let app = Application(
                router: router, configuration: .init(address: .hostname(host, port: port), serverName: "tessera-hello"),
                onServerRunning: { channel in Output.context("tessera bench hello: listening on http://\(host):\(channel.localAddress?.port ?? port)") })
            try await app.runService()
        }
    }

    /// A signed receipt chain of any length, for measuring `tessera receipts verify` at scale.
    struct Chain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "chain", abstract: "Write a signed receipt chain (NDJSON) and the JWKS that verifies it.")
        @Option(help: "Number of receipts.") var receipts = 10_000
        @Option(help: "Where to write the chain (NDJSON of {\"jwt\":…}).") var out: String
        @Option(help: "Where to write the JWKS.") var jwks: String

        func run() async throws {
            let key = Ed25519KeyPair()
            var jwk = key.publicKey.jwk
            jwk.kid = key.kid
            try Data(try JSONEncoder().encode(JWKSet(keys: [jwk]))).write(to: URL(fileURLWithPath: jwks))
            var state = SessionState(
                id: "ses_bench",
                passport: PassportClaims(
                    mission: Mission(agent_id: "bench", mission: "chain", allowed_tools: ["read"]), issuer: "tessera", workspace: "default",
                    issuedAt: Date().unixSeconds, ttl: 3600),
                startedAt: Date())
            guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else { throw CLIFailure("cannot write \(out)") }
            defer { try? handle.close() }
            var pending = Data()
            for i in 0..<receipts {
                let record = try state.appendReceipt(
                    tool: "read", decision: .permit, arguments: .object(["i": .number(JSONNumber(i))]), issuer: "tessera", now: Date(), key: key)
                pending.append(contentsOf: Array(#"{"jwt":""#.utf8) + Array(record.jwt.utf8) + Array("\"}\n".utf8))
                if pending.count >= 1 << 20 {
                    handle.write(pending)
                    pending.removeAll(keepingCapacity: true)
                }
                if (i + 1) % 100_000 == 0 { Output.context("bench chain: \(i + 1) receipts written…") }
            }
            handle.write(pending)
            Output.result("\(receipts) receipts in \(out)")
        }
    }
}
