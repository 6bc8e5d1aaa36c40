import ArgumentParser
import Foundation
import Logging
import TesseraCore
import ServiceLifecycle
import TesseraGateway
import TesseraServer

/// `tessera gateway stdio -- <upstream command…>`: what an MCP host starts instead of the server.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "Enforce passports on MCP tool calls, in the path.", subcommands: [Stdio.self])

    struct Stdio: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Relay MCP over stdio to an upstream server, evaluating every tools/call first.",
            discussion: """
                Launch this where an MCP host would launch the server, e.g.
                  tessera gateway stdio --passport agent.passport --server http://127.0.0.1:8787 -- uvx mcp-server-git
                stdout carries the protocol; logs go to stderr. Exit 0 when the client closes stdin, 1 when the \
                upstream server exits first (its cause on stderr).
                """)
        @Option(help: "The passport: a file, or the token (default: TESSERA_PASSPORT).") var passport: String?
        @Option(help: "The Tessera server (default: TESSERA_SERVER).") var server: String?
        @Option(help: "The agent's private JWK, for a key-bound passport (default: TESSERA_AGENT_KEY).") var key: String?
        @Option(help: "Log level on stderr.") var logLevel: String = "notice"
        /// Only what follows `--` (`.postTerminator`): `.captureForPassthrough` swallowed the
        /// gateway's own `--help` as an upstream argument, so help failed with "--server required".
        @Argument(parsing: .postTerminator, help: "The upstream server command, after --.") var upstream: [String] = []

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let command = upstream.first == "--" ? Array(upstream.dropFirst()) : upstream
            guard !command.isEmpty else { throw ValidationError("name the upstream MCP server after -- (e.g. -- uvx mcp-server-git)") }
            guard let server = server ?? environment["TESSERA_SERVER"] else { throw ValidationError("--server or TESSERA_SERVER is required") }
            guard let passportSource = passport ?? environment["TESSERA_PASSPORT"] else {
                throw ValidationError("--passport or TESSERA_PASSPORT is required")
            }
            let token = try Self.readToken(passportSource)
            var agentKey: Ed25519KeyPair?
            if let keyPath = key ?? environment["TESSERA_AGENT_KEY"] {
                guard let data = FileManager.default.contents(atPath: keyPath), let jwk = try? StrictJSON.decode(JWK.self, from: data),
                    let pair = try? Ed25519KeyPair(jwk: jwk)
                else { throw ValidationError("--key must be a readable private Ed25519 JWK") }
                agentKey = pair
            }
            let level = Logger.Level(rawValue: logLevel) ?? .notice
            // OpenTelemetry from the standard OTEL_* variables, as for `tessera serve`: a span per
            // tools/call, its context passed to the server's /evaluate and the upstream's `_meta`.
            let telemetry: Telemetry.Setup
            do {
                telemetry = try Telemetry.bootstrap(fileSettings: [:], wantsLogHandler: false, logger: Logger(label: "tessera.otel"))
            } catch {
                throw ValidationError("\(error)")
            }
            LoggingSystem.bootstrap({ label, provider in
                var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            }, metadataProvider: Telemetry.loggingMetadataProvider)
            let exporters = ServiceGroup(configuration: .init(services: telemetry.services, logger: Logger(label: "tessera.otel")))
            let exporting = Task { try? await exporters.run() }
            let gateway: StdioGateway
            do {
                gateway = try StdioGateway(
                    configuration: .init(server: server, passport: token, key: agentKey, upstream: command),
                    logger: Logger(label: "tessera.gateway"))
            } catch {
                throw CLIFailure("cannot start the gateway: \(error)")
            }
            let status = await gateway.run()
            // Flush what the exporters hold (their shutdown exports the last batch).
            if !telemetry.services.isEmpty {
                await exporters.triggerGracefulShutdown()
                _ = await exporting.value
            } else {
                exporting.cancel()
            }
            if status != 0 { throw ExitCode(status) }
        }

        /// A token (three dot-separated segments) or a file holding one.
        static func readToken(_ source: String) throws -> String {
            let trimmed = source.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.split(separator: ".", omittingEmptySubsequences: false).count == 3, !trimmed.contains("/") { return trimmed }
            guard let data = FileManager.default.contents(atPath: source) else { throw ValidationError("cannot read the passport file \(source)") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
