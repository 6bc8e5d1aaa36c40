import ArgumentParser
import Foundation
import TesseraCore

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Identity, authentication and authorization for AI agents.",
        discussion: """
            Results go to standard output (plain, or JSON with --json); context and logs go to \
            standard error. Exit codes: 0 success, 1 failure, 2 usage error.
            """,
        version: TesseraVersion.current,
        subcommands: [
            Serve.self, VersionCommand.self, KeyCommand.self, IAMCommand.self, PassportCommand.self, SessionCommand.self,
            ReceiptsCommand.self, ApprovalCommand.self, GatewayCommand.self, AgentCommand.self, BadgeCommand.self, BenchCommand.self, AATCommand.self,
            MissionCommand.self, OAuthCommand.self,
        ]
    )

    /// ArgumentParser exits 64 (EX_USAGE) on a usage error; Tessera's contract is 2, like most
    /// Unix tools, so the mapping is done here once.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the Tessera version.")

    func run() {
        print(TesseraVersion.current)
    }
}
