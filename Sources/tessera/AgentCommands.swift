import ArgumentParser
import Foundation
import TesseraClient
import TesseraCore

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Register and manage agents.", subcommands: [Register.self, List.self, Show.self, Disable.self])

    static func printAgent(_ agent: TesseraHTTPClient.Agent) {
        for (key, value) in [
            ("id", agent.id), ("name", agent.name), ("did", agent.did), ("workspace", agent.workspace),
            ("domain", agent.domain), ("status", agent.status), ("created", agent.created),
        ] { Output.context("\(key.padding(toLength: 10, withPad: " ", startingAt: 0))\(value)") }
    }

    static func run<T: Sendable>(_ body: () async throws(ClientError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw CLIFailure(error.description)
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an agent's public key; prints the new agent id as the last line of stdout.")
        @OptionGroup var options: ClientOptions
        @Option var name: String
        @Option(help: "The agent's public.jwk (from tessera key gen).") var publicKey: String
        @Option var domain: String?
        @Option var workspace: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: publicKey), let jwk = try? StrictJSON.decode(JWK.self, from: data) else {
                throw CLIFailure("\(publicKey) is not a JWK file")
            }
            let client = try options.client()
            let agent = try await AgentCommand.run { () async throws(ClientError) in
                try await client.registerAgent(name: name, publicJWK: jwk.publicKey, domain: domain, workspace: workspace)
            }
            if options.json { return try Output.json(agent) }
            AgentCommand.printAgent(agent)
            Output.result(agent.id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List agents of a workspace (default: yours).")
        @OptionGroup var options: ClientOptions
        @Option var workspace: String?

        func run() async throws {
            let client = try options.client()
            let agents = try await AgentCommand.run { () async throws(ClientError) in try await client.agents(workspace: workspace) }
            if options.json { return try Output.json(agents) }
            for agent in agents { Output.result([agent.id, agent.name, agent.did, agent.status].joined(separator: "\t")) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one agent.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String

        func run() async throws {
            let client = try options.client()
            let agent = try await AgentCommand.run { () async throws(ClientError) in try await client.agent(id) }
            if options.json { return try Output.json(agent) }
            AgentCommand.printAgent(agent)
            Output.result(agent.did)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an agent: no new badges, existing ones revoked.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String

        func run() async throws {
            let client = try options.client()
            let agent = try await AgentCommand.run { () async throws(ClientError) in try await client.disableAgent(id) }
            if options.json { return try Output.json(agent) }
            Output.context("disabled \(agent.id)")
        }
    }
}
