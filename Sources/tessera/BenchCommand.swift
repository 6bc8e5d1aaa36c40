import ArgumentParser
import Hummingbird

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measuring aids (used by scripts/load).", subcommands: [Hello.self])

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
}
