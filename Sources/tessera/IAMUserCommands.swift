import ArgumentParser
import Foundation
import TesseraClient
import TesseraCore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users.",
        subcommands: [Create.self, List.self, Get.self, Update.self, Disable.self, Enable.self, Delete.self,
                      ResetPassword.self, ChangePassword.self])

    static func printUser(_ user: IAMResponse.User) {
        let rows = [
            ("id", user.id), ("username", user.username), ("name", user.name), ("email", user.email),
            ("workspace", user.default_workspace), ("roles", user.roles.joined(separator: ", ")),
            ("enabled", user.enabled ? "yes" : "no"), ("must_change_password", user.must_change_password ? "yes" : "no"),
            ("created", user.created),
        ]
        for (key, value) in rows { Output.result("\(key.padding(toLength: 21, withPad: " ", startingAt: 0))\(value)") }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user; prints the new id.")
        @OptionGroup var options: ClientOptions
        @Option var username: String
        @Option(help: "Password (prompted without echo if omitted; empty for an API-key-only user).") var password: String?
        @Option var name: String?
        @Option var email: String?
        @Option(parsing: .upToNextOption, help: "Roles: reader, writer, admin, or role@workspace.") var roles: [String] = ["reader"]
        @Option(help: "Home workspace (default: the caller's).") var workspace: String?
        @Flag(help: "Force a password change at first login.") var mustChangePassword = false

        func run() async throws {
            let secret = try password ?? SecretPrompt.read("Password for new user \(username): ")
            var request = IAMRequest(operation: "create-user")
            request.workspace = workspace
            request.user = .init(
                username: username, name: name, email: email, password: secret.isEmpty ? nil : secret, roles: roles,
                must_change_password: mustChangePassword ? true : nil)
            let response = try await IAMCommand.call(options, request)
            if !options.json { Output.result(response.user?.id ?? "") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users (optionally of one workspace).")
        @OptionGroup var options: ClientOptions
        @Option var workspace: String?

        func run() async throws {
            var request = IAMRequest(operation: "list-users")
            request.workspace = workspace
            let response = try await IAMCommand.call(options, request)
            guard !options.json else { return }
            for user in response.users ?? [] {
                Output.result([user.id, user.username, user.default_workspace, user.roles.joined(separator: ","), user.enabled ? "enabled" : "disabled"].joined(separator: "\t"))
            }
        }
    }

    /// Commands that act on one user by id.
    struct Target: ParsableArguments {
        @Option(help: "User id.") var userID: String
        @Option(help: "Expected home workspace (integrity check).") var workspace: String?

        func request(_ operation: String) -> IAMRequest {
            var request = IAMRequest(operation: operation)
            request.user_id = userID
            request.workspace = workspace
            return request
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: Target

        func run() async throws {
            let response = try await IAMCommand.call(options, target.request("get-user"))
            if !options.json, let user = response.user { UserCommand.printUser(user) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's name, email, roles or flags.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: Target
        @Option var name: String?
        @Option var email: String?
        @Option(parsing: .upToNextOption) var roles: [String] = []
        @Option var enabled: Bool?
        @Option var mustChangePassword: Bool?

        func run() async throws {
            var request = target.request("update-user")
            request.user = .init(
                name: name, email: email, roles: roles.isEmpty ? nil : roles, enabled: enabled,
                must_change_password: mustChangePassword)
            guard request.user != IAMRequest.UserInput() else { throw ValidationError("nothing to change") }
            let response = try await IAMCommand.call(options, request)
            if !options.json, let user = response.user { UserCommand.printUser(user) }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user (their credentials stop working).")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: Target

        func run() async throws {
            _ = try await IAMCommand.call(options, target.request("disable-user"))
            Output.context("disabled \(target.userID)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a user.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: Target

        func run() async throws {
            _ = try await IAMCommand.call(options, target.request("enable-user"))
            Output.context("enabled \(target.userID)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user and their API keys.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: Target

        func run() async throws {
            _ = try await IAMCommand.call(options, target.request("delete-user"))
            Output.context("deleted \(target.userID)")
        }
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a temporary password (printed once); forces a change.")
        @OptionGroup var options: ClientOptions
        @OptionGroup var target: Target

        func run() async throws {
            let response = try await IAMCommand.call(options, target.request("reset-password"))
            if !options.json {
                Output.context("temporary password (shown once):")
                Output.result(response.temporary_password ?? "")
            }
        }
    }

    struct ChangePassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change your own password.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Current password (prompted if omitted).") var current: String?
        @Option(help: "New password (prompted if omitted).") var new: String?

        func run() async throws {
            let currentSecret = try current ?? SecretPrompt.read("Current password: ")
            let newSecret = try new ?? SecretPrompt.read("New password: ")
            do {
                try await options.client().changePassword(current: currentSecret, new: newSecret)
            } catch let error as ClientError {
                throw CLIFailure(error.description)
            }
            Output.context("password changed")
        }
    }
}

struct WorkspaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workspace", abstract: "Manage workspaces.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a workspace; prints its id.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Workspace id: a-z 0-9 . _ -") var id: String
        @Option var name: String?

        func run() async throws {
            var request = IAMRequest(operation: "create-workspace")
            request.workspace_record = .init(id: id, name: name, enabled: true)
            let response = try await IAMCommand.call(options, request)
            if !options.json { Output.result(response.workspace?.id ?? "") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List workspaces (--mine: those you can act in).")
        @OptionGroup var options: ClientOptions
        @Flag var mine = false

        func run() async throws {
            let response = try await IAMCommand.call(options, IAMRequest(operation: mine ? "list-my-workspaces" : "list-workspaces"))
            guard !options.json else { return }
            for workspace in response.workspaces ?? [] {
                Output.result([workspace.id, workspace.name, workspace.enabled ? "enabled" : "disabled", workspace.created].joined(separator: "\t"))
            }
        }
    }
}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-key", abstract: "Manage API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key; prints the key once.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Owner (default: yourself).") var userID: String?
        @Option var name: String
        @Option(help: "Expiry, ISO-8601 (e.g. 2027-01-31 or 2027-01-31T12:00:00Z).") var expires: String?

        func run() async throws {
            var request = IAMRequest(operation: "create-api-key")
            request.key = .init(user_id: userID, name: name, expires: expires)
            let response = try await IAMCommand.call(options, request)
            if !options.json {
                Output.context("key id: \(response.api_key?.id ?? "")  prefix: \(response.api_key?.prefix ?? "")")
                Output.context("API key (shown once; store it now):")
                Output.result(response.api_key_plaintext ?? "")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (yours, or --user-id's).")
        @OptionGroup var options: ClientOptions
        @Option var userID: String?

        func run() async throws {
            var request = IAMRequest(operation: "list-api-keys")
            request.user_id = userID
            let response = try await IAMCommand.call(options, request)
            guard !options.json else { return }
            for key in response.api_keys ?? [] {
                Output.result([key.id, key.name, key.prefix, key.created, key.last_used.isEmpty ? "-" : key.last_used, key.expires.isEmpty ? "never" : key.expires].joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key.")
        @OptionGroup var options: ClientOptions
        @Option var keyID: String

        func run() async throws {
            var request = IAMRequest(operation: "revoke-api-key")
            request.key_id = keyID
            _ = try await IAMCommand.call(options, request)
            Output.context("revoked \(keyID)")
        }
    }
}
