import ArgumentParser
import Foundation
import TesseraClient
import TesseraCore

struct IAMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iam",
        abstract: "Users, workspaces, API keys and login, over HTTP to a Tessera server.",
        discussion: "Server: --server or TESSERA_SERVER; credential: --token or TESSERA_TOKEN.",
        subcommands: [
            Bootstrap.self, Login.self, WhoAmI.self, UserCommand.self, WorkspaceCommand.self, APIKeyCommand.self,
        ]
    )

    /// Runs one IAM operation and reports a failure as `HTTP <code>: <type>: <message>`.
    static func call(_ options: ClientOptions, _ request: IAMRequest) async throws -> IAMResponse {
        let client = try options.client()
        let response: IAMResponse
        do {
            response = try await client.iam(request)
        } catch {
            throw CLIFailure(error.description)
        }
        if options.json { try Output.json(response) }
        return response
    }

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the first admin (bootstrap mode, empty store); prints its API key once.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            do {
                let response = try await options.client(requireToken: false).bootstrap()
                if options.json { return try Output.json(response) }
                Output.context("admin user id: \(response.bootstrap_admin_user_id ?? "")")
                Output.context("admin API key (shown once; store it now):")
                Output.result(response.bootstrap_admin_api_key ?? "")
            } catch let error as ClientError {
                throw CLIFailure(error.description)
            }
        }
    }

    struct Login: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Log in; prints a JWT (use it as TESSERA_TOKEN).")
        @OptionGroup var options: ClientOptions
        @Option(help: "Username.") var username: String
        @Option(help: "Password (prompted without echo if omitted).") var password: String?
        @Option(help: "Workspace for this session (default: the user's home).") var workspace: String?

        func run() async throws {
            let secret = try password ?? SecretPrompt.read("Password for \(username): ")
            do {
                let response = try await options.client(requireToken: false).login(
                    username: username, password: secret, workspace: workspace)
                if options.json { return try Output.json(response) }
                Output.context("JWT expires: \(response.jwt_expires ?? "")")
                Output.result(response.jwt ?? "")
            } catch let error as ClientError {
                throw CLIFailure(error.description)
            }
        }
    }

    struct WhoAmI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the caller's user record.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await IAMCommand.call(options, IAMRequest(operation: "whoami"))
            guard !options.json, let user = response.user else { return }
            UserCommand.printUser(user)
        }
    }
}
